package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/internal/jsdriver"
	"github.com/quaver-dev/quaver/internal/redistest"
	"github.com/quaver-dev/quaver/internal/testserver"
)

// fallbackOptions are pusher-js options that force one HTTP fallback
// transport ("xhr_streaming" or "xhr_polling") to host:port, as a page
// would configure Echo when WebSockets are blocked.
func fallbackOptions(transport, host string, port int, extra args) args {
	o := args{
		"enabledTransports": []string{transport},
		"httpHost":          host,
		"httpPort":          port,
		"httpsPort":         port,
		"httpPath":          "/pusher",
	}
	for k, v := range extra {
		o[k] = v
	}
	return o
}

// transportConnections reads a node's /up connections by transport.
func transportConnections(tb testing.TB, url string) map[string]int {
	tb.Helper()
	var up struct {
		Connections map[string]int `json:"connections"`
	}
	getJSON(tb, url+"/up", &up)
	if up.Connections == nil {
		tb.Fatalf("/up of %s has no connections", url)
	}
	return up.Connections
}

// stateChanges counts a client's connection state reports.
func stateChanges(d *jsdriver.Driver, client string) int {
	return d.Count(jsdriver.Type("state", client))
}

// The real pusher-js, forced onto each HTTP fallback transport, does
// everything it does over a WebSocket, side by side with WebSocket
// clients: public, private and presence channels, client events both
// ways, sign-in and user events, a 1 MB burst (across the streaming
// roll-over) with nothing lost, idle periods longer than its activity and
// pong timeouts, and presence cleanup when the HTTP client vanishes.
func TestFallbackTransports(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"xhr_streaming", "xhr_polling"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			testFallbackTransport(t, transport)
		})
	}
}

