package connection

import (
	"strings"
	"testing"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/protocol"
)

func TestClientEvents(t *testing.T) {
	const (
		private  = "private-chat.1"
		presence = "presence-room"
	)
	type outcome struct {
		relayed string // frame the other subscriber gets; empty: nothing
		code    int    // pusher:error code the sender gets; 0: none
	}
	tests := []struct {
		name      string
		policy    apps.ClientEvents
		subscribe bool // the sender is subscribed to the channel
		channel   string
		frame     string
		want      outcome
	}{
		{"private", "", true, private, `{"event":"client-typing","data":{"a":1},"channel":"private-chat.1"}`,
			outcome{relayed: `{"event":"client-typing","channel":"private-chat.1","data":{"a":1}}`}},
		{"presence adds user_id", "", true, presence, `{"event":"client-typing","data":{"a":1},"channel":"presence-room"}`,
			outcome{relayed: `{"event":"client-typing","channel":"presence-room","data":{"a":1},"user_id":"u1"}`}},
		{"spoofed user_id replaced", "", true, presence, `{"event":"client-typing","data":"x","channel":"presence-room","user_id":"admin"}`,
			outcome{relayed: `{"event":"client-typing","channel":"presence-room","data":"x","user_id":"u1"}`}},
		{"spoofed user_id dropped on private", "", true, private, `{"event":"client-typing","data":1,"channel":"private-chat.1","user_id":"admin"}`,
			outcome{relayed: `{"event":"client-typing","channel":"private-chat.1","data":1}`}},
		{"string data relayed as sent", "", true, private, `{"event":"client-x","data":"{\"a\":1}","channel":"private-chat.1"}`,
			outcome{relayed: `{"event":"client-x","channel":"private-chat.1","data":"{\"a\":1}"}`}},
		{"no data", "", true, private, `{"event":"client-x","channel":"private-chat.1"}`,
			outcome{relayed: `{"event":"client-x","channel":"private-chat.1"}`}},
		{"members policy refuses non-members", apps.ClientEventsMembers, false, private, `{"event":"client-x","data":{},"channel":"private-chat.1"}`,
			outcome{code: protocol.CodeUnauthorized}},
		{"all policy accepts non-members", apps.ClientEventsAll, false, private, `{"event":"client-x","data":{},"channel":"private-chat.1"}`,
			outcome{relayed: `{"event":"client-x","channel":"private-chat.1","data":{}}`}},
		{"off policy", apps.ClientEventsOff, true, private, `{"event":"client-x","data":{},"channel":"private-chat.1"}`,
			outcome{code: protocol.CodeClientEventRejected}},
		{"public channel refused", apps.ClientEventsAll, true, "my-channel", `{"event":"client-x","data":{},"channel":"my-channel"}`,
			outcome{code: protocol.CodeClientEventRejected}},
		{"encrypted channel refused", apps.ClientEventsAll, true, "private-encrypted-x", `{"event":"client-x","data":{},"channel":"private-encrypted-x"}`,
			outcome{code: protocol.CodeClientEventRejected}},
		{"user channel refused", apps.ClientEventsAll, false, "#server-to-user-u1", `{"event":"client-x","data":{},"channel":"#server-to-user-u1"}`,
			outcome{code: protocol.CodeClientEventRejected}},
		{"no channel", apps.ClientEventsAll, false, "", `{"event":"client-x","data":{}}`,
			outcome{code: protocol.CodeClientEventRejected}},
		{"data at max_event_size", "", true, private, `{"event":"client-x","data":"` + strings.Repeat("x", 98) + `","channel":"private-chat.1"}`,
			outcome{relayed: `{"event":"client-x","channel":"private-chat.1","data":"` + strings.Repeat("x", 98) + `"}`}},
		{"data over max_event_size", "", true, private, `{"event":"client-x","data":"` + strings.Repeat("x", 99) + `","channel":"private-chat.1"}`,
			outcome{code: protocol.CodeClientEventRejected}},
		{"name too long", "", true, private, `{"event":"client-` + strings.Repeat("x", 194) + `","data":{},"channel":"private-chat.1"}`,
			outcome{code: protocol.CodeClientEventRejected}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(a *apps.App, _ *Options) { a.ClientEvents, a.MaxEventSize = tt.policy, 100 })
			sender, senderT := h.connect(t)
			other, otherT := h.connect(t)
			for _, c := range []*Conn{sender, other} {
				if c == sender && !tt.subscribe {
					continue
				}
				switch tt.channel {
				case presence:
					id := "u1"
					if c == other {
						id = "u2"
					}
					subscribe(t, c, presence, member(id, id))
				case "#server-to-user-u1", "":
				default:
					subscribe(t, c, tt.channel, "")
				}
			}
			senderT.take()
			otherT.take()

			sender.Receive([]byte(tt.frame))
			if tt.want.code != 0 {
				expectError(t, senderT, tt.want.code, tt.channel)
				expect(t, otherT)
				notClosed(t, sender, senderT)
				return
			}
			expect(t, senderT) // never echoed to the sender
			expect(t, otherT, tt.want.relayed)
		})
	}
}

func TestClientEventRateLimit(t *testing.T) {
	h := newHarness(t, func(a *apps.App, _ *Options) { a.ClientEventRate = 3 })
	sender, senderT := h.connect(t)
	other, otherT := h.connect(t)
	subscribe(t, sender, "private-a", "")
	subscribe(t, other, "private-a", "")
	senderT.take()
	otherT.take()
	// The burst is the rate: three pass at once, the fourth (sent within
	// the same instant, far less than a third of a second later) is refused.
	for range 4 {
		send(t, sender, "client-x", "private-a", map[string]any{})
	}
	if got := len(otherT.take()); got != 3 {
		t.Fatalf("%d events relayed, want 3", got)
	}
	d := expectError(t, senderT, protocol.CodeClientEventRejected, "private-a")
	if d.Message != protocol.ErrRateLimited.Message {
		t.Fatalf("error message %q", d.Message)
	}
	notClosed(t, sender, senderT)
}
