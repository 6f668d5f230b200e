// Package browser drives a headless Chromium for end-to-end tests of what a
// user's browser shows: pages served by the test, real browser networking
// (CORS, WebSockets, XHR streaming), the DOM the page builds, and
// screenshots kept as test artifacts.
//
// Start runs one Chromium (headless, --no-sandbox because tests run as
// root, a temporary profile) for the test; Open loads a page in a new tab.
// Page methods fail the test on error, so a test reads as what a user does
// and sees. Waiting is by polling a JavaScript condition (WaitUntil), never
// by sleeping. When the test fails, each page's console messages and
// uncaught exceptions are logged.
//
// Chromium is the Debian package chromium, installed by
// scripts/test-deps.sh; QUAVER_CHROMIUM names another binary.
package browser

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/quaver-dev/quaver/internal/testenv"
)

// DefaultTimeout bounds each page action and WaitUntil without a timeout.
const DefaultTimeout = 15 * time.Second

// Browser is one headless Chromium, closed when the test ends.
type Browser struct {
	t   testing.TB
	ctx context.Context // the browser's first tab; new tabs derive from it
}

// Option changes how Chromium starts.
type Option func(*[]chromedp.ExecAllocatorOption)

// Flag adds a Chromium command-line flag (without the leading dashes);
// value is true for a switch or a string.
func Flag(name string, value any) Option {
	return func(o *[]chromedp.ExecAllocatorOption) { *o = append(*o, chromedp.Flag(name, value)) }
}

// WindowSize sets the window, and so the screenshot, size in pixels.
// Default 1024×768.
func WindowSize(width, height int) Option {
	return func(o *[]chromedp.ExecAllocatorOption) { *o = append(*o, chromedp.WindowSize(width, height)) }
}

// Start runs Chromium for t and stops it when t ends.
func Start(t testing.TB, options ...Option) *Browser {
	t.Helper()
	exe := executable(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1024, 768),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
	}
	for _, o := range options {
		o(&opts)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// Running no action starts the browser and its first tab. It runs on
	// ctx itself: the first run ties the browser's life to its context.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("browser: starting %s: %v", exe, err)
	}
	return &Browser{t: t, ctx: ctx}
}

// executable finds the Chromium binary.
func executable(t testing.TB) string {
	if p := os.Getenv("QUAVER_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatalf("browser: chromium is not installed (run ./scripts/test-deps.sh)")
	return ""
}

// Page is one browser tab.
type Page struct {
	t   testing.TB
	ctx context.Context

	mu      sync.Mutex // guards console
	console []string
}

// Open loads url in a new tab and waits for its load event. The tab is
// closed when the test ends.
func (b *Browser) Open(url string) *Page {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	p := &Page{t: b.t, ctx: ctx}
	// Subscribed before the navigation, so nothing the page logs is missed.
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m.String()) // "type: text"
			p.mu.Unlock()
		}
	}()
	b.t.Cleanup(func() {
		if b.t.Failed() {
			b.t.Logf("browser console of %s:\n%s", url, strings.Join(p.Console(), "\n"))
		}
		cancel()
	})
	// The first run opens the tab and ties it to ctx, so it has no
	// timeout of its own.
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("browser: opening a tab: %v", err)
	}
	if err := p.do(chromedp.Navigate(url)); err != nil {
		b.t.Fatalf("browser: opening %s: %v", url, err)
	}
	return p
}

func (p *Page) do(actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.ctx, DefaultTimeout)
	defer cancel()
	return chromedp.Do(ctx, actions...)
}

// Console returns the page's console messages and uncaught exceptions so
// far, each as "type: text".
func (p *Page) Console() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.console...)
}

// Eval evaluates a JavaScript expression and decodes its JSON value into v
// (unless v is nil). A promise is awaited.
func (p *Page) Eval(expression string, v any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, DefaultTimeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expression, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("browser: evaluating %s: %v", expression, err)
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			p.t.Fatalf("browser: decoding %s from %s: %v", raw, expression, err)
		}
	}
}

// WaitUntil polls a JavaScript expression until it is truthy, for up to
// timeout (DefaultTimeout when zero), and fails the test otherwise; what
// names the condition in the failure.
func (p *Page) WaitUntil(what, expression string, timeout time.Duration) {
	p.t.Helper()
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(p.ctx, timeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expression,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		p.t.Fatalf("browser: waiting until %s (%s): %v", what, expression, err)
	}
}

// Text returns the text content of the first element matching a CSS
// selector, waiting for it to exist.
func (p *Page) Text(selector string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, DefaultTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(selector)))
	if err != nil {
		p.t.Fatalf("browser: text of %s: %v", selector, err)
	}
	return s
}

// Click clicks the first element matching a CSS selector.
func (p *Page) Click(selector string) {
	p.t.Helper()
	if err := p.do(chromedp.Click(chromedp.CSS(selector))); err != nil {
		p.t.Fatalf("browser: clicking %s: %v", selector, err)
	}
}

// Type focuses the first element matching a CSS selector and types text
// into it as key presses ("\r" presses Enter).
func (p *Page) Type(selector, text string) {
	p.t.Helper()
	if err := p.do(chromedp.SendKeys(chromedp.CSS(selector), text)); err != nil {
		p.t.Fatalf("browser: typing into %s: %v", selector, err)
	}
}

// Screenshot saves a PNG of the whole page as testdata/artifacts/name.png
// in the repository (ignored by git) and returns its path.
func (p *Page) Screenshot(name string) string {
	p.t.Helper()
	dir := filepath.Join(testenv.RepoRoot(p.t), "testdata", "artifacts")
	path := filepath.Join(dir, name+".png")
	p.ScreenshotTo(path)
	return path
}

// ScreenshotTo saves a PNG of the whole page at path.
func (p *Page) ScreenshotTo(path string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, DefaultTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.MkdirAll(filepath.Dir(path), 0o755)
	}
	if err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	if err != nil {
		p.t.Fatalf("browser: screenshot %s: %v", path, err)
	}
}

// Reload reloads the page, as a user pressing F5, and waits for the new
// page's load event.
func (p *Page) Reload() {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, DefaultTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Reload()); err != nil {
		p.t.Fatalf("browser: reload: %v", err)
	}
}
