package e2e

import (
	"context"
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/internal/jsdriver"
	"github.com/quaver-dev/quaver/internal/testserver"
	"github.com/quaver-dev/quaver/protocol"
)

// echoLibs are the two ways a Laravel app configures Echo for Quaver.
var echoLibs = []string{"echo-reverb", "echo-pusher"}

// listenReport matches an Echo listen() callback.
func listenReport(client, channel, event string) func(jsdriver.Report) bool {
	return func(r jsdriver.Report) bool {
		return r.Type == "listen" && r.Client == client && r.Channel == channel && r.Event == event
	}
}

func TestPublicChannel(t *testing.T) {
	t.Parallel()
	h := start(t)
	h.connect("js", "pusher-js", nil)
	h.subscribe("js", "orders")
	for _, lib := range echoLibs {
		h.connect(lib, lib, nil)
		// Laravel event classes are namespaced App\Events; a leading dot
		// listens to the name as broadcast.
		h.d.Call("echoListen", args{"client": lib, "kind": "channel", "channel": "orders", "event": "OrderShipped"})
		h.d.Call("echoListen", args{"client": lib, "kind": "channel", "channel": "orders", "event": ".order.status"})
		h.d.Wait(lib+" subscribed", jsdriver.Typed("subscribed", lib, "orders"))
	}

	h.trigger([]string{"orders"}, `App\Events\OrderShipped`, map[string]any{"id": 7, "to": "Zoë"})
	h.trigger("orders", "order.status", "packed")

	r := h.d.Wait("js gets OrderShipped", jsdriver.Event("js", "orders", `App\Events\OrderShipped`))
	if !contains(r.Data, `"id":7`) || !contains(r.Data, `"Zoë"`) {
		t.Errorf("pusher-js data %s", r.Data)
	}
	for _, lib := range echoLibs {
		r := h.d.Wait(lib+" listen(OrderShipped)", listenReport(lib, "orders", "OrderShipped"))
		var data struct {
			ID int
			To string
		}
		if err := r.DecodeData(&data); err != nil || data.ID != 7 || data.To != "Zoë" {
			t.Errorf("%s OrderShipped data %s (%v)", lib, r.Data, err)
		}
		r = h.d.Wait(lib+" listen(.order.status)", listenReport(lib, "orders", ".order.status"))
		if r.DataString() != "packed" {
			t.Errorf("%s order.status data %s, want the string packed", lib, r.Data)
		}
	}
	// Unsubscribed clients get nothing more.
	h.d.Call("unsubscribe", args{"client": "js", "channel": "orders"})
	h.d.Call("echoLeave", args{"client": "echo-reverb", "channel": "orders"})
	eventually(t, "only echo-pusher left on orders", func() bool {
		var info struct {
			SubscriptionCount int `json:"subscription_count"`
		}
		h.ok("sdk.get", args{"path": "/channels/orders", "params": args{"info": "subscription_count"}}, &info)
		return info.SubscriptionCount == 1
	})
	mark := h.d.Mark()
	h.trigger("orders", "order.status", "shipped")
	h.d.WaitAfter(mark, "echo-pusher still listens", listenReport("echo-pusher", "orders", ".order.status"))
	h.d.NeverAfter(mark, "unsubscribed clients get the event", 300*time.Millisecond, func(r jsdriver.Report) bool {
		return (r.Client == "js" || r.Client == "echo-reverb") && r.Event != "" && strings.Contains(r.Event, "order.status")
	})
}

