package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/internal/browser"
	"github.com/quaver-dev/quaver/internal/redistest"
	"github.com/quaver-dev/quaver/internal/testserver"
	"github.com/quaver-dev/quaver/protocol"
)

// shown is the JavaScript for the value the dashboard shows for one
// series of one figure ("" while there is none).
func shown(figure, series string) string {
	return fmt.Sprintf(`((document.querySelector('[data-figure=%q] [data-series=%q] b') || {}).textContent || '')`, figure, series)
}

// tokenSubscriber connects a Go client to the test app, subscribes it to
// channel and counts the token events it receives.
func tokenSubscriber(t *testing.T, srv *testserver.Server, channel string, tokens *atomic.Int64) *client.Client {
	t.Helper()
	subscribed := make(chan struct{}, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, client.Options{URL: srv.WSURL, Key: testserver.AppKey, Secret: testserver.AppSecret,
		OnEvent: func(e client.Event) {
			switch e.Event {
			case protocol.EventSubscriptionSucceeded:
				subscribed <- struct{}{}
			case "token":
				tokens.Add(1)
			}
		}})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(c.Close)
	if err := c.Subscribe(channel, client.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-subscribed:
	case <-ctx.Done():
		t.Fatalf("no subscription to %s", channel)
	}
	return c
}

// streamAnswers publishes token streams to channel through the HTTP API,
// one token every 25 ms and a new answer every 8 tokens, as a model worker
// would, until the test ends. Each answer's user asked 300 ms before its
// first token.
func streamAnswers(t *testing.T, srv *testserver.Server, channel string) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
	})
	api := &client.API{BaseURL: srv.URL, AppID: testserver.AppID, Key: testserver.AppKey, Secret: testserver.AppSecret}
	go func() {
		defer close(done)
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for answer := 0; ; answer++ {
			for seq := range 8 {
				data := args{"stream": fmt.Sprintf("answer-%d", answer), "seq": seq, "delta": "word "}
				switch seq {
				case 0:
					data["requested_at"] = time.Now().Add(-300 * time.Millisecond).UnixMilli()
				case 7:
					data = args{"stream": data["stream"], "seq": seq, "done": true}
				}
				b, _ := json.Marshal(data)
				if _, err := api.Trigger(ctx, client.TriggerEvent{Name: "token", Channels: []string{channel}, Data: string(b)}); err != nil {
					if ctx.Err() == nil {
						t.Errorf("trigger: %v", err)
					}
					return
				}
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		}
	}()
}

