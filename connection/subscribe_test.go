package connection

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/broadcast"
	"github.com/quaver-dev/quaver/protocol"
)

func succeeded(channel string) string {
	return `{"event":"pusher_internal:subscription_succeeded","channel":"` + channel + `","data":"{}"}`
}

func TestSubscribe(t *testing.T) {
	signed := func(channel, channelData string) func(c *Conn) map[string]any {
		return func(c *Conn) map[string]any { return subscribeData(c, channel, channelData) }
	}
	// changed signs the channel, then applies change to the data.
	changed := func(channel, channelData string, change func(d map[string]any)) func(c *Conn) map[string]any {
		return func(c *Conn) map[string]any {
			d := subscribeData(c, channel, channelData)
			change(d)
			return d
		}
	}
	forSocket := func(socket, channel string) func(c *Conn) map[string]any {
		return func(c *Conn) map[string]any {
			return map[string]any{"channel": channel, "auth": testKey + ":" + protocol.Sign(testSecret, socket+":"+channel)}
		}
	}
	const (
		ok      = ""
		auth    = "AuthError"
		limit   = "LimitReached"
		invalid = "InvalidChannel"
	)
	tests := []struct {
		name    string
		channel string
		data    func(c *Conn) map[string]any
		want    string // subscription_error type, or ok
		status  int
	}{
		{"public", "my-channel", signed("my-channel", ""), ok, 0},
		{"public ignores auth", "my-channel", changed("my-channel", "", func(d map[string]any) { d["auth"] = "junk" }), ok, 0},
		{"laravel public name", "App.Models.User.1", signed("App.Models.User.1", ""), ok, 0},
		{"private", "private-chat.1", signed("private-chat.1", ""), ok, 0},
		{"private signed with channel_data", "private-chat.1", func(c *Conn) map[string]any {
			d := map[string]any{"channel": "private-chat.1", "channel_data": `{"x":1}`}
			d["auth"] = testKey + ":" + protocol.Sign(testSecret, protocol.ChannelAuthMessage(c.SocketID(), "private-chat.1", `{"x":1}`, true))
			return d
		}, ok, 0},
		{"private without auth", "private-chat.1", changed("private-chat.1", "", func(d map[string]any) { delete(d, "auth") }), auth, 401},
		{"private with wrong signature", "private-chat.1", changed("private-chat.1", "", func(d map[string]any) { d["auth"] = testKey + ":" + strings.Repeat("0", 64) }), auth, 401},
		{"private with wrong key", "private-chat.1", changed("private-chat.1", "", func(d map[string]any) { d["auth"] = "other:" + strings.SplitN(d["auth"].(string), ":", 2)[1] }), auth, 401},
		{"private signed for another socket", "private-chat.1", forSocket("1.2", "private-chat.1"), auth, 401},
		{"private signed for another channel", "private-chat.1", changed("private-chat.2", "", func(d map[string]any) { d["channel"] = "private-chat.1" }), auth, 401},
		{"private looking public", "privatechat", signed("privatechat", ""), ok, 0},
		{"encrypted", "private-encrypted-x", signed("private-encrypted-x", ""), ok, 0},
		{"encrypted without auth", "private-encrypted-x", changed("private-encrypted-x", "", func(d map[string]any) { d["auth"] = "" }), auth, 401},
		{"presence", "presence-room.1", signed("presence-room.1", member("u1", "Alice")), ok, 0},
		{"presence numeric user id", "presence-room.1", signed("presence-room.1", `{"user_id":10,"user_info":{"name":"Mr. Channels"}}`), ok, 0},
		{"presence without user_info", "presence-room.1", signed("presence-room.1", `{"user_id":"u1"}`), ok, 0},
		{"presence without channel_data", "presence-room.1", changed("presence-room.1", member("u1", "A"), func(d map[string]any) { delete(d, "channel_data") }), auth, 401},
		{"presence signed without channel_data", "presence-room.1", forSocket("", "presence-room.1"), auth, 401},
		{"presence channel_data changed", "presence-room.1", changed("presence-room.1", member("u1", "A"), func(d map[string]any) { d["channel_data"] = member("admin", "A") }), auth, 401},
		{"presence channel_data not json", "presence-room.1", signed("presence-room.1", `not json`), auth, 401},
		{"presence without user_id", "presence-room.1", signed("presence-room.1", `{"user_info":{}}`), auth, 401},
		{"presence empty user_id", "presence-room.1", signed("presence-room.1", `{"user_id":""}`), auth, 401},
		{"presence object user_id", "presence-room.1", signed("presence-room.1", `{"user_id":{"id":1}}`), auth, 401},
		{"presence user_id too long", "presence-room.1", signed("presence-room.1", `{"user_id":"`+strings.Repeat("u", 129)+`"}`), limit, protocol.CodeClientEventRejected},
		{"presence user_info too large", "presence-room.1", signed("presence-room.1", `{"user_id":"u1","user_info":"`+strings.Repeat("i", 2048)+`"}`), limit, protocol.CodeClientEventRejected},
		{"user channel without signin", "#server-to-user-u1", signed("#server-to-user-u1", ""), auth, 401},
		{"invalid name", "bad channel", signed("bad channel", ""), invalid, 400},
		{"empty name", "", signed("", ""), invalid, 400},
		{"name too long", strings.Repeat("c", 201), signed(strings.Repeat("c", 201), ""), invalid, 400},
		{"string data", "my-channel", func(*Conn) map[string]any { return nil }, ok, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			c, tr := h.connect(t)
			if d := tt.data(c); d != nil {
				send(t, c, protocol.EventSubscribe, "", d)
			} else {
				// Some clients send the data object as a JSON string.
				c.Receive([]byte(`{"event":"pusher:subscribe","data":"{\"channel\":\"my-channel\"}"}`))
			}
			if tt.want != ok {
				expectSubscriptionError(t, tr, tt.channel, tt.want, tt.status)
				if n := h.registry.Count(testAppID, tt.channel); n != 0 {
					t.Fatalf("refused subscription left %d subscribers", n)
				}
				if n, _ := h.presence.Count(context.Background(), testAppID, tt.channel); n != 0 {
					t.Fatalf("refused subscription left %d presence members", n)
				}
				notClosed(t, c, tr)
				return
			}
			frames := expectEvents(t, tr, protocol.EventSubscriptionSucceeded)
			if frames[0].Channel != tt.channel || frames[0].Kind != protocol.DataString {
				t.Fatalf("success frame %s", frames[0].JSON)
			}
			if n := h.registry.Count(testAppID, tt.channel); n != 1 {
				t.Fatalf("registry Count = %d, want 1", n)
			}
		})
	}
}

