package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/quaver-dev/quaver/internal/jsdriver"
	"github.com/quaver-dev/quaver/internal/redistest"
)

// pacingYAML is a test app with paced and unpaced channel rules, as an
// operator writes them.
const pacingYAML = `apps:
  - id: test-app
    key: test-key
    secret: test-secret
    max_batch_size: 100
    channels:
      - prefix: private-paced-
        tokens: true
        retain: 60
        pace_tokens: 25
      - prefix: private-chars-
        tokens: true
        retain: 60
        pace_chars: 100
      - prefix: private-fast-
        tokens: true
        retain: 60
`

// pacedNodes runs n real quaver processes with pacingYAML and the extra
// arguments.
func pacedNodes(t *testing.T, n int, extra ...string) *cluster {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "quaver.yaml")
	writeFile(t, cfg, pacingYAML)
	return startCluster(t, n, append(extra, "--config", cfg))
}

// burst triggers the tokens of one stream in a single HTTP batch request,
// so they reach the server at once, as a model's burst does; the last one
// is done when finish is set. It returns when the reply arrived, in the
// driver's clock (milliseconds).
func burst(t *testing.T, c *cluster, node int, channel, stream string, first int, deltas []string, finish bool) int64 {
	t.Helper()
	batch := make([]args, len(deltas))
	for i, d := range deltas {
		data := fmt.Sprintf(`{"stream":%q,"seq":%d,"delta":%q}`, stream, first+i, d)
		if finish && i == len(deltas)-1 {
			data = fmt.Sprintf(`{"stream":%q,"seq":%d,"delta":%q,"done":true}`, stream, first+i, d)
		}
		batch[i] = args{"channel": channel, "name": "token", "data": data}
	}
	r := c.d.Call("sdk.triggerBatch", args{"batch": batch, "sdk": fmt.Sprintf("n%d", node)})
	var res sdkResult
	if err := r.Field("result", &res); err != nil || res.Status != 200 {
		t.Fatalf("batch of %d tokens: %v %d %s", len(deltas), err, res.Status, res.Body)
	}
	return reportTime(t, r)
}

// reportTime is when the driver wrote a report (ms since it started).
func reportTime(t *testing.T, r jsdriver.Report) int64 {
	t.Helper()
	var ms int64
	if err := r.Field("t", &ms); err != nil {
		t.Fatalf("report without time: %s", r.Line)
	}
	return ms
}

// arrivals waits for n token events on a client's channel and returns when
// each arrived (ms, driver clock), in the order the client saw them.
func arrivals(t *testing.T, d *jsdriver.Driver, client, channel string, n int) []int64 {
	t.Helper()
	eventually(t, fmt.Sprintf("%s has %d tokens on %s", client, n, channel), func() bool {
		return len(d.Reports(jsdriver.Event(client, channel, "token"))) >= n
	})
	var out []int64
	for _, r := range d.Reports(jsdriver.Event(client, channel, "token")) {
		out = append(out, reportTime(t, r))
	}
	return out
}

// gaps returns the inter-arrival times.
func gaps(at []int64) []int64 {
	out := make([]int64, 0, len(at))
	for i := 1; i < len(at); i++ {
		out = append(out, at[i]-at[i-1])
	}
	return out
}

func median(v []int64) int64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// exactlyOnce checks that a client of the token convention shows want,
// took every seq from 0 to last in order, and was sent each once.
func exactlyOnce(t *testing.T, d *jsdriver.Driver, client, channel, want string, last int) {
	t.Helper()
	text, done, seqs := tokenText(t, d, client, channel)
	if text != want || !done {
		t.Fatalf("%s shows %q (done %v), want %q", client, text, done, want)
	}
	for i, s := range seqs {
		if s != int64(i) {
			t.Fatalf("%s took seq %d at position %d: tokens out of order or missing", client, s, i)
		}
	}
	if n := len(d.Reports(jsdriver.Event(client, channel, "token"))); n != last+1 || len(seqs) != last+1 {
		t.Fatalf("%s was sent %d token events (took %d), want each of %d once", client, n, len(seqs), last+1)
	}
}