func TestPrivateChannel(t *testing.T) {
	t.Parallel()
	h := start(t)
	socket := h.connect("js", "pusher-js", nil)
	h.subscribe("js", "private-chat.1")
	// An app that passes data when authorizing a private channel: the SDK
	// signs socket:channel:data and the client sends channel_data along.
	h.connect("with-data", "pusher-js", args{"channelData": member("u9", "Nine"), "privateWithData": true})
	h.subscribe("with-data", "private-chat.1")
	for _, lib := range echoLibs {
		h.connect(lib, lib, nil)
		h.d.Call("echoListen", args{"client": lib, "kind": "private", "channel": "chat.1", "event": ".message"})
		h.d.Wait(lib+" subscribed", jsdriver.Typed("subscribed", lib, "private-chat.1"))
	}
	// Every client authorized over HTTP, form-encoded, with its socket id;
	// Echo sent Laravel's CSRF header.
	auth := h.d.Wait("js auth request", jsdriver.Type("auth", "js"))
	if auth.SocketID != socket || auth.Status != 200 || !strings.HasPrefix(auth.Text("contentType"), "application/x-www-form-urlencoded") {
		t.Errorf("js auth request %s, want socket %s, status 200, form-encoded", auth.Line, socket)
	}
	for _, lib := range echoLibs {
		auth := h.d.Wait(lib+" auth request", jsdriver.Type("auth", lib))
		if auth.Text("csrf") != "driver-csrf-token" || auth.Text("channel") != "private-chat.1" {
			t.Errorf("%s auth request %s", lib, auth.Line)
		}
	}

	// The Laravel app refuses one user (403 from /broadcasting/auth), and a
	// broken app signs with the wrong secret, which the server refuses.
	h.connect("denied", "echo-reverb", args{"deny": []string{"private-chat.1"}})
	h.connect("forged", "echo-pusher", args{"badSignature": true})
	h.connect("forged-js", "pusher-js", args{"badSignature": true})
	for _, name := range []string{"denied", "forged"} {
		h.d.Call("echoListen", args{"client": name, "kind": "private", "channel": "chat.1", "event": ".message"})
	}
	h.d.Call("subscribe", args{"client": "forged-js", "channel": "private-chat.1"})
	r := h.d.Wait("denied gets Echo error()", jsdriver.Typed("echo_error", "denied", "private-chat.1"))
	if !contains(r.Error, `"status":403`) || !contains(r.Error, "AuthError") {
		t.Errorf("denied error %s, want AuthError 403", r.Error)
	}
	for _, name := range []string{"forged", "forged-js"} {
		r := h.d.Wait(name+" gets pusher:subscription_error", jsdriver.Event(name, "private-chat.1", protocol.EventSubscriptionError))
		if !contains(r.Data, `"status":401`) || !contains(r.Data, "AuthError") {
			t.Errorf("%s error %s, want AuthError 401", name, r.Data)
		}
	}
	h.d.Wait("forged gets Echo error()", jsdriver.Typed("echo_error", "forged", "private-chat.1"))

	h.trigger("private-chat.1", "message", map[string]any{"text": "hi"})
	h.d.Wait("js gets the message", jsdriver.Event("js", "private-chat.1", "message"))
	h.d.Wait("with-data gets the message", jsdriver.Event("with-data", "private-chat.1", "message"))
	for _, lib := range echoLibs {
		h.d.Wait(lib+" gets the message", listenReport(lib, "private-chat.1", ".message"))
	}
	h.d.Never("refused clients get the message", 300*time.Millisecond, func(r jsdriver.Report) bool {
		return (r.Client == "denied" || strings.HasPrefix(r.Client, "forged")) && r.Event == "message"
	})
	// A refused subscription does not hurt the connection.
	h.d.Never("refused clients are disconnected", 0, func(r jsdriver.Report) bool {
		return (r.Client == "denied" || strings.HasPrefix(r.Client, "forged")) && r.Type == "state" && r.Current != "connected" && r.Current != "connecting"
	})
}

// presenceHere decodes an Echo here() report's users.
func presenceUsers(t *testing.T, r jsdriver.Report) []string {
	t.Helper()
	var users []struct{ Name string }
	if err := r.Field("users", &users); err != nil {
		t.Fatalf("here users: %v in %s", err, r.Line)
	}
	names := make([]string, len(users))
	for i, u := range users {
		names[i] = u.Name
	}
	sort.Strings(names)
	return names
}

func member(id, name string) args {
	return args{"user_id": id, "user_info": args{"name": name}}
}

func TestPresenceChannel(t *testing.T) {
	t.Parallel()
	for _, lib := range echoLibs {
		t.Run(lib, func(t *testing.T) {
			t.Parallel()
			testPresence(t, lib)
		})
	}
}

