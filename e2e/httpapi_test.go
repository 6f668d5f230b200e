package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
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

type channelInfo struct {
	Occupied          *bool `json:"occupied,omitempty"`
	UserCount         *int  `json:"user_count,omitempty"`
	SubscriptionCount *int  `json:"subscription_count,omitempty"`
}

func intp(n int) *int    { return &n }
func boolp(b bool) *bool { return &b }

func TestTriggerExcludesSocketAndReportsInfo(t *testing.T) {
	t.Parallel()
	h := start(t)
	// Ann's own action triggered the event: her socket id is excluded
	// (Laravel's toOthers()), Ben and Cat get it.
	ann := h.connect("ann", "echo-reverb", args{"channelData": member("ann", "Ann")})
	h.connect("ben", "pusher-js", args{"channelData": member("ben", "Ben")})
	h.connect("cat", "echo-pusher", args{"channelData": member("cat", "Cat")})
	if sid := h.d.Call("echoSocketId", args{"client": "ann"}); !strings.Contains(string(sid.Result), ann) {
		t.Errorf("Echo socketId() %s, want %s", sid.Result, ann)
	}
	h.echoSubscribe("ann", "join", "team")
	h.echoSubscribe("ann", "channel", "news")
	h.subscribe("ben", "presence-team")
	h.subscribe("ben", "news")
	h.echoSubscribe("cat", "channel", "news")

	var res struct{ Channels map[string]channelInfo }
	h.ok("sdk.trigger", args{
		"channels": []string{"presence-team", "news"}, "event": "posted", "data": args{"id": 1},
		"params": args{"socket_id": ann, "info": "user_count,subscription_count"},
	}, &res)
	want := map[string]channelInfo{
		"presence-team": {UserCount: intp(2), SubscriptionCount: intp(2)},
		"news":          {SubscriptionCount: intp(3)},
	}
	if !reflect.DeepEqual(res.Channels, want) {
		b, _ := json.Marshal(res.Channels)
		t.Errorf("info %s, want presence-team 2 users 2 subscriptions, news 3 subscriptions", b)
	}
	h.d.Wait("ben gets it on presence-team", jsdriver.Event("ben", "presence-team", "posted"))
	h.d.Wait("ben gets it on news", jsdriver.Event("ben", "news", "posted"))
	h.d.Wait("cat gets it on news", jsdriver.Event("cat", "news", "posted"))
	h.d.Never("ann gets her own event", 300*time.Millisecond, got("ann", "posted"))
}

func TestTriggerToManyChannels(t *testing.T) {
	t.Parallel()
	h := start(t)
	h.connect("js", "pusher-js", nil)
	h.connect("echo", "echo-pusher", nil)
	channels := numbered("room-", 100)
	for _, ch := range []string{channels[0], channels[50], channels[99]} {
		h.subscribe("js", ch)
	}
	h.echoSubscribe("echo", "channel", channels[99])
	h.trigger(channels, "broadcast", map[string]any{"to": "all"})
	for _, ch := range []string{channels[0], channels[50], channels[99]} {
		h.d.Wait("js gets it on "+ch, jsdriver.Event("js", ch, "broadcast"))
	}
	h.d.Wait("echo gets it", jsdriver.Event("echo", channels[99], "broadcast"))
	h.d.Never("an event is delivered twice", 200*time.Millisecond, func(r jsdriver.Report) bool {
		return r.Type == "event" && r.Event == "broadcast" && h.d.Count(jsdriver.Event(r.Client, r.Channel, "broadcast")) > 1
	})
}

