package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/internal/jsdriver"
	"github.com/quaver-dev/quaver/internal/testenv"
	"github.com/quaver-dev/quaver/internal/testnode"
	"github.com/quaver-dev/quaver/internal/testserver"
	"github.com/quaver-dev/quaver/protocol"
)

// TestQuaverBinary builds cmd/quaver and runs it the three ways a user
// would: from a Laravel .env, from a YAML file with several apps, and with
// no configuration at all; the real clients then use it.
func TestQuaverBinary(t *testing.T) {
	t.Parallel()
	t.Run("laravel env file, port flag over env", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		env := filepath.Join(dir, ".env")
		writeFile(t, env, strings.Join([]string{
			"APP_NAME=Shop",
			"BROADCAST_CONNECTION=reverb",
			"REVERB_APP_ID=shop",
			"REVERB_APP_KEY=shop-key",
			"REVERB_APP_SECRET=shop-secret",
			"REVERB_HOST=localhost",
			"REVERB_PORT=443",
			"REVERB_SCHEME=https",
			"REVERB_SERVER_PORT=1",
			`VITE_REVERB_APP_KEY="${REVERB_APP_KEY}"`,
		}, "\n"))
		n := startBinary(t, "--env-file", env)
		h := binaryHarness(t, n, "shop", "shop-key", "shop-secret")
		h.connect("echo", "echo-reverb", args{"key": "shop-key"})
		h.d.Call("echoListen", args{"client": "echo", "kind": "private", "channel": "orders.1", "event": "OrderShipped"})
		h.d.Wait("echo subscribed", jsdriver.Typed("subscribed", "echo", "private-orders.1"))
		h.trigger("private-orders.1", `App\Events\OrderShipped`, map[string]any{"id": 1})
		h.d.Wait("echo gets the event", listenReport("echo", "private-orders.1", "OrderShipped"))
	})
	t.Run("yaml file with several apps", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		file := filepath.Join(dir, "quaver.yaml")
		writeFile(t, file, `
host: 127.0.0.1
port: 1
apps:
  - id: chat
    key: chat-key
    secret: chat-secret
    client_events: all
  - id: board
    key: board-key
    secret: board-secret
    client_events: "off"
    max_connections: 1
`)
		n := startBinary(t, "--config", file)
		h := binaryHarness(t, n, "chat", "chat-key", "chat-secret")
		h.sdk("board", "board", "board-key", "board-secret")
		h.connect("chat-a", "pusher-js", args{"key": "chat-key"})
		h.connect("chat-b", "echo-pusher", args{"key": "chat-key"})
		h.connect("board-a", "pusher-js", args{"key": "board-key", "sdk": "board"})
		h.create("board-b", "pusher-js", args{"key": "board-key", "sdk": "board"})
		h.d.Wait("board over max_connections", jsdriver.ErrorCode("board-b", protocol.CodeOverQuota))
		h.subscribe("chat-a", "private-room")
		h.echoSubscribe("chat-b", "private", "room")
		h.subscribe("board-a", "private-room")
		h.d.Call("trigger", args{"client": "chat-a", "channel": "private-room", "event": "client-hi", "data": args{}})
		h.d.Wait("chat client events relayed", jsdriver.Event("chat-b", "private-room", "client-hi"))
		h.d.Call("trigger", args{"client": "board-a", "channel": "private-room", "event": "client-hi", "data": args{}})
		h.d.Wait("board client events off", jsdriver.ErrorCode("board-a", protocol.CodeClientEventRejected))
	})
	t.Run("no configuration serves the development app", func(t *testing.T) {
		t.Parallel()
		n := startBinary(t)
		banner := n.Stdout()
		for _, want := range []string{"quaver-key", "quaver-secret", "broadcaster: 'reverb'", "REVERB_APP_KEY=quaver-key", "wsPort: " + strconv.Itoa(n.Port)} {
			if !strings.Contains(banner, want) {
				t.Errorf("banner lacks %q:\n%s", want, banner)
			}
		}
		h := binaryHarness(t, n, "quaver", "quaver-key", "quaver-secret")
		h.connect("dev", "echo-reverb", args{"key": "quaver-key"})
		h.d.Call("echoListen", args{"client": "dev", "kind": "channel", "channel": "hello", "event": ".greeting"})
		h.d.Wait("dev subscribed", jsdriver.Typed("subscribed", "dev", "hello"))
		h.trigger("hello", "greeting", "it works")
		h.d.Wait("dev gets the greeting", listenReport("dev", "hello", ".greeting"))
	})
}