// testPresence: Alice on two sockets (Echo and pusher-js) and Bob on Echo
// join presence-room.1; Alice counts once everywhere.
func testPresence(t *testing.T, lib string) {
	h := start(t)
	const ch = "presence-room.1"
	h.connect("alice", lib, args{"channelData": member("u1", "Alice")})
	h.connect("alice2", "pusher-js", args{"channelData": member("u1", "Alice")})
	h.connect("bob", lib, args{"channelData": member("u2", "Bob")})
	h.connect("watcher", "pusher-js", args{"channelData": member("u3", "Watcher")})
	h.subscribe("watcher", ch)

	h.d.Call("echoSubscribe", args{"client": "alice", "kind": "join", "channel": "room.1"})
	here := h.d.Wait("alice here()", jsdriver.Typed("here", "alice", ch))
	if got := presenceUsers(t, here); !reflect.DeepEqual(got, []string{"Alice", "Watcher"}) {
		t.Errorf("alice here() %v", got)
	}
	h.d.Call("echoSubscribe", args{"client": "bob", "kind": "join", "channel": "room.1"})
	here = h.d.Wait("bob here()", jsdriver.Typed("here", "bob", ch))
	if got := presenceUsers(t, here); !reflect.DeepEqual(got, []string{"Alice", "Bob", "Watcher"}) {
		t.Errorf("bob here() %v", got)
	}
	joining := h.d.Wait("alice sees bob joining", jsdriver.Typed("joining", "alice", ch))
	if !strings.Contains(joining.Line, `"user":{"name":"Bob"}`) {
		t.Errorf("joining %s", joining.Line)
	}

	h.d.Wait("watcher sees bob joining", jsdriver.And(jsdriver.Event("watcher", ch, "pusher:member_added"), jsdriver.DataContains(`"u2"`)))
	// Alice's second socket: no member_added for anyone, but she sees
	// everyone, herself once.
	mark := h.d.Mark()
	h.subscribe("alice2", ch)
	ok := h.d.Wait("alice2 subscribed", jsdriver.Subscribed("alice2", ch))
	var members struct {
		Count int            `json:"count"`
		Me    map[string]any `json:"me"`
	}
	_ = ok.DecodeData(&members)
	if members.Count != 3 {
		t.Errorf("alice2 sees %d members, want 3 (%s)", members.Count, ok.Data)
	}
	h.d.NeverAfter(mark, "a member_added for alice's second socket", 300*time.Millisecond, func(r jsdriver.Report) bool {
		return r.Type == "joining" || r.Event == "pusher:member_added"
	})

	// The API counts users once and sockets each.
	var info struct {
		Occupied          bool `json:"occupied"`
		UserCount         int  `json:"user_count"`
		SubscriptionCount int  `json:"subscription_count"`
	}
	h.ok("sdk.get", args{"path": "/channels/" + ch, "params": args{"info": "user_count,subscription_count"}}, &info)
	if !info.Occupied || info.UserCount != 3 || info.SubscriptionCount != 4 {
		t.Errorf("channel info %+v, want occupied, 3 users, 4 subscriptions", info)
	}
	var users struct{ Users []struct{ ID string } }
	h.ok("sdk.get", args{"path": "/channels/" + ch + "/users"}, &users)
	if len(users.Users) != 3 || users.Users[0].ID != "u1" || users.Users[1].ID != "u2" || users.Users[2].ID != "u3" {
		t.Errorf("users %+v", users.Users)
	}

	// Alice's Echo socket leaves: she is still there through pusher-js.
	mark = h.d.Mark()
	h.d.Call("echoLeave", args{"client": "alice", "channel": "room.1"})
	h.d.NeverAfter(mark, "bob sees alice leave while she has a socket", 400*time.Millisecond, jsdriver.Typed("leaving", "bob", ch))
	// Her last socket goes away (disconnect, not unsubscribe).
	h.d.Call("disconnect", args{"client": "alice2"})
	leaving := h.d.WaitAfter(mark, "bob sees alice leaving", jsdriver.Typed("leaving", "bob", ch))
	if !strings.Contains(leaving.Line, `"user":{"name":"Alice"}`) {
		t.Errorf("leaving %s", leaving.Line)
	}
	removed := h.d.WaitAfter(mark, "watcher gets member_removed", jsdriver.Event("watcher", ch, "pusher:member_removed"))
	if !contains(removed.Data, `"id":"u1"`) {
		t.Errorf("member_removed %s", removed.Data)
	}
	if n := h.d.Count(jsdriver.Typed("leaving", "bob", ch)); n != 1 {
		t.Errorf("bob saw %d leaving events, want 1", n)
	}
	h.ok("sdk.get", args{"path": "/channels/" + ch, "params": args{"info": "user_count"}}, &info)
	if info.UserCount != 2 {
		t.Errorf("user_count %d after alice left, want 2", info.UserCount)
	}
}

