package examples_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/internal/browser"
	"github.com/quaver-dev/quaver/internal/redistest"
	"github.com/quaver-dev/quaver/internal/testenv"
	"github.com/quaver-dev/quaver/internal/testserver"
)

// chatConfig is the demo's configuration (chat/quaver.yaml) on a test Redis.
func chatConfig(t *testing.T, r *redistest.Server) func(*config.Config) {
	t.Helper()
	demo, err := config.Load(config.Sources{File: "chat/quaver.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	return func(c *config.Config) {
		c.Apps = demo.Apps
		c.Redis.URL = r.URL()
	}
}

// tokenReader follows the token convention over a Go client: it replaces
// its text on "text", appends "delta", ignores seqs already seen.
type tokenReader struct {
	text string
	seq  int64
	done bool
}

func (tr *tokenReader) take(data string) {
	var tok struct {
		Seq   int64   `json:"seq"`
		Delta string  `json:"delta"`
		Text  *string `json:"text"`
		Done  bool    `json:"done"`
	}
	if json.Unmarshal([]byte(data), &tok) != nil || tok.Seq <= tr.seq && tr.seq >= 0 {
		return
	}
	if tok.Text != nil {
		tr.text = *tok.Text
	} else {
		tr.text += tok.Delta
	}
	tr.seq, tr.done = tok.Seq, tr.done || tok.Done
}

// readStream reads token events from sub until the stream is done.
func readStream(t *testing.T, sub *client.Client, channel string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr := &tokenReader{seq: -1}
	for !tr.done {
		e, err := sub.NextMatching(ctx, func(e client.Event) bool { return e.Event == "token" && e.Channel == channel })
		if err != nil {
			t.Fatalf("reading the stream (text so far %q): %v", tr.text, err)
		}
		tr.take(e.DataString())
	}
	return tr.text
}

// The Python producer streams a generation through the HTTP API, to a node
// without Redis.
func TestStreamPythonOverHTTP(t *testing.T) {
	srv := testserver.Start(t, func(c *config.Config) {
		c.Apps = []config.App{{ID: config.DevAppID, Key: config.DevAppKey, Secret: config.DevAppSecret,
			Channels: []config.ChannelRule{{Prefix: "private-ai-", Tokens: true}}}}
	})
	const ch = "private-ai-chat.py"
	sub := subscribe(t, srv, config.DevAppKey, config.DevAppSecret, ch)
	text := "Tokens from Python, over the HTTP API, in order — ünïcode too."
	out, err := script{"python", "python3", "python/stream.py"}.run(t,
		[]string{"QUAVER_URL=" + srv.URL, "QUAVER_TOKENS_PER_SECOND=500"}, ch, text)
	if err != nil {
		t.Fatalf("stream.py: %v\n%s", err, out)
	}
	if got := readStream(t, sub, ch); got != text {
		t.Fatalf("subscriber assembled %q, want %q", got, text)
	}
}

// The PHP producer XADDs tokens to the ingest stream with php-redis.
func TestStreamPHPOverRedis(t *testing.T) {
	r := redistest.Start(t)
	srv := testserver.Start(t, chatConfig(t, r))
	const ch = "private-ai-chat.php"
	sub := subscribe(t, srv, config.DevAppKey, config.DevAppSecret, ch)
	text := "Tokens from PHP, through a Redis Stream, in order."
	out, err := script{"php", "php", "php/stream.php"}.run(t,
		[]string{"REDIS_PORT=" + strconv.Itoa(r.Port), "QUAVER_TOKENS_PER_SECOND=500"}, ch, text)
	if err != nil {
		t.Fatalf("stream.php: %v\n%s", err, out)
	}
	if got := readStream(t, sub, ch); got != text {
		t.Fatalf("subscriber assembled %q, want %q", got, text)
	}
}

// startWorker runs the PHP worker against r until the test ends.
func startWorker(t *testing.T, r *redistest.Server) {
	t.Helper()
	cmd := exec.Command("php", "php/worker.php")
	cmd.Env = testenv.Environ("REDIS_PORT="+strconv.Itoa(r.Port), "QUAVER_TOKENS_PER_SECOND=40", "WORKER_NAME=test-worker")
	log := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("php worker.php: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("worker log:\n%s", log)
		}
	})
}

// A prompt whispered on the chat channel reaches the worker through the
// inbound stream, and its answer streams back.
func TestWorkerAnswersPrompts(t *testing.T) {
	r := redistest.Start(t)
	srv := testserver.Start(t, chatConfig(t, r))
	startWorker(t, r)
	const ch = "private-ai-chat.worker"
	sub := subscribe(t, srv, config.DevAppKey, config.DevAppSecret, ch)
	time.Sleep(300 * time.Millisecond) // the worker creates its consumer group
	if err := sub.Trigger(ch, "client-prompt", map[string]string{"text": "what is Quaver?"}); err != nil {
		t.Fatal(err)
	}
	got := readStream(t, sub, ch)
	if !strings.HasPrefix(got, `You asked: "what is Quaver?". Here is a streamed answer.`) || !strings.HasSuffix(got, "any more.") {
		t.Fatalf("answer %q", got)
	}
}

// The chat page in a real browser: Laravel Echo shows the answer as it
// streams, and a reload in the middle of it shows the whole answer after
// all. The test keeps a screenshot.
func TestChatPageInBrowser(t *testing.T) {
	r := redistest.Start(t)
	srv := testserver.Start(t, chatConfig(t, r))
	startWorker(t, r)
	port := testenv.FreePort(t)
	page := exec.Command("python3", "chat/server.py")
	page.Env = testenv.Environ("CHAT_PORT="+strconv.Itoa(port), "QUAVER_PORT="+strconv.Itoa(srv.Port))
	if err := page.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = page.Process.Kill(); _ = page.Wait() })
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/?room=browser"
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat("chat/index.html"); err == nil && reachable(url) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the chat page server did not start")
		}
	}

	b := browser.Start(t, browser.WindowSize(900, 700))
	p := b.Open(url)
	p.WaitUntil("the page is subscribed", `document.getElementById('status').textContent.startsWith('connected to')`, 0)
	p.Type("#prompt", "stream me something")
	p.Click("#send")
	p.WaitUntil("the answer is streaming", `(() => { const m = document.querySelector('.msg.ai'); return m && m.textContent.length > 40 && m.dataset.done !== 'true'; })()`, 0)
	p.Reload()
	p.WaitUntil("the reloaded page is subscribed", `document.getElementById('status').textContent.startsWith('connected to')`, 0)
	p.WaitUntil("the whole answer is shown after the reload", `(() => { const m = document.querySelector('.msg.ai'); return m && m.dataset.done === 'true'; })()`, 20*time.Second)
	got := p.Text(".msg.ai")
	want := `You asked: "stream me something". Here is a streamed answer.`
	if !strings.HasPrefix(got, want) || !strings.HasSuffix(got, "any more.") {
		t.Fatalf("the page shows %q", got)
	}
	shot := p.Screenshot("chat-page-after-reload")
	if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	t.Logf("screenshot: %s", filepath.Clean(shot))
}

func reachable(url string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "python3", "-c", "import urllib.request,sys; urllib.request.urlopen(sys.argv[1])", url)
	return cmd.Run() == nil
}