func testFallbackTransport(t *testing.T, transport string) {
	// WebSocket clients in one driver; the HTTP clients in another, which
	// is killed at the end.
	ws := start(t, editTestApp(func(a *config.App) { a.MaxEventSize = 32 << 10 }))
	web := &harness{t: t, srv: ws.srv, d: jsdriver.Start(t)}
	web.sdk("default", testserver.AppID, testserver.AppKey, testserver.AppSecret)
	opts := fallbackOptions(transport, ws.srv.Host, ws.srv.Port, nil)

	socket := web.connect("http", "pusher-js", args{"options": opts,
		"channelData": member("u-http", "Http"), "userData": userData("u-http", "Http")})
	// Idle for longer than its (shortened) activity and pong timeouts, this
	// client must stay connected on the same socket.
	idleSince := time.Now()
	web.connect("idle", "pusher-js", args{"options": fallbackOptions(transport, ws.srv.Host, ws.srv.Port,
		args{"activityTimeout": 1000, "pongTimeout": 2000})})
	idleChanges, idleMark := stateChanges(web.d, "idle"), web.d.Mark()
	if got := transportConnections(t, ws.srv.URL); got[transport] != 2 || got["ws"] != 0 {
		t.Fatalf("/up connections %v, want 2 over %s", got, transport)
	}
	series := `quaver_connections{app="` + testserver.AppID + `",transport="` + transport + `"}`
	if got := metricValue(t, getText(t, ws.srv.URL+"/metrics"), series); got != 2 {
		t.Errorf("/metrics %s = %v, want 2", series, got)
	}
	ws.connect("ws", "pusher-js", args{"channelData": member("u-ws", "Ws")})

	// Public and private channels.
	web.subscribe("http", "news")
	ws.trigger("news", "story", args{"n": 1})
	web.d.Wait("http gets a public event", jsdriver.Event("http", "news", "story"))
	web.subscribe("http", "private-chat")
	ws.subscribe("ws", "private-chat")
	ws.trigger("private-chat", "notice", args{"n": 2})
	web.d.Wait("http gets a private event", jsdriver.Event("http", "private-chat", "notice"))

	// Client events both ways.
	web.d.Call("trigger", args{"client": "http", "channel": "private-chat", "event": "client-typing", "data": args{"from": "http"}})
	ws.d.Wait("ws hears http", jsdriver.And(jsdriver.Event("ws", "private-chat", "client-typing"), jsdriver.DataContains(`"http"`)))
	ws.d.Call("trigger", args{"client": "ws", "channel": "private-chat", "event": "client-typing", "data": args{"from": "ws"}})
	web.d.Wait("http hears ws", jsdriver.And(jsdriver.Event("http", "private-chat", "client-typing"), jsdriver.DataContains(`"ws"`)))

	// Presence, with member events both ways.
	web.subscribe("http", "presence-room")
	ws.subscribe("ws", "presence-room")
	web.d.Wait("http sees ws join", jsdriver.And(jsdriver.Event("http", "presence-room", "pusher:member_added"), jsdriver.DataContains("u-ws")))
	var members struct{ IDs []string }
	r := ws.d.Call("members", args{"client": "ws", "channel": "presence-room"})
	if err := json.Unmarshal(r.Result, &members); err != nil || strings.Join(members.IDs, ",") != "u-http,u-ws" {
		t.Fatalf("ws sees members %s", r.Result)
	}

	// Sign-in and a user event.
	web.d.Call("signin", args{"client": "http"})
	web.signedIn("http", "u-http")
	ws.ok("sdk.sendToUser", args{"userId": "u-http", "event": "invoice-paid", "data": args{"invoice": 42}}, nil)
	web.d.Wait("http gets its user event", jsdriver.And(jsdriver.Type("user_event", "http"), jsdriver.DataContains(`"invoice":42`)))

	// A 1 MB burst: 50 events of 20 KB, in batches, arrive whole and in
	// order on the same socket (xhr_streaming rolls its response over
	// about every 256 KiB meanwhile).
	changes := stateChanges(web.d, "http")
	const events, size = 50, 20 << 10
	for b := range events / 10 {
		var batch []args
		for i := b * 10; i < b*10+10; i++ {
			batch = append(batch, args{"channel": "news", "name": "burst", "data": fmt.Sprintf("%03d:%s", i, strings.Repeat("x", size-4))})
		}
		ws.ok("sdk.triggerBatch", args{"batch": batch}, nil)
	}
	got := web.d.WaitN(events, "the whole burst", jsdriver.Event("http", "news", "burst"))
	for i, r := range got {
		data := r.DataString()
		if len(data) != size || !strings.HasPrefix(data, fmt.Sprintf("%03d:", i)) {
			t.Fatalf("burst event %d arrived as %.10q (%d bytes)", i, data, len(data))
		}
	}
	if n := stateChanges(web.d, "http"); n != changes {
		t.Fatalf("http changed state during the burst: %d reports, was %d", n, changes)
	}
	var state struct{ State, SocketID string }
	_ = json.Unmarshal(web.d.Call("state", args{"client": "http"}).Result, &state)
	if state.State != "connected" || state.SocketID != socket {
		t.Fatalf("after the burst http is %s on %s, want connected on %s", state.State, state.SocketID, socket)
	}

	// The idle client never left its connection.
	if rest := 4*time.Second - time.Since(idleSince); rest > 0 {
		web.d.NeverAfter(idleMark, "the idle client reconnects", rest, jsdriver.And(jsdriver.Type("state", "idle"), func(r jsdriver.Report) bool {
			return r.Current != "connected"
		}))
	}
	if n := stateChanges(web.d, "idle"); n != idleChanges {
		t.Fatalf("the idle client changed state %d times", n-idleChanges)
	}

	// The HTTP client's process dies: its sessions expire and the others
	// see it leave.
	web.d.Kill()
	ws.d.WaitFor(15*time.Second, "ws sees http leave", jsdriver.And(jsdriver.Event("ws", "presence-room", "pusher:member_removed"), jsdriver.DataContains("u-http")))
	eventually(t, "the HTTP sessions are gone", func() bool {
		got := transportConnections(t, ws.srv.URL)
		return got[transport] == 0 && got["ws"] == 1
	})
	var conns struct{ Connections int }
	ws.ok("sdk.get", args{"path": "/connections"}, &conns)
	if conns.Connections != 1 {
		t.Fatalf("the connection count API says %d, want 1", conns.Connections)
	}
}

// xhr_streaming works over TLS on the server's one port.
func TestFallbackTLS(t *testing.T) {
	t.Parallel()
	h := startTLS(t)
	h.connect("js", "pusher-js", args{"options": fallbackOptions("xhr_streaming", h.srv.Host, h.srv.Port, args{"forceTLS": true})})
	h.subscribe("js", "private-secure")
	h.trigger("private-secure", "tick", args{"n": 1})
	h.d.Wait("the event arrives over https streaming", jsdriver.Event("js", "private-secure", "tick"))
	var conns struct{ Connections int }
	h.ok("sdk.get", args{"path": "/connections"}, &conns)
	if conns.Connections != 1 {
		t.Fatalf("connections %d over https, want 1", conns.Connections)
	}
}

// The HTTP fallback is served at http_path.
func TestFallbackHTTPPath(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *config.Config) { c.Path, c.HTTPPath = "/ws", "/fallback" })
	h.connect("js", "pusher-js", args{"options": fallbackOptions("xhr_polling", h.srv.Host, h.srv.Port, args{"httpPath": "/ws/fallback"})})
	if body := getText(t, h.srv.URL+"/ws/up"); !strings.Contains(body, `"xhr_polling":1`) {
		t.Fatalf("/up %s", body)
	}
}

