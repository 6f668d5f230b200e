package cmd

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/internal/testcert"
	"github.com/quaver-dev/quaver/internal/testenv"
	"github.com/quaver-dev/quaver/internal/testnode"
)

// start runs `quaver start args...`, configured by env and args alone,
// and waits until it answers on port. It is stopped when the test ends if
// it is still running.
func start(t *testing.T, port int, env []string, args ...string) *testnode.Node {
	t.Helper()
	return testnode.Start(t, testnode.Options{Bare: true, Port: port, Env: env, Args: args, Binary: quaver(t)})
}

// stop sends SIGTERM, as systemd and Kubernetes do, and requires a clean
// exit within 5 s.
func stop(t *testing.T, n *testnode.Node) {
	t.Helper()
	if err := n.Terminate(5 * time.Second); err != nil {
		t.Fatalf("quaver: %v, want exit 0 within 5s of SIGTERM\n%s", err, n.Logs())
	}
}

// app is what a user connects and triggers with.
type app struct{ id, key, secret string }

// checkServes connects a subscriber with a.key to wsURL, triggers an event
// through the API with a's credentials, and requires the subscriber to get
// it: the app really is served with those credentials. It returns the
// subscriber, still connected.
func checkServes(t *testing.T, a app, wsURL, apiURL string, opts client.Options, hc *http.Client) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts.URL, opts.Key = wsURL, a.key
	sub, err := client.Dial(ctx, opts)
	if err != nil {
		t.Fatalf("connecting with key %q: %v", a.key, err)
	}
	t.Cleanup(sub.Close)
	if _, err := sub.SubscribeAndWait(ctx, "orders", client.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	api := &client.API{BaseURL: apiURL, AppID: a.id, Key: a.key, Secret: a.secret, HTTP: hc}
	if _, err := api.Trigger(ctx, client.TriggerEvent{Name: "shipped", Channels: []string{"orders"}, Data: `{"id":7}`}); err != nil {
		t.Fatalf("triggering as app %q: %v", a.id, err)
	}
	got, err := sub.NextMatching(ctx, func(e client.Event) bool { return e.Event == "shipped" })
	if err != nil {
		t.Fatalf("waiting for the event: %v", err)
	}
	if got.Channel != "orders" || got.DataString() != `{"id":7}` {
		t.Fatalf("got shipped on %q with %q, want orders with {\"id\":7}", got.Channel, got.DataString())
	}
	return sub
}

// checkRefusesKey requires a connection with key to be refused with 4001.
func checkRefusesKey(t *testing.T, wsURL, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{URL: wsURL, Key: key})
	if err == nil {
		c.Close()
		t.Fatalf("key %q was accepted, want it refused", key)
	}
	if !strings.Contains(err.Error(), "4001") {
		t.Fatalf("key %q refused with %v, want 4001", key, err)
	}
}

// TestStartPrecedence: the file is overridden by the environment, and both
// by flags, for the listen port and for an app's credentials; the banner
// tells which values won and the server really uses them.
func TestStartPrecedence(t *testing.T) {
	filePort, envPort, flagPort := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	file := writeFile(t, "quaver.yaml", fmt.Sprintf(`
port: %d
apps:
  - {id: app1, key: file-key, secret: file-secret}
  - {id: other, key: other-key, secret: other-secret}
`, filePort))
	env := []string{
		"QUAVER_PORT=" + strconv.Itoa(envPort),
		"QUAVER_APP_ID=app1", "QUAVER_APP_KEY=env-key", "QUAVER_APP_SECRET=env-secret",
	}
	cases := []struct {
		name  string
		env   []string
		flags []string
		port  int
		app   app
		stale []string
	}{
		{"file", nil, nil, filePort, app{"app1", "file-key", "file-secret"}, nil},
		{"environment over file", env, nil, envPort, app{"app1", "env-key", "env-secret"}, []string{"file-key"}},
		{
			"flags over environment", env,
			[]string{"--port", strconv.Itoa(flagPort), "--app-id", "app1", "--app-key", "flag-key"},
			flagPort, app{"app1", "flag-key", "env-secret"}, []string{"file-key", "env-key"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := start(t, c.port, c.env, append([]string{"--config", file}, c.flags...)...)
			httpURL, wsURL := p.URL, p.WSURL
			out := p.Stdout()
			for _, want := range []string{
				fmt.Sprintf("listening on %s (WebSocket %s/app/{key})", httpURL, wsURL),
				fmt.Sprintf("dashboard %s/dashboard, metrics %s/metrics", httpURL, httpURL),
				fmt.Sprintf("app app1 (key %s)", c.app.key),
				"app other (key other-key)",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("banner lacks %q:\n%s", want, out)
				}
			}
			if strings.Contains(out, "development app") {
				t.Errorf("banner offers the development app although apps are configured:\n%s", out)
			}
			checkServes(t, c.app, wsURL, httpURL, client.Options{}, nil)
			checkServes(t, app{"other", "other-key", "other-secret"}, wsURL, httpURL, client.Options{}, nil)
			for _, key := range c.stale {
				checkRefusesKey(t, wsURL, key)
			}
			stop(t, p)
		})
	}
}

