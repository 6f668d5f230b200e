package e2e

import (
	"testing"
	"time"

	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/internal/jsdriver"
	"github.com/quaver-dev/quaver/internal/testserver"
	"github.com/quaver-dev/quaver/protocol"
)

// whisperReport matches an Echo listenForWhisper() callback.
func whisperReport(client, channel, event string) func(jsdriver.Report) bool {
	return func(r jsdriver.Report) bool {
		return r.Type == "whisper" && r.Client == client && r.Channel == channel && r.Event == event
	}
}

// got matches any report of client carrying the event name.
func got(client, event string) func(jsdriver.Report) bool {
	return func(r jsdriver.Report) bool { return r.Client == client && r.Event == event && r.Type != "reply" }
}

func TestWhisperOnPrivateChannel(t *testing.T) {
	t.Parallel()
	for _, lib := range echoLibs {
		t.Run(lib, func(t *testing.T) {
			t.Parallel()
			h := start(t)
			const ch = "private-chat.2"
			for _, name := range []string{"ann", "ben"} {
				h.connect(name, lib, nil)
				h.d.Call("echoListenForWhisper", args{"client": name, "kind": "private", "channel": "chat.2", "event": "typing"})
				h.d.Wait(name+" subscribed", jsdriver.Typed("subscribed", name, ch))
			}
			h.connect("js", "pusher-js", nil)
			h.subscribe("js", ch)

			h.d.Call("echoWhisper", args{"client": "ann", "kind": "private", "channel": "chat.2", "event": "typing", "data": args{"who": "ann"}})
			r := h.d.Wait("ben hears ann", whisperReport("ben", ch, "typing"))
			if !contains(r.Data, `"who":"ann"`) {
				t.Errorf("whisper data %s", r.Data)
			}
			h.d.Wait("pusher-js gets client-typing", jsdriver.Event("js", ch, "client-typing"))
			// pusher-js answers with a client event of its own.
			h.d.Call("trigger", args{"client": "js", "channel": ch, "event": "client-typing", "data": args{"who": "js"}})
			h.d.Wait("ann hears js", jsdriver.And(whisperReport("ann", ch, "typing"), jsdriver.DataContains(`"js"`)))
			h.d.Wait("ben hears js", jsdriver.And(whisperReport("ben", ch, "typing"), jsdriver.DataContains(`"js"`)))
			// Nobody hears their own whisper.
			h.d.Never("a sender gets its own client event", 300*time.Millisecond, func(r jsdriver.Report) bool {
				return r.Event == "client-typing" && (r.Client == "ann" && contains(r.Data, `"ann"`) || r.Client == "js" && contains(r.Data, `"js"`)) ||
					r.Type == "whisper" && (r.Client == "ann" && contains(r.Data, `"ann"`))
			})
		})
	}
}

func TestWhisperOnPresenceChannelCarriesUserID(t *testing.T) {
	t.Parallel()
	h := start(t)
	const ch = "presence-room.2"
	h.connect("ann", "echo-reverb", args{"channelData": member("u-ann", "Ann")})
	h.connect("ben", "echo-pusher", args{"channelData": member("u-ben", "Ben")})
	h.connect("js", "pusher-js", args{"channelData": member("u-js", "Js")})
	h.d.Call("echoListenForWhisper", args{"client": "ben", "kind": "join", "channel": "room.2", "event": "typing"})
	h.d.Wait("ben subscribed", jsdriver.Typed("subscribed", "ben", ch))
	h.echoSubscribe("ann", "join", "room.2")
	h.subscribe("js", ch)
	h.d.Call("bind", args{"client": "js", "channel": ch, "event": "client-typing"})

	h.d.Call("echoWhisper", args{"client": "ann", "kind": "join", "channel": "room.2", "event": "typing", "data": args{"who": "ann"}})
	r := h.d.Wait("ben hears ann", whisperReport("ben", ch, "typing"))
	if !contains(r.Metadata, `"user_id":"u-ann"`) {
		t.Errorf("Echo whisper metadata %s, want user_id u-ann", r.Metadata)
	}
	r = h.d.Wait("js gets client-typing with metadata", jsdriver.Typed("bound", "js", ch))
	if !contains(r.Metadata, `"user_id":"u-ann"`) {
		t.Errorf("pusher-js metadata %s, want user_id u-ann", r.Metadata)
	}

	// A raw client cannot pose as someone else: the server rebuilds the
	// frame with the user_id it authorized.
	raw := h.raw(testserver.AppKey, testserver.AppSecret, nil)
	subscribeRaw(t, raw, ch, `{"user_id":"u-raw","user_info":{"name":"Raw"}}`)
	if err := raw.SendRaw([]byte(`{"event":"client-typing","channel":"presence-room.2","data":{"who":"raw"},"user_id":"u-ann"}`)); err != nil {
		t.Fatal(err)
	}
	r = h.d.Wait("ben hears raw", jsdriver.And(whisperReport("ben", ch, "typing"), jsdriver.DataContains(`"raw"`)))
	if !contains(r.Metadata, `"user_id":"u-raw"`) {
		t.Errorf("spoofed whisper metadata %s, want the real user_id u-raw", r.Metadata)
	}
	h.d.Never("ann hears her own whisper", 200*time.Millisecond, func(r jsdriver.Report) bool {
		return r.Client == "ann" && r.Event == "client-typing" && contains(r.Data, `"ann"`)
	})
}