// Two nodes behind the real HAProxy (and nginx) with the shipped
// configuration, HTTP clients only: every request of a session reaches the
// node that holds it, events triggered on either node reach every client,
// presence spans the nodes, and when a node dies its clients' next
// requests land on the other node, which does not know their sessions and
// makes them reconnect there.
func TestFallbackBehindLoadBalancer(t *testing.T) {
	t.Parallel()
	for _, lb := range []string{"haproxy", "nginx"} {
		t.Run(lb, func(t *testing.T) {
			t.Parallel()
			testFallbackBehind(t, lb)
		})
	}
}

func testFallbackBehind(t *testing.T, lb string) {
	c := startCluster(t, 2, redisURLArgs(redistest.Start(t)))
	port := startBalancer(t, lb, c.nodes)
	const ch = "presence-lobby"
	onNode := func(i int) int {
		got := transportConnections(t, c.nodes[i].URL)
		return got["xhr_streaming"] + got["xhr_polling"]
	}
	// Sessions are spread by a hash of their random ids: add clients until
	// both nodes hold some.
	var names []string
	sockets := map[string]string{}
	for i := 0; len(names) < 4 || onNode(0) == 0 || onNode(1) == 0; i++ {
		if i == 16 {
			t.Fatalf("16 sessions and a node holds none: %d and %d", onNode(0), onNode(1))
		}
		name := fmt.Sprintf("h%d", i)
		transport := []string{"xhr_streaming", "xhr_polling"}[i%2]
		sockets[name] = c.connect(name, "pusher-js", args{"options": fallbackOptions(transport, "127.0.0.1", port, nil),
			"sdk": "n0", "channelData": member("u"+name, name)})
		c.subscribe(name, ch)
		names = append(names, name)
	}
	if got := onNode(0) + onNode(1); got != len(names) {
		t.Fatalf("the nodes hold %d fallback connections, want %d", got, len(names))
	}
	for i := range c.nodes {
		mark := c.d.Mark()
		c.via(i, "sdk.trigger", args{"channels": []string{ch}, "event": "news", "data": args{"node": i}})
		for _, name := range names {
			c.d.WaitAfter(mark, fmt.Sprintf("%s gets the event triggered on node %d", name, i), jsdriver.And(
				jsdriver.Event(name, ch, "news"), jsdriver.DataContains(fmt.Sprintf(`"node":%d`, i))))
		}
	}
	var users struct {
		Users []struct{ ID string } `json:"users"`
	}
	c.ok("sdk.get", args{"sdk": "n1", "path": "/channels/" + ch + "/users"}, &users)
	if len(users.Users) != len(names) {
		t.Fatalf("presence users %v, want %d", users.Users, len(names))
	}
	mark := c.d.Mark()
	c.d.Call("trigger", args{"client": names[0], "channel": ch, "event": "client-wave", "data": args{"from": names[0]}})
	for _, name := range names[1:] {
		c.d.WaitAfter(mark, name+" sees the wave", jsdriver.Event(name, ch, "client-wave"))
	}

	// Node 1 dies: its clients come back through HAProxy on node 0, each
	// with a new socket, and get what node 0 publishes.
	onOne, killed := onNode(1), c.d.Mark()
	c.nodes[1].Kill()
	var moved []string
	eventuallyWithin(t, 30*time.Second, "node 1's clients reconnected on new sockets", func() bool {
		moved = moved[:0]
		for _, name := range names {
			var state struct{ State, SocketID string }
			_ = json.Unmarshal(c.d.Call("state", args{"client": name}).Result, &state)
			if state.State != "connected" {
				return false
			}
			if state.SocketID != sockets[name] {
				moved = append(moved, name)
			}
		}
		return len(moved) == onOne
	})
	for _, name := range moved {
		c.d.WaitAfter(killed, name+" subscribed again", jsdriver.Subscribed(name, ch))
	}
	eventuallyWithin(t, 30*time.Second, "every client is on node 0", func() bool { return onNode(0) == len(names) })
	mark = c.d.Mark()
	c.via(0, "sdk.trigger", args{"channels": []string{ch}, "event": "news", "data": args{"after": "failover"}})
	for _, name := range names {
		c.d.WaitAfter(mark, name+" gets the event after the failover", jsdriver.And(
			jsdriver.Event(name, ch, "news"), jsdriver.DataContains("failover")))
	}
}