func TestTriggerBatch(t *testing.T) {
	t.Parallel()
	h := start(t)
	skip := h.connect("skip", "pusher-js", nil)
	h.connect("js", "pusher-js", args{"channelData": member("u1", "One")})
	for _, ch := range []string{"a", "b", "presence-c"} {
		h.subscribe("js", ch)
	}
	h.subscribe("skip", "b")
	var res struct{ Batch []channelInfo }
	h.ok("sdk.triggerBatch", args{"batch": []args{
		{"channel": "a", "name": "first", "data": `{"n":1}`},
		{"channel": "b", "name": "second", "data": "plain text", "socket_id": skip, "info": "subscription_count"},
		{"channel": "presence-c", "name": "third", "data": `{"n":3}`, "info": "user_count"},
	}}, &res)
	want := []channelInfo{{}, {SubscriptionCount: intp(2)}, {UserCount: intp(1)}}
	if !reflect.DeepEqual(res.Batch, want) {
		b, _ := json.Marshal(res.Batch)
		t.Errorf("batch info %s", b)
	}
	h.d.Wait("first", jsdriver.Event("js", "a", "first"))
	r := h.d.Wait("second", jsdriver.Event("js", "b", "second"))
	if r.DataString() != "plain text" {
		t.Errorf("a non-JSON data string arrives as the string: got %s", r.Data)
	}
	h.d.Wait("third", jsdriver.Event("js", "presence-c", "third"))
	h.d.Never("the excluded socket gets its batch item", 300*time.Millisecond, got("skip", "second"))
}