func TestPresenceLimits(t *testing.T) {
	t.Parallel()
	h := start(t, editTestApp(func(a *config.App) {
		a.MaxPresenceMembers = 2
		a.MaxPresenceMemberSize = 100
	}))
	const ch = "presence-small"
	h.connect("u1", "echo-reverb", args{"channelData": member("u1", "One")})
	h.connect("u2", "pusher-js", args{"channelData": member("u2", "Two")})
	h.connect("u3", "echo-pusher", args{"channelData": member("u3", "Three")})
	h.connect("u1-again", "pusher-js", args{"channelData": member("u1", "One")})
	h.connect("big", "echo-reverb", args{"channelData": args{"user_id": "big", "user_info": args{"bio": strings.Repeat("x", 200)}}})
	h.echoSubscribe("u1", "join", "small")
	h.subscribe("u2", ch)
	h.d.Wait("u1 sees u2 join", jsdriver.Typed("joining", "u1", ch))
	mark := h.d.Mark()

	// A third user does not fit; Echo's error() says why.
	h.d.Call("echoSubscribe", args{"client": "u3", "kind": "join", "channel": "small"})
	r := h.d.Wait("u3 refused", jsdriver.Typed("echo_error", "u3", ch))
	if !contains(r.Error, "LimitReached") {
		t.Errorf("u3 error %s, want LimitReached", r.Error)
	}
	// The same user on another socket is not a new member.
	h.subscribe("u1-again", ch)
	// user_info over the app's member size limit is refused.
	h.d.Call("echoSubscribe", args{"client": "big", "kind": "join", "channel": "small"})
	r = h.d.Wait("big refused", jsdriver.Typed("echo_error", "big", ch))
	if !contains(r.Error, "user_info") {
		t.Errorf("big error %s, want the user_info size", r.Error)
	}
	h.d.NeverAfter(mark, "the members see refused users join", 200*time.Millisecond, func(r jsdriver.Report) bool {
		return r.Type == "joining" || r.Event == "pusher:member_added"
	})
	var info struct {
		UserCount int `json:"user_count"`
	}
	h.ok("sdk.get", args{"path": "/channels/" + ch, "params": args{"info": "user_count"}}, &info)
	if info.UserCount != 2 {
		t.Errorf("user_count %d, want 2", info.UserCount)
	}
}