// milliseconds reads a duration the dashboard shows, "12.3 ms", or "≤ 10 ms"
// and "> 10 s" where the histogram's buckets only bound it: the bound
// ("", "≤" or ">") and the value in milliseconds.
func milliseconds(t *testing.T, what, text string) (string, float64) {
	t.Helper()
	m := regexp.MustCompile(`^(?:(≤|>) )?([0-9.]+) (ms|s)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("%s shows %q, want a duration", what, text)
	}
	v, err := strconv.ParseFloat(m[2], 64)
	if err != nil {
		t.Fatalf("%s shows %q: %v", what, text, err)
	}
	if m[3] == "s" {
		v *= 1000
	}
	return m[1], v
}

// An operator opens /dashboard in Chromium, with no network but the
// node's, on a node with Redis and two apps, while a worker streams
// answers to three subscribers of one app. From the third reading of the
// metrics on, the page shows that app's 3 connections, the rate of frames
// out the subscribers receive, API delivery latency p50 and p99 in
// milliseconds, time to first token from the user's request (300 ms) and
// from ingest, the gap between tokens (25 ms), and Redis up; it loads
// nothing but itself and the metrics. It follows a client leaving, and the
// selector switches to the other app.
func TestDashboard(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	srv := testserver.Start(t, func(c *config.Config) {
		c.Redis.URL = r.URL()
		c.Apps[0].Channels = aiRules(0)
	}, withApp("other-app", "other-key", nil))
	const ch = "private-ai-dashboard"
	var tokens atomic.Int64
	var subscribers []*client.Client
	for range 3 {
		subscribers = append(subscribers, tokenSubscriber(t, srv, ch, &tokens))
	}
	dialRaw(t, srv, "other-key", "", nil)
	started := time.Now()
	streamAnswers(t, srv, ch)

	// Any address but the node's goes to a proxy that is not there
	// (Chromium never sends loopback through a proxy).
	b := browser.Start(t, browser.WindowSize(1280, 900), browser.Flag("proxy-server", "http://127.0.0.1:9"))
	p := b.Open(srv.URL + "/dashboard")
	p.WaitUntil("the third reading of the metrics", `Number(document.body.dataset.scrapes) >= 3`, 15*time.Second)
	// Figures computed against a reading before them, and a line in the
	// charts through the last two.
	p.WaitUntil("a line in the API latency chart", `/L/.test(document.querySelector('[data-figure="latency-api"] path').getAttribute('d'))`, 5*time.Second)
	frames := float64(tokens.Load()) / time.Since(started).Seconds()
	if tokens.Load() == 0 {
		t.Fatal("the subscribers received no tokens")
	}

	var got map[string]string
	p.Eval(`Object.fromEntries([...document.querySelectorAll('[data-series]')].map(e =>
		[e.closest('[data-figure]').dataset.figure + ' ' + e.dataset.series, e.querySelector('b').textContent]))`, &got)
	t.Logf("the dashboard shows %v; the subscribers received %.0f tokens/s", got, frames)
	if got["connections total"] != "3" || got["connections ws"] != "3" {
		t.Errorf("connections show %q, over ws %q; want 3 and 3", got["connections total"], got["connections ws"])
	}
	if got["channels channels"] != "1" || got["coalescing coalesced"] != "0 %" {
		t.Errorf("channels %q, coalescing %q; want 1, 0 %%", got["channels channels"], got["coalescing coalesced"])
	}
	// Frames out are the tokens the subscribers receive (and little else).
	out := regexp.MustCompile(`^([0-9.]+)/s$`).FindStringSubmatch(got["messages out"])
	if out == nil {
		t.Errorf("messages out show %q, want a rate", got["messages out"])
	} else if v, _ := strconv.ParseFloat(out[1], 64); v < frames/2 || v > frames*1.5 {
		t.Errorf("messages out show %s/s; the subscribers receive %.0f tokens/s", out[1], frames)
	}
	// A histogram estimate is at least half its lowest bucket's bound
	// (0.5 ms): a value in seconds shown as milliseconds would be far less.
	var api [2]float64
	for i, q := range []string{"p50", "p99"} {
		_, api[i] = milliseconds(t, "API delivery latency "+q, got["latency-api "+q])
		if api[i] < 0.2 || api[i] >= 1000 {
			t.Errorf("API delivery latency %s = %v ms", q, api[i])
		}
	}
	if api[0] > api[1] {
		t.Errorf("API delivery latency p50, p99 = %v ms", api)
	}
	if _, ms := milliseconds(t, "time to first token from ingest", got["ttft-ingest p50"]); ms >= 1000 {
		t.Errorf("time to first token from ingest, p50 = %v ms", ms)
	}
	// The user asked 300 ms before the first token was published.
	if bound, ms := milliseconds(t, "time to first token from the request", got["ttft-request p50"]); bound != "" || ms < 250 || ms >= 1000 {
		t.Errorf("time to first token from the request, p50 = %s %v ms, want about 300", bound, ms)
	}
	// Tokens come every 25 ms.
	if _, ms := milliseconds(t, "gap between tokens", got["gap p50"]); ms < 5 || ms >= 500 {
		t.Errorf("gap between tokens, p50 = %v ms, want about 25", ms)
	}
	if got["redis redis"] != "up" {
		t.Errorf("Redis shows %q, want up", got["redis redis"])
	}
	// Nothing loaded but the page and its metrics.
	var loaded []string
	p.Eval(`performance.getEntriesByType('resource').map(e => e.name)`, &loaded)
	if !slices.Contains(loaded, srv.URL+"/metrics") {
		t.Errorf("the page loaded %q, not /metrics", loaded)
	}
	for _, url := range loaded {
		if url != srv.URL+"/metrics" {
			t.Errorf("the page loaded %s", url)
		}
	}

	// A subscriber leaves.
	subscribers[0].Close()
	p.WaitUntil("the dashboard shows 2 connections", shown("connections", "total")+` === "2"`, 10*time.Second)
	p.Screenshot("dashboard")

	// The other app, chosen in the selector.
	var options []string
	p.Eval(`[...document.querySelectorAll('#app option')].map(o => o.value)`, &options)
	if strings.Join(options, ",") != "other-app,test-app" {
		t.Fatalf("the app selector offers %q", options)
	}
	p.Eval(`(s => { s.value = 'other-app'; s.dispatchEvent(new Event('change')); })(document.getElementById('app'))`, nil)
	p.WaitUntil("other-app's one connection", shown("connections", "total")+` === "1"`, 5*time.Second)
	if title := p.Text("h2"); title != "app other-app" {
		t.Errorf("section title %q, want app other-app", title)
	}

	for _, m := range p.Console() {
		if strings.HasPrefix(m, "error") || strings.HasPrefix(m, "exception") {
			t.Errorf("browser console: %s", m)
		}
	}
}

// The dashboard's arithmetic, in the page itself: the Prometheus text
// format (escaped label values, timestamps, +Inf), counter rates with
// restarts, and latency percentiles over the last interval as
// histogram_quantile computes them, shown as a bound where the buckets
// give no more. On a node without Redis or any app activity, the page
// says so and shows no Redis figure.
func TestDashboardEstimates(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	p := browser.Start(t).Open(srv.URL + "/dashboard")

	const before = `# HELP x_total A counter.
# TYPE x_total counter
x_total{app="a",path="C:\\dir \"q\"\nnext, {b}"} 10 1700000000000
h_bucket{app="a",le="0.001"} 1
h_bucket{app="a",le="0.0025"} 1
h_bucket{app="a",le="0.005"} 1
h_bucket{app="a",le="0.01"} 1
h_bucket{app="a",le="+Inf"} 1
`
	const after = `x_total{app="a",path="C:\\dir \"q\"\nnext, {b}"} 30 1700000002000
x_total{app="b"} 4
h_bucket{app="a",le="0.001"} 1
h_bucket{app="a",le="0.0025"} 3
h_bucket{app="a",le="0.005"} 9
h_bucket{app="a",le="0.01"} 11
h_bucket{app="a",le="+Inf"} 11
h_bucket{app="b",le="0.001"} 0
h_bucket{app="b",le="0.0025"} 0
h_bucket{app="b",le="0.005"} 0
h_bucket{app="b",le="0.01"} 0
h_bucket{app="b",le="+Inf"} 1
`
	in, _ := json.Marshal([]string{before, after})
	type estimate struct {
		Value float64
		Bound string
	}
	var got struct {
		Path                       string
		Rate, Restarted, Absent    float64
		P50, P99, Restart50, Inf99 float64
		Empty                      bool
		Shown                      struct{ P50, Lowest, Inf estimate }
	}
	p.Eval(fmt.Sprintf(`(([before, after]) => {
		const prev = Prom.scrape(before, 0), cur = Prom.scrape(after, 2000);
		const bs = Prom.buckets(cur, prev, 'h', {app: 'a'});
		return {
			path: Prom.select(cur, 'x_total', {app: 'a'})[0].labels.path,
			rate: Prom.rate(cur, prev, 'x_total', {app: 'a'}),
			restarted: Prom.rate(prev, {...cur, t: -2000}, 'x_total', {app: 'a'}),
			absent: Prom.rate(cur, prev, 'y_total', {app: 'a'}),
			p50: Prom.quantile(.5, bs), p99: Prom.quantile(.99, bs),
			restart50: Prom.quantile(.5, Prom.buckets(cur, Prom.scrape(after.replace(/} 11$/gm, '} 20'), 0), 'h', {app: 'a'})),
			inf99: Prom.quantile(.99, Prom.buckets(cur, prev, 'h', {})),
			empty: Number.isNaN(Prom.quantile(.99, Prom.buckets(cur, cur, 'h', {app: 'a'}))),
			shown: {
				p50: Prom.estimate(.5, bs),
				lowest: Prom.estimate(.99, [[0.001, 5], [0.0025, 5], [Infinity, 5]]),
				inf: Prom.estimate(.99, Prom.buckets(cur, prev, 'h', {})),
			},
		};
	})(%s)`, in), &got)

	if want := "C:\\dir \"q\"\nnext, {b}"; got.Path != want {
		t.Errorf("label value %q, want %q", got.Path, want)
	}
	for _, c := range []struct {
		what      string
		got, want float64
	}{
		{"rate of 10 → 30 in 2 s", got.Rate, 10},
		{"rate after a restart (30, then 10 two seconds later)", got.Restarted, 5},
		{"rate of an absent counter", got.Absent, 0},
		// The interval's 10 observations: 2 in (1, 2.5] ms, 6 in (2.5, 5], 2 in (5, 10].
		{"p50 over the interval", got.P50, 0.00375},
		{"p99 over the interval", got.P99, 0.00975},
		// After a restart the counts since it: 11 observations.
		{"p50 after a restart", got.Restart50, 0.0025 + 0.0025*2.5/6},
		// Summed over both apps, the 11th observation is in the +Inf bucket.
		{"p99 in the +Inf bucket", got.Inf99, 0.01},
	} {
		if math.Abs(c.got-c.want) > 1e-12 {
			t.Errorf("%s = %v, want %v", c.what, c.got, c.want)
		}
	}
	if !got.Empty {
		t.Error("an interval without observations has a p99")
	}
	// Where the buckets only bound a quantile, the page shows the bound.
	for _, c := range []struct {
		what      string
		got, want estimate
	}{
		{"p50 within the buckets", got.Shown.P50, estimate{0.00375, ""}},
		{"p99 in the lowest bucket", got.Shown.Lowest, estimate{0.001, "≤"}},
		{"p99 in the +Inf bucket", got.Shown.Inf, estimate{0.01, ">"}},
	} {
		if c.got.Bound != c.want.Bound || math.Abs(c.got.Value-c.want.Value) > 1e-12 {
			t.Errorf("%s shows %+v, want %+v", c.what, c.got, c.want)
		}
	}

	p.WaitUntil("the page has read the metrics", `document.getElementById('status').textContent.startsWith('updated')`, 0)
	if h := p.Text("h2"); h != "No app has had a connection yet" {
		t.Errorf("first heading %q", h)
	}
	var redis bool
	p.Eval(`!!document.querySelector('[data-figure="redis"]')`, &redis)
	if redis {
		t.Error("a node without Redis shows Redis health")
	}
}