func TestChannelQueries(t *testing.T) {
	t.Parallel()
	h := start(t)
	h.connect("a", "pusher-js", args{"channelData": member("u1", "One")})
	h.connect("b", "echo-reverb", args{"channelData": member("u2", "Two")})
	h.connect("c", "echo-pusher", args{"channelData": member("u1", "One")})
	h.connect("idle", "pusher-js", nil)
	h.subscribe("a", "presence-lobby")
	h.subscribe("a", "presence-room")
	h.subscribe("a", "news")
	h.echoSubscribe("b", "join", "lobby")
	h.echoSubscribe("c", "join", "lobby")
	h.echoSubscribe("b", "private", "inbox")

	var all struct{ Channels map[string]map[string]int }
	h.ok("sdk.get", args{"path": "/channels"}, &all)
	if got := keys(all.Channels); !reflect.DeepEqual(got, []string{"news", "presence-lobby", "presence-room", "private-inbox"}) {
		t.Errorf("channels %v", got)
	}
	var presence struct{ Channels map[string]channelInfo }
	h.ok("sdk.get", args{"path": "/channels", "params": args{"filter_by_prefix": "presence-", "info": "user_count"}}, &presence)
	wantPresence := map[string]channelInfo{"presence-lobby": {UserCount: intp(2)}, "presence-room": {UserCount: intp(1)}}
	if !reflect.DeepEqual(presence.Channels, wantPresence) {
		b, _ := json.Marshal(presence.Channels)
		t.Errorf("presence channels %s", b)
	}
	var private struct{ Channels map[string]map[string]int }
	h.ok("sdk.get", args{"path": "/channels", "params": args{"filter_by_prefix": "private-"}}, &private)
	if got := keys(private.Channels); !reflect.DeepEqual(got, []string{"private-inbox"}) {
		t.Errorf("private channels %v", got)
	}

	for ch, want := range map[string]channelInfo{
		"presence-lobby": {Occupied: boolp(true), UserCount: intp(2), SubscriptionCount: intp(3)},
		"news":           {Occupied: boolp(true), SubscriptionCount: intp(1)},
		"empty":          {Occupied: boolp(false), SubscriptionCount: intp(0)},
	} {
		var info channelInfo
		h.ok("sdk.get", args{"path": "/channels/" + ch, "params": args{"info": "user_count,subscription_count"}}, &info)
		if !reflect.DeepEqual(info, want) {
			b, _ := json.Marshal(info)
			t.Errorf("%s info %s", ch, b)
		}
	}
	var users struct{ Users []map[string]string }
	h.ok("sdk.get", args{"path": "/channels/presence-lobby/users"}, &users)
	if !reflect.DeepEqual(users.Users, []map[string]string{{"id": "u1"}, {"id": "u2"}}) {
		t.Errorf("users %v", users.Users)
	}
	var conns struct{ Connections int }
	h.ok("sdk.get", args{"path": "/connections"}, &conns)
	if conns.Connections != 4 {
		t.Errorf("connections %d, want 4", conns.Connections)
	}

	// Reverb's unsigned health check.
	resp, err := http.Get(h.srv.URL + "/up")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"health":"OK"`) {
		t.Errorf("/up: %d %s", resp.StatusCode, body)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestTerminateUserConnections(t *testing.T) {
	t.Parallel()
	h := start(t)
	// Alice is signed in on one tab and a presence member on another; Bob
	// shares the presence channel.
	h.connect("alice-signed", "pusher-js", args{"userData": userData("alice", "Alice")})
	h.connect("alice-member", "echo-reverb", args{"channelData": member("alice", "Alice")})
	h.connect("bob", "echo-pusher", args{"userData": userData("bob", "Bob"), "channelData": member("bob", "Bob")})
	h.d.Call("signin", args{"client": "alice-signed"})
	h.d.Call("signin", args{"client": "bob"})
	h.signedIn("alice-signed", "alice")
	h.signedIn("bob", "bob")
	h.echoSubscribe("alice-member", "join", "office")
	h.echoSubscribe("bob", "join", "office")
	h.d.Wait("alice sees bob", jsdriver.Typed("joining", "alice-member", "presence-office"))

	mark := h.d.Mark()
	h.ok("sdk.terminateUserConnections", args{"userId": "alice"}, nil)
	for _, name := range []string{"alice-signed", "alice-member"} {
		h.d.WaitAfter(mark, name+" told 4009", jsdriver.ErrorCode(name, protocol.CodeUnauthorized))
		h.d.WaitAfter(mark, name+" disconnected", jsdriver.State(name, "disconnected"))
	}
	h.d.WaitAfter(mark, "bob sees alice leave", jsdriver.Typed("leaving", "bob", "presence-office"))
	// 4009 means stay away: no reconnect; Bob is untouched.
	h.d.NeverAfter(mark, "alice reconnects or bob is dropped", 1500*time.Millisecond, func(r jsdriver.Report) bool {
		return r.Type == "state" && (r.Current == "connecting" || r.Client == "bob")
	})
	h.ok("sdk.sendToUser", args{"userId": "bob", "event": "still-here", "data": "yes"}, nil)
	h.d.Wait("bob still gets user events", func(r jsdriver.Report) bool {
		return r.Type == "user_event" && r.Client == "bob" && r.Event == "still-here"
	})
	var conns struct{ Connections int }
	h.ok("sdk.get", args{"path": "/connections"}, &conns)
	if conns.Connections != 1 {
		t.Errorf("connections %d after terminating alice, want 1", conns.Connections)
	}
}

func TestAPIErrors(t *testing.T) {
	t.Parallel()
	h := start(t,
		editTestApp(func(a *config.App) { a.MaxEventSize = 1000 }),
		withApp("big", "big-key", func(a *config.App) { a.MaxEventSize = 100 << 10 }),
		withApp("off", "off-key", func(a *config.App) { a.Disabled = true }))
	h.sdk("wrong-secret", testserver.AppID, testserver.AppKey, "not-the-secret")
	h.sdk("unknown-app", "no-such-app", testserver.AppKey, testserver.AppSecret)
	h.sdk("big", "big", "big-key", "big-secret")
	h.sdk("off", "off", "off-key", "off-secret")
	trigger := args{"channels": []string{"news"}, "event": "e", "data": "x"}
	with := func(extra args) args {
		a := args{}
		for k, v := range trigger {
			a[k] = v
		}
		for k, v := range extra {
			a[k] = v
		}
		return a
	}
	cases := []struct {
		name    string
		command string
		args    args
		status  int
	}{
		{"bad signature", "sdk.trigger", with(args{"sdk": "wrong-secret"}), 401},
		{"bad signature on GET", "sdk.get", args{"sdk": "wrong-secret", "path": "/channels"}, 401},
		{"timestamp 11 minutes old", "sdk.trigger", with(args{"clockSkewSeconds": -660}), 401},
		{"timestamp 11 minutes ahead", "sdk.get", args{"path": "/connections", "clockSkewSeconds": 660}, 401},
		{"timestamp 9 minutes old is fine", "sdk.trigger", with(args{"clockSkewSeconds": -540}), 200},
		{"unknown app", "sdk.trigger", with(args{"sdk": "unknown-app"}), 404},
		{"disabled app", "sdk.trigger", with(args{"sdk": "off"}), 403},
		{"data over the app limit", "sdk.trigger", with(args{"data": strings.Repeat("x", 1001)}), 413},
		{"data at the app limit", "sdk.trigger", with(args{"data": strings.Repeat("x", 1000)}), 200},
		{"batch item over the limit", "sdk.triggerBatch", args{"batch": []args{{"channel": "a", "name": "e", "data": strings.Repeat("x", 2000)}}}, 413},
		{"no channels", "sdk.post", args{"path": "/events", "body": args{"name": "e", "data": "x"}}, 400},
		{"data not a string", "sdk.post", args{"path": "/events", "body": args{"name": "e", "data": args{"a": 1}, "channels": []string{"a"}}}, 400},
		{"bad channel name", "sdk.post", args{"path": "/events", "body": args{"name": "e", "data": "x", "channels": []string{"bad name!"}}}, 400},
		{"101 channels", "sdk.post", args{"path": "/events", "body": args{"name": "e", "data": "x", "channels": numbered("c", 101)}}, 400},
		{"10 batch events", "sdk.triggerBatch", args{"batch": batchOf(10)}, 200},
		{"11 batch events", "sdk.triggerBatch", args{"batch": batchOf(11)}, 400},
		{"100 channels", "sdk.trigger", args{"channels": numbered("c", 100), "event": "e", "data": "x"}, 200},
		{"reserved event name", "sdk.post", args{"path": "/events", "body": args{"name": "pusher:x", "data": "x", "channels": []string{"a"}}}, 400},
		{"users of a public channel", "sdk.get", args{"path": "/channels/news/users"}, 400},
		{"user_count of non-presence channels", "sdk.get", args{"path": "/channels", "params": args{"info": "user_count"}}, 400},
	}
	for _, c := range cases {
		res := h.call(c.command, c.args)
		if res.Status != c.status {
			t.Errorf("%s: status %d, want %d (body %s)", c.name, res.Status, c.status, res.Body)
			continue
		}
		if c.status >= 400 && !contains(res.Body, `"error"`) {
			t.Errorf("%s: error body %s is not JSON with an error", c.name, res.Body)
		}
	}

	// Invalid JSON, correctly signed (no SDK sends it; a hand-written
	// backend might).
	api := &client.API{BaseURL: h.srv.URL, AppID: testserver.AppID, Key: testserver.AppKey, Secret: testserver.AppSecret}
	_, err := api.Do(context.Background(), http.MethodPost, "/events", nil, []byte(`{"name":"e",`))
	var status *client.StatusError
	if !errors.As(err, &status) || status.Status != 400 {
		t.Errorf("invalid JSON body: %v, want 400", err)
	}

	// An app with a raised limit takes long messages (AI answers) and its
	// clients receive them whole.
	h.connect("reader", "pusher-js", args{"key": "big-key", "sdk": "big"})
	h.subscribe("reader", "answers")
	long := strings.Repeat("token ", 10_000)
	h.ok("sdk.trigger", args{"sdk": "big", "channels": []string{"answers"}, "event": "answer", "data": long}, nil)
	r := h.d.Wait("reader gets the long answer", jsdriver.Event("reader", "answers", "answer"))
	if r.DataString() != long {
		t.Errorf("long answer arrived with %d bytes, want %d", len(r.DataString()), len(long))
	}
}

func numbered(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + strconv.Itoa(i)
	}
	return out
}

func batchOf(n int) []args {
	out := make([]args, n)
	for i := range out {
		out[i] = args{"channel": "batch", "name": "e", "data": "x"}
	}
	return out
}