type presenceData struct {
	Presence struct {
		IDs   []string                   `json:"ids"`
		Hash  map[string]json.RawMessage `json:"hash"`
		Count int                        `json:"count"`
	} `json:"presence"`
}

func decodePresence(t *testing.T, f *protocol.Frame) presenceData {
	t.Helper()
	var d presenceData
	if err := json.Unmarshal([]byte(f.Data), &d); err != nil {
		t.Fatalf("%s: %v", f.JSON, err)
	}
	slices.Sort(d.Presence.IDs)
	return d
}

func TestPresenceMembers(t *testing.T) {
	const room = "presence-room"
	h := newHarness(t)
	alice, aliceT := h.connect(t)
	bob1, bob1T := h.connect(t)
	bob2, bob2T := h.connect(t)

	subscribe(t, alice, room, member("u1", "Alice"))
	d := decodePresence(t, expectEvents(t, aliceT, protocol.EventSubscriptionSucceeded)[0])
	if !slices.Equal(d.Presence.IDs, []string{"u1"}) || d.Presence.Count != 1 || string(d.Presence.Hash["u1"]) != `{"name":"Alice"}` {
		t.Fatalf("first member's view %+v", d)
	}

	subscribe(t, bob1, room, member("u2", "Bob"))
	d = decodePresence(t, expectEvents(t, bob1T, protocol.EventSubscriptionSucceeded)[0])
	if !slices.Equal(d.Presence.IDs, []string{"u1", "u2"}) || d.Presence.Count != 2 || len(d.Presence.Hash) != 2 {
		t.Fatalf("second member's view %+v", d)
	}
	expect(t, aliceT, `{"event":"pusher_internal:member_added","channel":"presence-room","data":"{\"user_id\":\"u2\",\"user_info\":{\"name\":\"Bob\"}}"}`)

	// Bob's second socket: counted once, no second member_added.
	subscribe(t, bob2, room, member("u2", "Bob"))
	d = decodePresence(t, expectEvents(t, bob2T, protocol.EventSubscriptionSucceeded)[0])
	if !slices.Equal(d.Presence.IDs, []string{"u1", "u2"}) || d.Presence.Count != 2 {
		t.Fatalf("second socket's view %+v", d)
	}
	expect(t, aliceT)
	expect(t, bob1T)

	// Leaving with one of two sockets: no member_removed.
	send(t, bob2, protocol.EventUnsubscribe, "", map[string]any{"channel": room})
	expect(t, aliceT)
	expect(t, bob1T)
	expect(t, bob2T)
	if n, _ := h.presence.Count(context.Background(), testAppID, room); n != 2 {
		t.Fatalf("presence Count %d, want 2", n)
	}

	// The last socket leaving (by disconnecting): member_removed to the others.
	bob1.TransportClosed("gone")
	expect(t, aliceT, `{"event":"pusher_internal:member_removed","channel":"presence-room","data":"{\"user_id\":\"u2\"}"}`)
	expect(t, bob2T)
	if n, _ := h.presence.Count(context.Background(), testAppID, room); n != 1 {
		t.Fatalf("presence Count %d, want 1", n)
	}
	if n := h.registry.Count(testAppID, room); n != 1 {
		t.Fatalf("registry Count %d, want 1", n)
	}
}