func TestClientEventsRefusedOnPublicChannel(t *testing.T) {
	t.Parallel()
	h := start(t)
	h.connect("sender", "pusher-js", nil)
	h.connect("other", "pusher-js", nil)
	h.subscribe("sender", "lobby")
	h.subscribe("other", "lobby")
	mark := h.d.Mark()
	h.d.Call("trigger", args{"client": "sender", "channel": "lobby", "event": "client-hello", "data": args{}})
	h.d.WaitAfter(mark, "sender gets 4301", jsdriver.ErrorCode("sender", protocol.CodeClientEventRejected))
	h.d.NeverAfter(mark, "the client event is relayed, or the sender is dropped", 300*time.Millisecond, func(r jsdriver.Report) bool {
		return got("other", "client-hello")(r) || r.Client == "sender" && r.Type == "state"
	})
}

func TestClientEventPolicy(t *testing.T) {
	t.Parallel()
	h := start(t,
		withApp("ce-off", "ce-off-key", func(a *config.App) { a.ClientEvents = "off" }),
		withApp("ce-all", "ce-all-key", func(a *config.App) { a.ClientEvents = "all" }))
	const ch = "private-policy"
	// For each app: a subscribed sender, a subscribed receiver, and an
	// outsider who sends to the channel without subscribing.
	for _, app := range []string{"test-app", "ce-off", "ce-all"} {
		key, secret := app+"-key", app+"-secret"
		if app == "test-app" {
			key, secret = testserver.AppKey, testserver.AppSecret
		}
		h.sdk(app, app, key, secret)
		for _, role := range []string{"sender", "receiver", "outsider"} {
			h.connect(app+"/"+role, "pusher-js", args{"key": key, "sdk": app})
		}
		h.subscribe(app+"/sender", ch)
		h.subscribe(app+"/receiver", ch)
	}
	mark := h.d.Mark()
	for _, app := range []string{"test-app", "ce-off", "ce-all"} {
		h.d.Call("trigger", args{"client": app + "/sender", "channel": ch, "event": "client-member", "data": args{"app": app}})
		h.d.Call("sendEvent", args{"client": app + "/outsider", "channel": ch, "event": "client-outsider", "data": args{"app": app}})
	}
	// members (the default): members may send, outsiders are told 4009.
	h.d.WaitAfter(mark, "members: member's event", got("test-app/receiver", "client-member"))
	h.d.WaitAfter(mark, "members: outsider refused", jsdriver.ErrorCode("test-app/outsider", protocol.CodeUnauthorized))
	// off: nobody may send; 4301.
	h.d.WaitAfter(mark, "off: member refused", jsdriver.ErrorCode("ce-off/sender", protocol.CodeClientEventRejected))
	h.d.WaitAfter(mark, "off: outsider refused", jsdriver.ErrorCode("ce-off/outsider", protocol.CodeClientEventRejected))
	// all: anyone with a connection may send to the channel.
	h.d.WaitAfter(mark, "all: member's event", got("ce-all/receiver", "client-member"))
	h.d.WaitAfter(mark, "all: outsider's event", got("ce-all/receiver", "client-outsider"))

	h.d.NeverAfter(mark, "a refused client event is relayed", 300*time.Millisecond, func(r jsdriver.Report) bool {
		return got("test-app/receiver", "client-outsider")(r) || got("ce-off/receiver", "client-member")(r) ||
			got("ce-off/receiver", "client-outsider")(r)
	})
	h.d.NeverAfter(mark, "a refusal disconnects someone", 0, func(r jsdriver.Report) bool { return r.Type == "state" })
}

func TestClientEventRateLimit(t *testing.T) {
	t.Parallel()
	h := start(t)
	const ch = "private-rate"
	h.connect("flooder", "echo-reverb", nil)
	h.connect("receiver", "pusher-js", nil)
	h.echoSubscribe("flooder", "private", "rate")
	h.subscribe("receiver", ch)
	mark := h.d.Mark()
	// 40 whispers at once; the default limit is 10 per second with a burst
	// of 10.
	h.d.Call("echoWhisper", args{"client": "flooder", "kind": "private", "channel": "rate", "event": "spam", "data": args{}, "times": 40})
	h.d.WaitN(25, "flooder told 4301 for the excess", jsdriver.ErrorCode("flooder", protocol.CodeClientEventRejected))
	h.d.WaitN(10, "receiver gets the first 10", jsdriver.Event("receiver", ch, "client-spam"))
	h.d.NeverAfter(mark, "the flooder is disconnected", 300*time.Millisecond, jsdriver.Typed("state", "flooder", ""))
	received := h.d.Count(jsdriver.Event("receiver", ch, "client-spam"))
	if received < 10 || received > 14 {
		t.Errorf("receiver got %d of 40 flooded events, want about 10", received)
	}
	// The limit refills: after a second the flooder may whisper again.
	eventually(t, "the limit refills", func() bool {
		m := h.d.Mark()
		h.d.Call("echoWhisper", args{"client": "flooder", "kind": "private", "channel": "rate", "event": "later", "data": args{}})
		h.d.WaitAfter(m, "whisper answered", func(r jsdriver.Report) bool {
			return got("receiver", "client-later")(r) || jsdriver.ErrorCode("flooder", protocol.CodeClientEventRejected)(r)
		})
		return h.d.Count(got("receiver", "client-later")) > 0
	})
}
