package browser_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quaver-dev/quaver/internal/browser"
)

const page = `<!doctype html>
<title>browser test</title>
<p id="status">loading</p>
<input id="message"><button id="send" onclick="send()">Send</button>
<ul id="log"></ul>
<script>
  // The page fetches from its own server, as a real page would.
  fetch('/data').then(r => r.text()).then(t => {
    document.getElementById('status').textContent = 'fetched ' + t;
  });
  function send() {
    const li = document.createElement('li');
    li.textContent = document.getElementById('message').value;
    document.getElementById('log').append(li);
  }
  console.log('page script ran');
</script>`

// A page served by the test loads, runs its script, fetches from its
// server, reacts to typing and clicks, answers evaluations and can be
// photographed.
func TestPage(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/data" {
			_, _ = w.Write([]byte("42"))
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	}))
	t.Cleanup(srv.Close)

	b := browser.Start(t)
	p := b.Open(srv.URL)
	p.WaitUntil("the page fetched its data", `document.getElementById('status').textContent === 'fetched 42'`, 0)
	if got := p.Text("#status"); got != "fetched 42" {
		t.Fatalf("status %q", got)
	}

	p.Type("#message", "hello from a user")
	p.Click("#send")
	p.WaitUntil("the message is listed", `document.querySelectorAll('#log li').length === 1`, 0)
	if got := p.Text("#log li"); got != "hello from a user" {
		t.Fatalf("listed %q", got)
	}

	var sum struct{ N int }
	p.Eval(`Promise.resolve({n: 40 + 2})`, &sum)
	if sum.N != 42 {
		t.Fatalf("eval gave %+v", sum)
	}
	if !strings.Contains(strings.Join(p.Console(), "\n"), "page script ran") {
		t.Fatalf("console %q", p.Console())
	}

	path := filepath.Join(t.TempDir(), "shot.png")
	p.ScreenshotTo(path)
	png, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 1000 {
		t.Fatalf("screenshot: %d bytes, %v", len(png), err)
	}
}
