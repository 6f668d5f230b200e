package e2e

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/internal/jsdriver"
	"github.com/quaver-dev/quaver/internal/testenv"
	"github.com/quaver-dev/quaver/internal/testserver"
	"github.com/quaver-dev/quaver/protocol"
)

// TestQuaverBinary builds cmd/quaver and runs it the three ways a user
// would: from a Laravel .env, from a YAML file with several apps, and with
// no configuration at all; the real clients then use it.
func TestQuaverBinary(t *testing.T) {
	t.Parallel()
	bin := buildQuaver(t)
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
		port := freePort(t)
		run(t, bin, port, "start", "--env-file", env)
		h := binaryHarness(t, port, "shop", "shop-key", "shop-secret")
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
		port := freePort(t)
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
		run(t, bin, port, "start", "--config", file)
		h := binaryHarness(t, port, "chat", "chat-key", "chat-secret")
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
		port := freePort(t)
		out := run(t, bin, port, "start")
		banner := out.String()
		for _, want := range []string{"quaver-key", "quaver-secret", "broadcaster: 'reverb'", "REVERB_APP_KEY=quaver-key", "wsPort: " + strconv.Itoa(port)} {
			if !strings.Contains(banner, want) {
				t.Errorf("banner lacks %q:\n%s", want, banner)
			}
		}
		h := binaryHarness(t, port, "quaver", "quaver-key", "quaver-secret")
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
	bin := buildQuaver(t)
	port := freePort(t)
	flags := []string{"start", "--app-id", "live", "--app-key", "live-key", "--app-secret", "live-secret"}
	_, stop := runStoppable(t, bin, port, flags...)
	h := binaryHarness(t, port, "live", "live-key", "live-secret")
	h.connect("echo", "echo-reverb", args{"key": "live-key", "channelData": member("u1", "One")})
	h.connect("js", "pusher-js", args{"key": "live-key"})
	h.d.Call("echoListen", args{"client": "echo", "kind": "join", "channel": "ops", "event": ".deploy"})
	h.d.Wait("echo subscribed", jsdriver.Typed("subscribed", "echo", "presence-ops"))
	h.subscribe("js", "private-ops")
	first := h.d.Count(jsdriver.Type("auth", "echo"))

	mark := h.d.Mark()
	stop()
	for _, name := range []string{"echo", "js"} {
		h.d.WaitAfter(mark, name+" told to reconnect", jsdriver.ErrorCode(name, protocol.CodeReconnect))
		h.d.WaitAfter(mark, name+" reconnecting", jsdriver.State(name, "connecting"))
	}
	runStoppable(t, bin, port, flags...)
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

// buildQuaver builds cmd/quaver from the repository into a temporary
// directory (the Go build cache makes repeated builds quick).
func buildQuaver(t *testing.T) string {
	t.Helper()
	root := testenv.RepoRoot(t)
	bin := filepath.Join(t.TempDir(), "quaver")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/quaver")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/quaver: %v\n%s", err, out)
	}
	return bin
}

// run starts the binary on port with a clean environment (no QUAVER_ or REVERB_
// variables from the machine) and stops it with SIGTERM when the test
// ends. It returns the binary's stdout, filled as it runs.
func run(t *testing.T, bin string, port int, arguments ...string) *syncBuffer {
	t.Helper()
	stdout, _ := runStoppable(t, bin, port, arguments...)
	return stdout
}

// runStoppable is run that also returns a function stopping the server
// with SIGTERM before the test ends.
func runStoppable(t *testing.T, bin string, port int, arguments ...string) (*syncBuffer, func()) {
	t.Helper()
	arguments = append(arguments, "--port", strconv.Itoa(port))
	cmd := exec.Command(bin, arguments...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "QUAVER_") && !strings.HasPrefix(kv, "REVERB_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stdout, stderr := &syncBuffer{}, &syncBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("quaver %v exited with %v\nstderr:\n%s", arguments, err, stderr.String())
				}
			case <-time.After(15 * time.Second):
				_ = cmd.Process.Kill()
				t.Errorf("quaver %v did not stop on SIGTERM", arguments)
			}
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("quaver stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
	})
	eventually(t, "quaver answers /up", func() bool {
		select {
		case err := <-done:
			t.Fatalf("quaver %v exited: %v\nstderr:\n%s", arguments, err, stderr.String())
		default:
		}
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(port) + "/up")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return stdout, stop
}

// binaryHarness is a driver against a server the binary runs.
func binaryHarness(t *testing.T, port int, appID, key, secret string) *harness {
	t.Helper()
	srv := &testserver.Server{Host: "127.0.0.1", Port: port, URL: "http://127.0.0.1:" + strconv.Itoa(port), WSURL: "ws://127.0.0.1:" + strconv.Itoa(port)}
	h := &harness{t: t, srv: srv, d: jsdriver.Start(t)}
	h.sdk("default", appID, key, secret)
	return h
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for a writing process and a reading
// test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