func TestPresenceFull(t *testing.T) {
	h := newHarness(t, func(a *apps.App, _ *Options) { a.MaxPresenceMembers = 1 })
	alice, aliceT := h.connect(t)
	alice2, alice2T := h.connect(t)
	bob, bobT := h.connect(t)
	subscribe(t, alice, "presence-room", member("u1", "Alice"))
	expectEvents(t, aliceT, protocol.EventSubscriptionSucceeded)
	subscribe(t, bob, "presence-room", member("u2", "Bob"))
	expectSubscriptionError(t, bobT, "presence-room", "LimitReached", protocol.CodeOverCapacity)
	subscribe(t, alice2, "presence-room", member("u1", "Alice"))
	expectEvents(t, alice2T, protocol.EventSubscriptionSucceeded)
	expect(t, aliceT)
	if n := h.registry.Count(testAppID, "presence-room"); n != 2 {
		t.Fatalf("registry Count %d, want 2", n)
	}
}

func TestDuplicateSubscribe(t *testing.T) {
	tests := []struct {
		name        string
		channel     string
		channelData string
	}{
		{"public", "my-channel", ""},
		{"private", "private-chat.1", ""},
		{"presence", "presence-room", member("u1", "Alice")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			watcher, watcherT := h.connect(t)
			if tt.channelData != "" {
				subscribe(t, watcher, tt.channel, member("u0", "Watcher"))
			} else {
				subscribe(t, watcher, tt.channel, "")
			}
			watcherT.take()
			c, tr := h.connect(t)
			subscribe(t, c, tt.channel, tt.channelData)
			first := expectEvents(t, tr, protocol.EventSubscriptionSucceeded)
			watcherFrames := len(watcherT.take())
			subscribe(t, c, tt.channel, tt.channelData)
			again := expectEvents(t, tr, protocol.EventSubscriptionSucceeded)
			if tt.channelData != "" {
				if a, b := decodePresence(t, again[0]), decodePresence(t, first[0]); !slices.Equal(a.Presence.IDs, b.Presence.IDs) || a.Presence.Count != 2 {
					t.Fatalf("second success %s, first %s", again[0].JSON, first[0].JSON)
				}
			} else if string(again[0].JSON) != string(first[0].JSON) {
				t.Fatalf("second success %s differs from the first %s", again[0].JSON, first[0].JSON)
			}
			if got := watcherT.take(); len(got) != 0 {
				t.Fatalf("the duplicate subscribe told others %q", jsons(got))
			}
			if n := h.registry.Count(testAppID, tt.channel); n != 2 {
				t.Fatalf("registry Count %d, want 2", n)
			}
			if tt.channelData != "" {
				if watcherFrames != 1 {
					t.Fatalf("watcher got %d frames for the first subscribe, want one member_added", watcherFrames)
				}
				if n, _ := h.presence.Count(context.Background(), testAppID, tt.channel); n != 2 {
					t.Fatalf("presence Count %d, want 2", n)
				}
			}
			// One unsubscribe undoes both.
			send(t, c, protocol.EventUnsubscribe, "", map[string]any{"channel": tt.channel})
			if n := h.registry.Count(testAppID, tt.channel); n != 1 {
				t.Fatalf("registry Count %d after unsubscribe, want 1", n)
			}
			if tt.channelData != "" {
				expectEvents(t, watcherT, protocol.EventMemberRemoved)
			}
		})
	}
}