// A burst of 30 tokens published in one HTTP request reaches a pusher-js
// client on a channel paced at 25 tokens per second one every 40 ms, the
// first at once; the same burst on an unpaced channel of the same app
// arrives at once. Each client shows the text exactly once, in order.
func TestPacedBurstReachesClientAtCadence(t *testing.T) {
	t.Parallel()
	c := pacedNodes(t, 1)
	const paced, fast = "private-paced-1", "private-fast-1"
	c.connect("reader", "pusher-js", nil)
	c.subscribe("reader", paced)
	c.subscribe("reader", fast)
	ws := words(30)
	want := strings.Join(ws, "")

	burst(t, c, 0, fast, "f1", 0, ws, true)
	fastAt := arrivals(t, c.d, "reader", fast, 30)
	exactlyOnce(t, c.d, "reader", fast, want, 29)
	if span := fastAt[29] - fastAt[0]; span > 100 {
		t.Errorf("the unpaced burst spread over %d ms, want it at once", span)
	}

	sent := burst(t, c, 0, paced, "p1", 0, ws, true)
	at := arrivals(t, c.d, "reader", paced, 30)
	exactlyOnce(t, c.d, "reader", paced, want, 29)
	g := gaps(at)
	span, med := at[29]-at[0], median(g)
	t.Logf("paced at 25/s: first token %d ms after the API reply, span %d ms (ideal 1160), median gap %d ms, gaps %v; unpaced burst span %d ms",
		at[0]-sent, span, med, g, fastAt[29]-fastAt[0])
	if first := at[0] - sent; first > 100 {
		t.Errorf("first paced token arrived %d ms after the API reply, want at once", first)
	}
	if span < 1100 || span > 1450 {
		t.Errorf("30 tokens at 25/s spread over %d ms, want about 1160", span)
	}
	if med < 35 || med > 46 {
		t.Errorf("median gap %d ms, want 40", med)
	}
	clumped := 0
	for _, x := range g {
		if x < 15 {
			clumped++
		}
	}
	if clumped > 2 {
		t.Errorf("%d of 29 gaps under 15 ms: the burst arrived in clumps, not at a cadence (%v)", clumped, g)
	}
}

// pace_chars: each token is followed by a pause of its characters over
// 100 per second, so short and long words arrive at gaps that follow
// their length.
func TestPacedByCharacters(t *testing.T) {
	t.Parallel()
	c := pacedNodes(t, 1)
	const ch = "private-chars-1"
	c.connect("reader", "pusher-js", nil)
	c.subscribe("reader", ch)
	var ws []string
	for i := range 20 {
		if i%2 == 0 {
			ws = append(ws, "ab ")
		} else {
			ws = append(ws, "ünïcødé ") // 8 characters, 12 bytes
		}
	}
	burst(t, c, 0, ch, "c1", 0, ws, true)
	at := arrivals(t, c.d, "reader", ch, 20)
	exactlyOnce(t, c.d, "reader", ch, strings.Join(ws, ""), 19)
	g := gaps(at)
	var short, long []int64
	for i, x := range g {
		if i%2 == 0 {
			short = append(short, x) // after "ab ": 30 ms
		} else {
			long = append(long, x) // after "ünïcødé ": 80 ms
		}
	}
	ideal := int64(0)
	for _, w := range ws[:19] {
		ideal += int64(utf8.RuneCountInString(w)) * 10
	}
	span := at[19] - at[0]
	t.Logf("paced at 100 chars/s: span %d ms (ideal %d), median gap after 3 chars %d ms, after 8 chars %d ms", span, ideal, median(short), median(long))
	if m := median(short); m < 25 || m > 40 {
		t.Errorf("median gap after a 3-character token %d ms, want 30 (%v)", m, short)
	}
	if m := median(long); m < 72 || m > 92 {
		t.Errorf("median gap after an 8-character token %d ms, want 80 (%v)", m, long)
	}
	if span < ideal-40 || span > ideal*5/4 {
		t.Errorf("span %d ms, want about %d", span, ideal)
	}
}