func TestEncryptedChannel(t *testing.T) {
	t.Parallel()
	h := start(t)
	const ch = "private-encrypted-vault"
	h.connect("js", "pusher-js", nil)
	h.subscribe("js", ch)
	for _, lib := range echoLibs {
		h.connect(lib, lib, nil)
		h.d.Call("echoListen", args{"client": lib, "kind": "encryptedPrivate", "channel": "vault", "event": ".secret"})
		h.d.Wait(lib+" subscribed", jsdriver.Typed("subscribed", lib, ch))
	}
	// The SDK encrypts with the master key; the clients decrypt with the
	// shared secret their auth endpoint gave them. The server relays the
	// ciphertext untouched.
	h.trigger(ch, "secret", map[string]any{"pin": "4242"})
	r := h.d.Wait("js decrypts", jsdriver.Event("js", ch, "secret"))
	if !contains(r.Data, `"pin":"4242"`) {
		t.Errorf("pusher-js decrypted %s", r.Data)
	}
	for _, lib := range echoLibs {
		r := h.d.Wait(lib+" decrypts", listenReport(lib, ch, ".secret"))
		if !contains(r.Data, `"pin":"4242"`) {
			t.Errorf("%s decrypted %s", lib, r.Data)
		}
	}
	wire := h.d.Wait("the frame on the wire", jsdriver.Message("js", "secret", ch))
	if !contains(wire.Data, "ciphertext") || !contains(wire.Data, "nonce") || contains(wire.Data, "4242") {
		t.Errorf("frame data on the wire %s, want nonce and ciphertext only", wire.Data)
	}

	// Client events: pusher-js refuses to send them on encrypted channels,
	// and the server refuses them from anyone who tries anyway.
	if rep := h.d.Try("trigger", args{"client": "js", "channel": ch, "event": "client-x", "data": args{}}); rep.OK {
		t.Errorf("pusher-js sent a client event on an encrypted channel")
	}
	raw := h.raw(testserver.AppKey, testserver.AppSecret, nil)
	subscribeRaw(t, raw, ch, "")
	mark := h.d.Mark()
	if err := raw.Trigger(ch, "client-sneaky", map[string]any{"a": 1}); err != nil {
		t.Fatal(err)
	}
	e := next(t, raw, "pusher:error", isEvent(protocol.EventError, ""))
	if code, _ := errorData(t, e); code != protocol.CodeClientEventRejected {
		t.Errorf("client event on an encrypted channel: code %d, want 4301", code)
	}
	h.d.NeverAfter(mark, "a client event on an encrypted channel is relayed", 300*time.Millisecond, func(r jsdriver.Report) bool {
		return r.Event == "client-sneaky"
	})
}

func TestCacheChannels(t *testing.T) {
	t.Parallel()
	h := start(t)
	kinds := []string{"cache-prices", "private-cache-prices", "presence-cache-prices", "private-encrypted-cache-prices"}
	for i, ch := range kinds {
		first, late := "first-"+ch, "late-"+ch
		lib := []string{"pusher-js", "echo-reverb", "echo-pusher", "pusher-js"}[i]
		h.connect(first, "pusher-js", args{"channelData": member("f"+strconv.Itoa(i), "First")})
		h.connect(late, lib, args{"channelData": member("l"+strconv.Itoa(i), "Late")})
		// Nothing cached yet: cache_miss right after the subscription.
		h.subscribe(first, ch)
		miss := h.d.Wait(first+" cache miss", jsdriver.Event(first, ch, protocol.EventCacheMiss))
		ok := h.d.Wait(first+" subscribed", jsdriver.Subscribed(first, ch))
		if miss.Seq < ok.Seq {
			t.Errorf("%s: cache_miss before subscription_succeeded", ch)
		}
		h.trigger(ch, "price", map[string]any{"v": 1})
		h.trigger(ch, "price", map[string]any{"v": 2})
		h.d.WaitN(2, first+" gets both prices", jsdriver.Event(first, ch, "price"))
	}
	// An event published before anyone subscribed is cached too.
	h.trigger("cache-cold", "price", map[string]any{"v": 2})
	h.connect("late-cache-cold", "pusher-js", nil)
	kinds = append(kinds, "cache-cold")

	// A late subscriber gets the last event at once, nothing older, and no
	// cache miss.
	for i, ch := range kinds {
		late := "late-" + ch
		if i == 0 || i == 3 || i == 4 {
			h.subscribe(late, ch)
		} else {
			kind := map[int]string{1: "private", 2: "join"}[i]
			name := strings.TrimPrefix(strings.TrimPrefix(ch, "private-"), "presence-")
			h.echoSubscribe(late, kind, name)
		}
		r := h.d.Wait(late+" gets the cached price", jsdriver.Event(late, ch, "price"))
		if !contains(r.Data, `"v":2`) {
			t.Errorf("%s: cached event %s, want v 2", ch, r.Data)
		}
	}
	h.d.Never("a late subscriber gets a cache miss or an old price", 200*time.Millisecond, func(r jsdriver.Report) bool {
		return strings.HasPrefix(r.Client, "late-") && r.Type == "event" &&
			(r.Event == protocol.EventCacheMiss || r.Event == "price" && contains(r.Data, `"v":1`))
	})
}

// subscribeRaw subscribes a raw client (signing with its secret) and
// waits for success.
func subscribeRaw(t *testing.T, c *client.Client, channel, channelData string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.SubscribeAndWait(ctx, channel, client.SubscribeOptions{ChannelData: channelData}); err != nil {
		t.Fatalf("subscribe %s: %v", channel, err)
	}
}