// TestServerRestart stops the binary under live Echo and pusher-js
// clients: they are told 4200 (reconnect now), keep trying while the
// server is down, and when it is back they reconnect, authorize their
// private and presence channels again with their new socket ids, and get
// events as before. pusher-js's own strategy waits about 15 s before it
// retries a refused connection, which sets this test's length.
func TestServerRestart(t *testing.T) {
	t.Parallel()
	node := startBinary(t, "--app-id", "live", "--app-key", "live-key", "--app-secret", "live-secret")
	h := binaryHarness(t, node, "live", "live-key", "live-secret")
	h.connect("echo", "echo-reverb", args{"key": "live-key", "channelData": member("u1", "One")})
	h.connect("js", "pusher-js", args{"key": "live-key"})
	h.d.Call("echoListen", args{"client": "echo", "kind": "join", "channel": "ops", "event": ".deploy"})
	h.d.Wait("echo subscribed", jsdriver.Typed("subscribed", "echo", "presence-ops"))
	h.subscribe("js", "private-ops")
	first := h.d.Count(jsdriver.Type("auth", "echo"))

	mark := h.d.Mark()
	node.Stop()
	for _, name := range []string{"echo", "js"} {
		h.d.WaitAfter(mark, name+" told to reconnect", jsdriver.ErrorCode(name, protocol.CodeReconnect))
		h.d.WaitAfter(mark, name+" reconnecting", jsdriver.State(name, "connecting"))
	}
	node.Restart()
	for _, name := range []string{"echo", "js"} {
		h.d.WaitFor(30*time.Second, name+" back", func(r jsdriver.Report) bool {
			return r.Seq >= mark && jsdriver.State(name, "connected")(r)
		})
	}
	h.d.WaitAfter(mark, "echo subscribed again", jsdriver.And(jsdriver.Subscribed("echo", "presence-ops"), func(r jsdriver.Report) bool { return r.Seq >= mark }))
	h.d.WaitAfter(mark, "js subscribed again", jsdriver.Subscribed("js", "private-ops"))
	if n := h.d.Count(jsdriver.Type("auth", "echo")); n <= first {
		t.Errorf("echo made %d auth requests in all, want a new one after the restart", n)
	}
	h.trigger([]string{"presence-ops", "private-ops"}, "deploy", map[string]any{"v": 2})
	h.d.WaitAfter(mark, "echo gets events again", listenReport("echo", "presence-ops", ".deploy"))
	h.d.WaitAfter(mark, "js gets events again", jsdriver.Event("js", "private-ops", "deploy"))
}

// startBinary runs `quaver start args... --port P` on a free port P: the
// binary as a user runs it, configured by args alone, with a clean
// environment. It must exit 0 on SIGTERM, which it gets at the latest when
// the test ends.
func startBinary(t *testing.T, args ...string) *testnode.Node {
	t.Helper()
	port := testenv.FreePort(t)
	return testnode.Start(t, testnode.Options{
		Bare: true, Port: port, ExitZero: true,
		Args: append(args, "--port", strconv.Itoa(port)),
	})
}

// binaryHarness is a driver against a node.
func binaryHarness(t *testing.T, n *testnode.Node, appID, key, secret string) *harness {
	t.Helper()
	srv := &testserver.Server{Host: n.Host, Port: n.Port, URL: n.URL, WSURL: n.WSURL}
	h := &harness{t: t, srv: srv, d: jsdriver.Start(t)}
	h.sdk("default", appID, key, secret)
	return h
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