// A client that joins a paced channel while a burst is being released gets
// the text so far from history, which is ahead of the release. The paced
// tokens that follow and that its snapshot already holds are ignored by
// seq, as the token convention says, so it shows the text exactly once;
// and what is published after it joined reaches it too, at the cadence.
func TestPacedLateJoinShowsTextOnce(t *testing.T) {
	t.Parallel()
	c := pacedNodes(t, 1)
	const ch = "private-paced-late"
	c.connect("early", "pusher-js", nil)
	c.subscribe("early", ch)
	ws := words(40)
	want := strings.Join(ws, "")

	burst(t, c, 0, ch, "a1", 0, ws[:30], false)
	eventually(t, "early has 8 tokens", func() bool {
		return len(c.d.Reports(jsdriver.Event("early", ch, "token"))) >= 8
	})
	c.connect("late", "echo-reverb", nil)
	c.echoSubscribe("late", "private", "paced-late")
	first := c.d.Wait("late's snapshot", jsdriver.Event("late", ch, "token"))
	var snap struct {
		Seq  int64   `json:"seq"`
		Text *string `json:"text"`
	}
	if err := first.DecodeData(&snap); err != nil || snap.Text == nil {
		t.Fatalf("late's first token event %s, want the text so far", first.Data)
	}
	released := len(c.d.Reports(jsdriver.Event("early", ch, "token")))
	if int(snap.Seq) < released-1 || *snap.Text != strings.Join(ws[:snap.Seq+1], "") {
		t.Fatalf("snapshot at seq %d (%q), while %d tokens were released", snap.Seq, *snap.Text, released)
	}
	burst(t, c, 0, ch, "a1", 30, ws[30:], true)

	eventually(t, "both have the whole text", func() bool {
		a, doneA, _ := tokenText(t, c.d, "early", ch)
		b, doneB, _ := tokenText(t, c.d, "late", ch)
		return doneA && doneB && a == want && b == want
	})
	exactlyOnce(t, c.d, "early", ch, want, 39)
	text, _, seqs := tokenText(t, c.d, "late", ch)
	if text != want || seqs[0] != snap.Seq {
		t.Fatalf("late shows %q from seq %d", text, seqs[0])
	}
	for i, s := range seqs {
		if s != snap.Seq+int64(i) {
			t.Fatalf("late took seq %d at position %d after a snapshot at %d: a gap or reordering", s, i, snap.Seq)
		}
	}
	// Tokens the snapshot already held, released by the pacer after the
	// join, are not sent to the late client at all: even a client that
	// appends every delta shows the text once.
	sentLate := c.d.Reports(jsdriver.Event("late", ch, "token"))
	if len(sentLate) != len(seqs) {
		t.Errorf("late joined after %d tokens were released, its snapshot held seq %d; it was sent %d token events, %d of them repeating the snapshot",
			released, snap.Seq, len(sentLate), len(sentLate)-len(seqs))
	}
	// The tail after the join still comes at the cadence.
	tail := arrivals(t, c.d, "late", ch, len(sentLate))
	if g := gaps(tail[len(tail)-10:]); median(g) < 35 {
		t.Errorf("the tail after the late join arrived at gaps %v, want 40 ms", g)
	}
}

// Across nodes: a burst published on one node reaches a subscriber on
// another node (through Redis) paced by that node, and a subscriber on the
// publishing node paced too; both show the text once.
func TestPacedAcrossNodes(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	c := pacedNodes(t, 2, redisURLArgs(r)...)
	const ch = "private-paced-cluster"
	c.on(0, "local", "pusher-js", nil)
	c.subscribe("local", ch)
	c.on(1, "remote", "pusher-js", nil)
	c.subscribe("remote", ch)
	ws := words(20)
	want := strings.Join(ws, "")
	burst(t, c, 0, ch, "x1", 0, ws, true)
	for _, client := range []string{"local", "remote"} {
		at := arrivals(t, c.d, client, ch, 20)
		exactlyOnce(t, c.d, client, ch, want, 19)
		span, med := at[19]-at[0], median(gaps(at))
		t.Logf("%s: span %d ms (ideal 760), median gap %d ms", client, span, med)
		if span < 720 || span > 1000 || med < 35 || med > 46 {
			t.Errorf("%s: 20 tokens at 25/s over %d ms, median gap %d ms; want about 760 and 40", client, span, med)
		}
	}
}