func TestChannelNamesAndSubscribeEdgeCases(t *testing.T) {
	t.Parallel()
	h := start(t)
	h.connect("echo", "echo-reverb", nil)
	h.connect("js", "pusher-js", args{"channelData": member("u-js", "Js")})
	// Laravel-style names with the whole allowed character set, up to 200
	// characters.
	okNames := []string{"App.Models.User.1", "orders_2024-01=a@b,c.d;e", strings.Repeat("n", 200)}
	for _, name := range okNames {
		h.echoSubscribe("echo", "channel", name)
	}
	// Names the spec refuses: the server says why through Echo's error().
	for _, name := range []string{strings.Repeat("n", 201), "spaces are not allowed", "emoji-🎉", "slash/no"} {
		h.d.Call("echoSubscribe", args{"client": "echo", "kind": "channel", "channel": name})
		r := h.d.Wait("echo told "+name+" is invalid", jsdriver.Typed("echo_error", "echo", name))
		if !contains(r.Error, "InvalidChannel") {
			t.Errorf("%q: error %s", name, r.Error)
		}
	}

	// A raw client subscribing twice to a presence channel is one member;
	// unsubscribing a channel it never joined is ignored.
	const ch = "presence-twice"
	h.subscribe("js", ch)
	raw := h.raw(testserver.AppKey, testserver.AppSecret, nil)
	data := `{"user_id":"u-raw","user_info":{"name":"Raw"}}`
	subscribeRaw(t, raw, ch, data)
	subscribeRaw(t, raw, ch, data)
	h.d.Wait("js sees raw join", jsdriver.Event("js", ch, "pusher:member_added"))
	if err := raw.Send(protocol.EventUnsubscribe, "", map[string]string{"channel": "never-joined"}); err != nil {
		t.Fatal(err)
	}
	alive(t, raw, "raw after unsubscribing a channel it never joined")
	var info struct {
		UserCount         int `json:"user_count"`
		SubscriptionCount int `json:"subscription_count"`
	}
	h.ok("sdk.get", args{"path": "/channels/" + ch, "params": args{"info": "user_count,subscription_count"}}, &info)
	if info.UserCount != 2 || info.SubscriptionCount != 2 {
		t.Errorf("after a double subscribe: %+v, want 2 users on 2 subscriptions", info)
	}
	if n := h.d.Count(jsdriver.Event("js", ch, "pusher:member_added")); n != 1 {
		t.Errorf("js saw %d member_added for one user, want 1", n)
	}
	// One unsubscribe undoes the (single) subscription.
	if err := raw.Send(protocol.EventUnsubscribe, "", map[string]string{"channel": ch}); err != nil {
		t.Fatal(err)
	}
	h.d.Wait("js sees raw leave", jsdriver.Event("js", ch, "pusher:member_removed"))

	// A member whose connection just vanishes (no close frame) is removed
	// too.
	gone := h.raw(testserver.AppKey, testserver.AppSecret, nil)
	subscribeRaw(t, gone, ch, `{"user_id":"u-gone","user_info":{}}`)
	h.d.Wait("js sees u-gone join", jsdriver.And(jsdriver.Event("js", ch, "pusher:member_added"), jsdriver.DataContains("u-gone")))
	gone.Abort()
	h.d.Wait("js sees u-gone removed", jsdriver.And(jsdriver.Event("js", ch, "pusher:member_removed"), jsdriver.DataContains("u-gone")))
}

