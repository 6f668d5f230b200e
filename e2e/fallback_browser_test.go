package e2e

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/internal/browser"
	"github.com/quaver-dev/quaver/internal/testenv"
)

// fallbackPage is a page of an app on its own origin that streams an AI
// answer with Laravel Echo. Its configuration lists the HTTP fallback
// transports, as the README says, and otherwise leaves pusher-js to pick.
const fallbackPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>Quaver: WebSockets blocked</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; margin: 2em; max-width: 46em; color: #222; }
  #transport { display: inline-block; padding: .1em .6em; border-radius: 1em; background: #e8f0fe; }
  #answer { white-space: pre-wrap; border: 1px solid #ccc; border-radius: .5em; padding: 1em; min-height: 6em; }
</style>
<script src="/pusher.js"></script>
<script src="/echo.js"></script>
</head><body>
<h1>Assistant</h1>
<p>Connection: <span id="state">starting</span> via <span id="transport">?</span></p>
<div id="answer"></div>
<script>
  const cfg = %s;
  window.echo = new Echo.default({
    broadcaster: 'reverb', key: cfg.key, Pusher,
    wsHost: cfg.host, wsPort: cfg.port, wssPort: cfg.port, forceTLS: false,
    enabledTransports: ['ws', 'wss', 'xhr_streaming', 'xhr_polling'],
    httpHost: cfg.host, httpPort: cfg.port, httpPath: '/pusher',
  });
  const pusher = echo.connector.pusher;
  window.subscribed = false;
  pusher.connection.bind('state_change', ({current}) => {
    document.getElementById('state').textContent = current;
    const c = pusher.connection.connection;
    document.getElementById('transport').textContent = c && c.transport ? c.transport.name : '?';
  });
  echo.channel('answers')
    .subscribed(() => { window.subscribed = true; })
    .listen('.token', (e) => { document.getElementById('answer').textContent += e.delta; });
</script>
</body></html>`

// blockingProxy stands for a network that breaks WebSockets: it forwards
// plain HTTP to the server and refuses every WebSocket upgrade.
func blockingProxy(t *testing.T, target string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	proxy.FlushInterval = -1 // pass streamed responses on at once
	refused := new(atomic.Int64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			refused.Add(1)
			http.Error(w, "WebSockets are not allowed on this network", http.StatusForbidden)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, refused
}

// Laravel Echo in headless Chromium, on a page whose WebSocket to Quaver
// is refused by the network: pusher-js falls back to HTTP by itself, across
// origins (CORS), and the page shows a whole token stream.
func TestFallbackBrowser(t *testing.T) {
	t.Parallel()
	h := start(t, editTestApp(func(a *config.App) { a.AllowedOrigins = []string{"127.0.0.1"} }))
	proxy, refused := blockingProxy(t, h.srv.URL)
	proxyURL, _ := url.Parse(proxy.URL)
	proxyPort, _ := strconv.Atoi(proxyURL.Port())

	root := testenv.RepoRoot(t)
	files := map[string]string{
		"/pusher.js": filepath.Join(root, "e2e", "js", "node_modules", "pusher-js", "dist", "web", "pusher.min.js"),
		"/echo.js":   filepath.Join(root, "e2e", "js", "node_modules", "laravel-echo", "dist", "echo.iife.js"),
	}
	cfg := fmt.Sprintf(`{"key": %q, "host": "127.0.0.1", "port": %d}`, h.srv.Config.Apps[0].Key, proxyPort)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if file, ok := files[r.URL.Path]; ok {
			w.Header().Set("Content-Type", "text/javascript")
			b, err := os.ReadFile(file)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			_, _ = w.Write(b)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = fmt.Fprintf(w, fallbackPage, cfg)
	}))
	t.Cleanup(page.Close)

	p := browser.Start(t).Open(page.URL)
	// pusher-js tries ws, then wss, and after 5 s the HTTP transports.
	p.WaitUntil("Echo is connected and subscribed", `window.subscribed === true`, 30*time.Second)
	var transport string
	p.Eval(`pusher.connection.connection.transport.name`, &transport)
	if transport != "xhr_streaming" && transport != "xhr_polling" {
		t.Fatalf("connected over %q, want an HTTP fallback transport", transport)
	}
	if refused.Load() == 0 {
		t.Fatal("the page never tried a WebSocket")
	}
	if got := transportConnections(t, h.srv.URL); got[transport] != 1 || got["ws"] != 0 {
		t.Fatalf("/up connections %v", got)
	}

	// An answer streamed token by token through the HTTP API.
	answer := "When a corporate proxy or a mobile network breaks WebSockets, " +
		"pusher-js quietly switches to HTTP streaming, and Quaver keeps every " +
		"token of the answer flowing to the page, in order, with nothing lost."
	words := strings.SplitAfter(answer, " ")
	for len(words) < 50 {
		// Split the longest word in two, so there are 50 tokens.
		longest := 0
		for i, w := range words {
			if len(w) > len(words[longest]) {
				longest = i
			}
		}
		w := words[longest]
		words = append(words[:longest], append([]string{w[:len(w)/2], w[len(w)/2:]}, words[longest+1:]...)...)
	}
	for i, token := range words {
		h.trigger("answers", "token", args{"stream": "s1", "seq": i, "delta": token})
	}
	p.WaitUntil("the page shows the whole answer", fmt.Sprintf(`document.getElementById('answer').textContent === %q`, answer), 0)
	if got := p.Text("#transport"); got != transport {
		t.Errorf("the page shows transport %q", got)
	}
	t.Logf("screenshot: %s", p.Screenshot("fallback-echo"))
}