// TestStartDevelopmentApp: with nothing configured, start prints the
// development app's credentials, a Laravel .env and an Echo snippet that
// parses as JavaScript, and the printed credentials work.
func TestStartDevelopmentApp(t *testing.T) {
	port := testenv.FreePort(t)
	p := start(t, port, nil, "--port", strconv.Itoa(port))
	httpURL, wsURL := p.URL, p.WSURL
	out := p.Stdout()
	for _, want := range []string{
		"No app configured: serving the development app.",
		"BROADCAST_CONNECTION=reverb",
		"REVERB_PORT=" + strconv.Itoa(port),
		"broadcaster: 'reverb'",
		"wsPort: " + strconv.Itoa(port),
		"forceTLS: false",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	printed := func(label string) string {
		m := regexp.MustCompile(`(?m)^\s*` + label + `:\s+(\S+)$`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("banner has no %q line:\n%s", label, out)
		}
		return m[1]
	}
	dev := app{printed("app id"), printed("app key"), printed("app secret")}
	if !strings.Contains(out, "key: '"+dev.key+"'") || !strings.Contains(out, "REVERB_APP_SECRET="+dev.secret) {
		t.Errorf("Echo snippet or .env does not carry the printed key and secret:\n%s", out)
	}
	checkServes(t, dev, wsURL, httpURL, client.Options{}, nil)
	checkEchoSnippetParses(t, out)
	stop(t, p)
}

// checkEchoSnippetParses hands the printed Echo snippet to node --check,
// as a developer would paste it into resources/js/echo.js.
func checkEchoSnippetParses(t *testing.T, banner string) {
	t.Helper()
	_, snippet, ok := strings.Cut(banner, "Laravel Echo:\n")
	if !ok {
		t.Fatalf("banner has no Echo snippet:\n%s", banner)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node is required (./scripts/test-deps.sh installs it): %v", err)
	}
	file := filepath.Join(t.TempDir(), "echo.mjs")
	if err := os.WriteFile(file, []byte(snippet), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(node, "--check", file).CombinedOutput(); err != nil {
		t.Fatalf("the Echo snippet is not valid JavaScript: %v\n%s\nsnippet:\n%s", err, out, snippet)
	}
}

// TestStartLaravelEnvFile: a Laravel application's .env is enough to serve
// its app on REVERB_SERVER_HOST:REVERB_SERVER_PORT, and SIGTERM tells the
// connected clients to reconnect (4200) before exiting 0.
func TestStartLaravelEnvFile(t *testing.T) {
	port := testenv.FreePort(t)
	envFile := writeFile(t, ".env", laravelEnv(port))
	p := start(t, port, nil, "--env-file", envFile)
	httpURL, wsURL := p.URL, p.WSURL
	out := p.Stdout()
	if !strings.Contains(out, "app 123456 (key laravel-key)") || strings.Contains(out, "development app") {
		t.Errorf("banner does not show only the .env app:\n%s", out)
	}
	sub := checkServes(t, app{"123456", "laravel-key", "laravel-secret"}, wsURL, httpURL, client.Options{}, nil)
	stop(t, p)
	select {
	case <-sub.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the client is still connected after the server exited")
	}
	if code, reason := sub.CloseCode(); code != 4200 {
		t.Errorf("client closed with %d %q at shutdown, want 4200 (reconnect)", code, reason)
	}
}

// TestStartTLSFlags: --tls-cert and --tls-key serve https:// and wss://
// on the one port, and the banner says so.
func TestStartTLSFlags(t *testing.T) {
	cert := testcert.Write(t, t.TempDir(), "server")
	port := testenv.FreePort(t)
	p := testnode.Start(t, testnode.Options{Bare: true, Port: port, TLS: cert.ClientConfig(), Binary: quaver(t), Args: []string{
		"--port", strconv.Itoa(port), "--app-id", "tls", "--app-key", "tls-key", "--app-secret", "tls-secret",
		"--tls-cert", cert.CertFile, "--tls-key", cert.KeyFile,
	}})
	hostPort := "127.0.0.1:" + strconv.Itoa(port)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: cert.ClientConfig()}}
	want := fmt.Sprintf("listening on https://%s (WebSocket wss://%s/app/{key})", hostPort, hostPort)
	if out := p.Stdout(); !strings.Contains(out, want) {
		t.Errorf("banner lacks %q:\n%s", want, out)
	}
	checkServes(t, app{"tls", "tls-key", "tls-secret"}, p.WSURL, p.URL,
		client.Options{TLSConfig: cert.ClientConfig()}, hc)
	stop(t, p)
}