// TestLaravelNumericUserIDs: a Laravel presence authorizer returns the
// user's numeric id as user_id (channel_data {"user_id":1,...}); Echo,
// pusher-js and the API all see one consistent member per user.
func TestLaravelNumericUserIDs(t *testing.T) {
	t.Parallel()
	h := start(t)
	const ch = "presence-chat.9"
	h.connect("taylor", "echo-reverb", args{"channelData": args{"user_id": 1, "user_info": args{"id": 1, "name": "Taylor"}}})
	h.connect("abigail", "echo-pusher", args{"channelData": args{"user_id": 2, "user_info": args{"id": 2, "name": "Abigail"}}})
	h.echoSubscribe("taylor", "join", "chat.9")
	h.d.Call("echoListenForWhisper", args{"client": "taylor", "kind": "join", "channel": "chat.9", "event": "typing"})
	h.echoSubscribe("abigail", "join", "chat.9")
	here := h.d.Wait("abigail here()", jsdriver.Typed("here", "abigail", ch))
	if got := presenceUsers(t, here); !reflect.DeepEqual(got, []string{"Abigail", "Taylor"}) {
		t.Errorf("here() %v", got)
	}
	h.d.Wait("taylor sees abigail", jsdriver.Typed("joining", "taylor", ch))
	h.d.Call("echoWhisper", args{"client": "abigail", "kind": "join", "channel": "chat.9", "event": "typing", "data": args{}})
	r := h.d.Wait("taylor hears abigail", whisperReport("taylor", ch, "typing"))
	if !contains(r.Metadata, `"user_id":"2"`) {
		t.Errorf("whisper metadata %s, want user_id 2", r.Metadata)
	}
	var users struct{ Users []map[string]string }
	h.ok("sdk.get", args{"path": "/channels/" + ch + "/users"}, &users)
	if !reflect.DeepEqual(users.Users, []map[string]string{{"id": "1"}, {"id": "2"}}) {
		t.Errorf("users %v", users.Users)
	}
	mark := h.d.Mark()
	h.ok("sdk.terminateUserConnections", args{"userId": "2"}, nil)
	h.d.WaitAfter(mark, "abigail terminated", jsdriver.ErrorCode("abigail", protocol.CodeUnauthorized))
	leaving := h.d.WaitAfter(mark, "taylor sees abigail leave", jsdriver.Typed("leaving", "taylor", ch))
	if !strings.Contains(leaving.Line, `"name":"Abigail"`) {
		t.Errorf("leaving %s", leaving.Line)
	}
}

// TestConcurrentPresenceJoins: a dozen clients join one presence channel at
// the same moment, then half of them drop at once; every client's member
// list (as pusher-js keeps it from subscription_succeeded, member_added and
// member_removed) must end up exact.
func TestConcurrentPresenceJoins(t *testing.T) {
	t.Parallel()
	h := start(t)
	const ch, n = "presence-rush", 12
	libs := []string{"pusher-js", "echo-reverb", "echo-pusher"}
	names := make([]string, n)
	for i := range names {
		names[i] = "c" + strconv.Itoa(i)
		h.connect(names[i], libs[i%3], args{"channelData": member("u"+strconv.Itoa(i), names[i])})
	}
	// All subscriptions go out without waiting for each other.
	for _, name := range names {
		h.d.Send("subscribe", args{"client": name, "channel": ch})
	}
	for _, name := range names {
		h.d.Wait(name+" subscribed", jsdriver.Subscribed(name, ch))
	}
	view := func(name string) []string {
		r := h.d.Call("members", args{"client": name, "channel": ch})
		var m struct{ IDs []string }
		if err := json.Unmarshal(r.Result, &m); err != nil {
			t.Fatal(err)
		}
		return m.IDs
	}
	want := func(from, to int) []string {
		var ids []string
		for i := from; i < to; i++ {
			ids = append(ids, "u"+strconv.Itoa(i))
		}
		sort.Strings(ids)
		return ids
	}
	eventually(t, "every client sees all 12 members", func() bool {
		for _, name := range names {
			if !reflect.DeepEqual(view(name), want(0, n)) {
				return false
			}
		}
		return true
	})
	for _, name := range names[n/2:] {
		h.d.Send("disconnect", args{"client": name})
	}
	eventually(t, "the remaining clients see the first 6 members", func() bool {
		for _, name := range names[:n/2] {
			if !reflect.DeepEqual(view(name), want(0, n/2)) {
				return false
			}
		}
		return true
	})
	var info struct {
		UserCount int `json:"user_count"`
	}
	h.ok("sdk.get", args{"path": "/channels/" + ch, "params": args{"info": "user_count"}}, &info)
	if info.UserCount != n/2 {
		t.Errorf("user_count %d, want %d", info.UserCount, n/2)
	}
}