func TestUnsubscribe(t *testing.T) {
	h := newHarness(t)
	c, tr := h.connect(t)
	subscribe(t, c, "my-channel", "")
	tr.take()
	tests := []struct {
		name    string
		channel string
	}{
		{"never joined", "other-channel"},
		{"invalid name", "bad channel"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			send(t, c, protocol.EventUnsubscribe, "", map[string]any{"channel": tt.channel})
			expect(t, tr)
			if n := h.registry.Count(testAppID, "my-channel"); n != 1 {
				t.Fatal("an unrelated unsubscribe removed the subscription")
			}
		})
	}
	send(t, c, protocol.EventUnsubscribe, "", map[string]any{"channel": "my-channel"})
	expect(t, tr)
	if n := h.registry.Count(testAppID, "my-channel"); n != 0 {
		t.Fatalf("Count %d after unsubscribe", n)
	}
	h.publisher.Publish(context.Background(), broadcast.Event{App: testAppID, Frame: protocol.NewFrame("e", "my-channel", "x", protocol.DataString, "")})
	expect(t, tr)
}

func TestCacheChannels(t *testing.T) {
	tests := []struct {
		name        string
		channel     string
		channelData string
	}{
		{"public cache", "cache-prices", ""},
		{"private cache", "private-cache-prices", ""},
		{"presence cache", "presence-cache-room", member("u1", "Alice")},
		{"encrypted cache", "private-encrypted-cache-x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			c, tr := h.connect(t)
			subscribe(t, c, tt.channel, tt.channelData)
			frames := expectEvents(t, tr, protocol.EventSubscriptionSucceeded, protocol.EventCacheMiss)
			if string(frames[1].JSON) != `{"event":"pusher:cache_miss","channel":"`+tt.channel+`"}` {
				t.Fatalf("cache miss frame %s", frames[1].JSON)
			}

			event := protocol.NewFrame("price", tt.channel, `{"eur":1}`, protocol.DataString, "")
			h.publisher.Publish(context.Background(), broadcast.Event{App: testAppID, Frame: event, CacheTTL: h.app.CacheTTL})
			expect(t, tr, string(event.JSON))

			late, lateT := h.connect(t)
			subscribe(t, late, tt.channel, tt.channelData)
			frames = expectEvents(t, lateT, protocol.EventSubscriptionSucceeded, "price")
			if string(frames[1].JSON) != string(event.JSON) {
				t.Fatalf("replayed %s, want %s", frames[1].JSON, event.JSON)
			}
		})
	}
}

func TestNotACacheChannel(t *testing.T) {
	h := newHarness(t)
	c, tr := h.connect(t)
	h.publisher.Publish(context.Background(), broadcast.Event{App: testAppID, Frame: protocol.NewFrame("e", "prices", "x", protocol.DataString, ""), CacheTTL: h.app.CacheTTL})
	subscribe(t, c, "prices", "")
	expect(t, tr, succeeded("prices"))
}

func TestUserChannel(t *testing.T) {
	h := newHarness(t)
	c, tr := h.connect(t)
	other, otherT := h.connect(t)
	send(t, c, protocol.EventSignin, "", signinData(c, `{"id":"u1","user_info":{"name":"Alice"}}`))
	expectEvents(t, tr, protocol.EventSigninSuccess)

	subscribe(t, c, "#server-to-user-u1", "")
	expect(t, tr, succeeded("#server-to-user-u1"))
	subscribe(t, c, "#server-to-user-u2", "")
	expectSubscriptionError(t, tr, "#server-to-user-u2", "AuthError", 401)
	subscribe(t, other, "#server-to-user-u1", "")
	expectSubscriptionError(t, otherT, "#server-to-user-u1", "AuthError", 401)

	event := protocol.NewFrame("notice", "#server-to-user-u1", "hi", protocol.DataString, "")
	h.publisher.Publish(context.Background(), broadcast.Event{App: testAppID, Frame: event})
	expect(t, tr, string(event.JSON))
	expect(t, otherT)
}

func TestMaxChannelsPerConnection(t *testing.T) {
	h := newHarness(t, func(_ *apps.App, o *Options) { o.MaxChannelsPerConnection = 2 })
	c, tr := h.connect(t)
	subscribe(t, c, "a", "")
	subscribe(t, c, "b", "")
	expectEvents(t, tr, protocol.EventSubscriptionSucceeded, protocol.EventSubscriptionSucceeded)
	subscribe(t, c, "c", "")
	expectSubscriptionError(t, tr, "c", "LimitReached", protocol.CodeOverCapacity)
	subscribe(t, c, "a", "")
	expect(t, tr, succeeded("a"))
	send(t, c, protocol.EventUnsubscribe, "", map[string]any{"channel": "b"})
	subscribe(t, c, "c", "")
	expect(t, tr, succeeded("c"))
}