// TestStartFailsFast: an invalid configuration stops start before it
// serves, with a message naming the field, and no banner.
func TestStartFailsFast(t *testing.T) {
	garbage := writeFile(t, "garbage.pem", "not a certificate")
	cases := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"port out of range", nil, []string{"--port", "70000"}, []string{"port: 70000 is not between 0 and 65535"}},
		{"tls cert without key", nil, []string{"--tls-cert", garbage}, []string{"tls: cert and key must be given together"}},
		{"tls files missing", nil, []string{"--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"},
			[]string{"tls.cert: stat /nonexistent/c.pem", "tls.key: stat /nonexistent/k.pem"}},
		{"tls files not PEM", nil, []string{"--tls-cert", garbage, "--tls-key", garbage}, []string{"tls.cert, tls.key: ", "PEM"}},
		{"app without secret", nil, []string{"--app-id", "a", "--app-key", "k"}, []string{"apps[0].secret: required"}},
		{"bad environment value", []string{"REVERB_SERVER_PORT=eighty"}, nil, []string{`REVERB_SERVER_PORT: "eighty" is not a whole number`}},
		{"misspelt field", nil, []string{"--config", writeFile(t, "q.yaml", "prot: 8080\n")}, []string{"field prot not found"}},
		{"port in use", nil, []string{"--port", strconv.Itoa(listening(t))}, []string{"address already in use"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, c.env, append([]string{"start"}, c.args...)...)
			if r.exitCode == 0 {
				t.Fatalf("exit 0, want a failure\nstdout:\n%s", r.stdout)
			}
			for _, want := range c.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			if strings.Contains(r.stdout, "listening on") {
				t.Errorf("printed a banner although it does not serve:\n%s", r.stdout)
			}
		})
	}
}

// listening returns the port of a loopback listener open until the test
// ends.
func listening(t *testing.T) int {
	t.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// TestStartShutdownTellsEveryClient: on SIGTERM every connected client is
// told to reconnect (4200) before the process exits, however many there
// are. (Before the hub waited for the close frames, about a quarter of 500
// clients saw the socket drop without one.)
func TestStartShutdownTellsEveryClient(t *testing.T) {
	port := testenv.FreePort(t)
	p := start(t, port, nil, "--port", strconv.Itoa(port))
	wsURL := p.WSURL
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	subs := make([]*client.Client, 300)
	for i := range subs {
		c, err := client.Dial(ctx, client.Options{URL: wsURL, Key: "quaver-key"})
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		t.Cleanup(c.Close)
		subs[i] = c
	}
	stop(t, p)
	codes := map[int]int{}
	for _, c := range subs {
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatal("a client is still connected after the server exited")
		}
		code, _ := c.CloseCode()
		codes[code]++
	}
	if codes[4200] != len(subs) {
		t.Fatalf("close codes seen by %d clients: %v, want 4200 for all", len(subs), codes)
	}
}

// TestGCPercent: without GOGC the server collects at gcPercent; with GOGC
// set, the runtime's reading of it stands.
func TestGCPercent(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	setGCPercent(func(string) (string, bool) { return "50", true })
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("with GOGC set, GC percent %d, want it left at 100", got)
	}
	setGCPercent(func(string) (string, bool) { return "", false })
	if got := debug.SetGCPercent(100); got != gcPercent {
		t.Fatalf("without GOGC, GC percent %d, want %d", got, gcPercent)
	}
}
