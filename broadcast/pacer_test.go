package broadcast

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/channels"
	"github.com/quaver-dev/quaver/protocol"
	"github.com/quaver-dev/quaver/scaling"
)

// fakeClock is a clock whose time moves only when Advance says; timers
// due meanwhile fire in order of their time, each at its own instant.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c    *fakeClock
	at   time.Time
	f    func()
	done bool // fired or stopped
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) stopper {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.done
	t.done = true
	return was
}

// Advance moves the clock by d, firing the timers due on the way.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.done && !t.at.After(end) && (next == nil || t.at.Before(next.at)) {
				next = t
			}
		}
		if next == nil {
			break
		}
		next.done = true
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
		c.mu.Lock()
	}
	c.now = end
	c.timers = slices.DeleteFunc(c.timers, func(t *fakeTimer) bool { return t.done })
	c.mu.Unlock()
}

// pending counts the armed timers.
func (c *fakeClock) pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, t := range c.timers {
		if !t.done {
			n++
		}
	}
	return n
}

// delivery is one frame the pacer released, and when.
type delivery struct {
	app, except string
	f           *protocol.Frame
	at          time.Duration // since the recorder started
}

// recorder collects what a pacer delivers.
type recorder struct {
	now   func() time.Time
	start time.Time
	mu    sync.Mutex
	got   []delivery
}

func (r *recorder) deliver(app string, f *protocol.Frame, except string) {
	at := r.now().Sub(r.start)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, delivery{app: app, except: except, f: f, at: at})
}

func (r *recorder) all() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// on returns the deliveries of one channel.
func (r *recorder) on(channel string) []delivery {
	var out []delivery
	for _, d := range r.all() {
		if d.f.Channel == channel {
			out = append(out, d)
		}
	}
	return out
}

// newFakePacer returns a pacer on a fake clock and what it delivers.
func newFakePacer() (*pacer, *fakeClock, *recorder) {
	c := newFakeClock()
	rec := &recorder{now: c.Now, start: c.Now()}
	p := newPacer(rec.deliver)
	p.clock = c
	return p, c, rec
}

func tokenFrame(channel, stream string, seq int64, delta string, done bool) *protocol.Frame {
	f := protocol.NewFrame("token", channel, protocol.TokenData(`"`+stream+`"`, seq, delta, false, done), protocol.DataString, "")
	f.Token = &protocol.Token{Stream: `"` + stream + `"`, Seq: seq, Delta: delta, Done: done}
	return f
}

func eventFrame(channel, name string) *protocol.Frame {
	return protocol.NewFrame(name, channel, `{}`, protocol.DataString, "")
}

// times returns the deliveries' times, rounded to the millisecond.
func times(ds []delivery) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.at.Round(time.Millisecond)
	}
	return out
}

func ms(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

// describe names the deliveries (event:seq) in order.
func describe(ds []delivery) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		if d.f.Token != nil {
			parts[i] = fmt.Sprintf("%d", d.f.Token.Seq)
		} else {
			parts[i] = d.f.Event
		}
	}
	return strings.Join(parts, " ")
}

// lanes sweeps the idle lanes (nothing queued, the last token's interval
// over), then counts the lanes left and their armed timers.
func (p *pacer) lanes() (lanes, timers int) {
	now := p.clock.Now()
	for i := range p.shards {
		sh := &p.shards[i]
		sh.mu.Lock()
		sh.sweep(now)
		for _, l := range sh.lanes {
			lanes++
			if l.timer != nil {
				timers++
			}
		}
		sh.mu.Unlock()
	}
	return lanes, timers
}

var paced50 = &apps.ChannelRule{Prefix: "ai-", Tokens: true, PaceTokens: 50}

// A burst of 20 tokens at 50 per second: the first goes at once, the
// others one every 20 ms, in order; once the queue has drained no lane and
// no timer is left.
func TestPacerTokensPerSecond(t *testing.T) {
	p, c, rec := newFakePacer()
	for i := range 20 {
		p.send("app", paced50, tokenFrame("ai-1", "s", int64(i), "x", false), "")
	}
	if got := times(rec.all()); !slices.Equal(got, ms(0)) {
		t.Fatalf("at once: %v, want only the first token at 0", got)
	}
	if lanes, timers := p.lanes(); lanes != 1 || timers != 1 || c.pending() != 1 {
		t.Fatalf("%d lanes, %d timers (%d armed on the clock) while a burst waits, want 1 and 1", lanes, timers, c.pending())
	}
	c.Advance(time.Second)
	want := make([]time.Duration, 20)
	for i := range want {
		want[i] = time.Duration(i) * 20 * time.Millisecond
	}
	got := rec.all()
	if !slices.Equal(times(got), want) {
		t.Fatalf("released at %v, want every 20 ms from 0: %v", times(got), want)
	}
	if d := describe(got); d != "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19" {
		t.Fatalf("order %s", d)
	}
	if lanes, timers := p.lanes(); lanes != 0 || timers != 0 || c.pending() != 0 {
		t.Fatalf("%d lanes, %d timers, %d armed after the queue drained; want none", lanes, timers, c.pending())
	}
}

// pace_chars: each token is followed by a pause of its characters (runes,
// not bytes) over the rate; with pace_tokens too, the longer pause wins.
func TestPacerCharsPerSecond(t *testing.T) {
	tests := []struct {
		name   string
		rule   apps.ChannelRule
		deltas []string
		want   []time.Duration
	}{
		{"chars only", apps.ChannelRule{Tokens: true, PaceChars: 100},
			[]string{"hello", "hi", "0123456789", "é界é", "x"}, ms(0, 50, 70, 170, 200)},
		{"both: tokens bound short deltas, chars long ones", apps.ChannelRule{Tokens: true, PaceTokens: 50, PaceChars: 100},
			[]string{"a", "b", "0123456789", "c", "d"}, ms(0, 20, 40, 140, 160)},
		{"chars only: an empty done token waits for the text before it", apps.ChannelRule{Tokens: true, PaceChars: 100},
			[]string{"0123456789", ""}, ms(0, 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, c, rec := newFakePacer()
			for i, d := range tt.deltas {
				p.send("app", &tt.rule, tokenFrame("ai-1", "s", int64(i), d, i == len(tt.deltas)-1), "")
			}
			c.Advance(2 * time.Second)
			if got := times(rec.all()); !slices.Equal(got, tt.want) {
				t.Fatalf("released at %v, want %v", got, tt.want)
			}
		})
	}
}

// The first token on an idle channel is never delayed, and tokens that
// arrive slower than the pace are never delayed either; a token that
// arrives too soon waits only for the rest of its predecessor's interval.
func TestPacerFirstTokenImmediate(t *testing.T) {
	p, c, rec := newFakePacer()
	for i := range 3 { // 10 per second, under the pace of 50
		p.send("app", paced50, tokenFrame("ai-1", "s", int64(i), "x", false), "")
		if n := len(rec.all()); n != i+1 {
			t.Fatalf("token %d held back at a slow rate (%d delivered)", i, n)
		}
		c.Advance(100 * time.Millisecond)
	}
	c.Advance(5 * time.Second)
	p.send("app", paced50, tokenFrame("ai-1", "s", 3, "x", false), "")
	c.Advance(5 * time.Millisecond)
	p.send("app", paced50, tokenFrame("ai-1", "s", 4, "x", true), "")
	c.Advance(time.Second)
	if got := times(rec.all()); !slices.Equal(got, ms(0, 100, 200, 5300, 5320)) {
		t.Fatalf("released at %v", got)
	}
}

// Other events are never delayed by their own cost but keep their place:
// one published behind waiting tokens goes right after the last of them,
// at the same instant; on an idle channel it goes at once; a done token
// goes in order at the cadence.
func TestPacerOrderOfOtherEvents(t *testing.T) {
	p, c, rec := newFakePacer()
	p.send("app", paced50, eventFrame("ai-1", "status"), "")
	if n := len(rec.all()); n != 1 {
		t.Fatal("an event on an idle channel was held back")
	}
	for i := range 3 {
		p.send("app", paced50, tokenFrame("ai-1", "s", int64(i), "x", false), "")
	}
	p.send("app", paced50, eventFrame("ai-1", "thinking"), "")
	p.send("app", paced50, eventFrame("ai-1", "tool-call"), "")
	p.send("app", paced50, tokenFrame("ai-1", "s", 3, "x", false), "")
	p.send("app", paced50, tokenFrame("ai-1", "s", 4, "", true), "")
	p.send("app", paced50, eventFrame("ai-1", "finished"), "")
	c.Advance(time.Second)
	got := rec.all()
	if d := describe(got); d != "status 0 1 2 thinking tool-call 3 4 finished" {
		t.Fatalf("order %q", d)
	}
	if got := times(got); !slices.Equal(got, ms(0, 0, 20, 40, 40, 40, 60, 80, 80)) {
		t.Fatalf("released at %v", got)
	}
}

// A channel's queue holds at most MaxPacedBytes: the frame that would take
// it past goes out with the whole queue, at once and in order, and pacing
// starts over after it. Nothing is dropped.
func TestPacerBoundReleasesQueue(t *testing.T) {
	p, c, rec := newFakePacer()
	delta := strings.Repeat("y", 4000)
	size := tokenFrame("ai-1", "s", 0, delta, false).Size()
	// The first goes at once; the others queue, and the last one takes the
	// queue past the bound.
	n := MaxPacedBytes/size + 2
	for i := range n {
		p.send("app", paced50, tokenFrame("ai-1", "s", int64(i), delta, false), "")
	}
	got := rec.all()
	if len(got) != n {
		t.Fatalf("%d of %d tokens (%d bytes queued) released at once, want all", len(got), n, n*size)
	}
	for i, d := range got {
		if d.f.Token.Seq != int64(i) || d.at != 0 {
			t.Fatalf("delivery %d: seq %d at %v", i, d.f.Token.Seq, d.at)
		}
	}
	if _, timers := p.lanes(); timers != 0 || c.pending() != 0 {
		t.Fatalf("%d timers left after the queue was released", timers)
	}
	// At the bound, the queue waits.
	for i := range n - 1 {
		p.send("app", paced50, tokenFrame("ai-2", "s", int64(i), delta, false), "")
	}
	if got := len(rec.on("ai-2")); got != 1 {
		t.Fatalf("%d tokens released below the bound, want 1", got)
	}
	c.Advance(time.Duration(n) * 20 * time.Millisecond)
	if got := len(rec.on("ai-2")); got != n-1 {
		t.Fatalf("%d of %d tokens released", got, n-1)
	}
}

// Channels are paced independently: one channel's backlog does not delay
// another's, even in the same app, nor does the same channel name in
// another app.
func TestPacerChannelsIndependent(t *testing.T) {
	p, c, rec := newFakePacer()
	slow := &apps.ChannelRule{Tokens: true, PaceTokens: 10}
	for i := range 5 {
		p.send("app", slow, tokenFrame("ai-slow", "s", int64(i), "x", false), "")
		p.send("app", paced50, tokenFrame("ai-fast", "s", int64(i), "x", false), "")
		p.send("other", paced50, tokenFrame("ai-slow", "s", int64(i), "x", false), "")
	}
	c.Advance(time.Second)
	var slowApp, otherApp []delivery
	for _, d := range rec.on("ai-slow") {
		if d.app == "app" {
			slowApp = append(slowApp, d)
		} else {
			otherApp = append(otherApp, d)
		}
	}
	if got := times(slowApp); !slices.Equal(got, ms(0, 100, 200, 300, 400)) {
		t.Fatalf("slow channel at %v", got)
	}
	if got := times(rec.on("ai-fast")); !slices.Equal(got, ms(0, 20, 40, 60, 80)) {
		t.Fatalf("fast channel at %v", got)
	}
	if got := times(otherApp); !slices.Equal(got, ms(0, 20, 40, 60, 80)) {
		t.Fatalf("the other app's channel at %v", got)
	}
}

// The real clock: 20 tokens at 50 per second are spread over about 0.38 s,
// the first at once, none in a clump.
func TestPacerCadenceRealClock(t *testing.T) {
	start := time.Now()
	rec := &recorder{now: time.Now, start: start}
	p := newPacer(rec.deliver)
	for i := range 20 {
		p.send("app", paced50, tokenFrame("ai-1", "s", int64(i), "x", i == 19), "")
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(rec.all()) < 20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	got := rec.all()
	if len(got) != 20 {
		t.Fatalf("%d of 20 tokens released after 5 s", len(got))
	}
	if got[0].at > 10*time.Millisecond {
		t.Errorf("first token after %v, want at once", got[0].at)
	}
	span := got[19].at - got[0].at
	if span < 360*time.Millisecond || span > 500*time.Millisecond {
		t.Errorf("burst spread over %v, want about 380 ms", span)
	}
	var gaps []time.Duration
	for i := 1; i < len(got); i++ {
		gaps = append(gaps, got[i].at-got[i-1].at)
		if got[i].f.Token.Seq != int64(i) {
			t.Fatalf("token %d at position %d", got[i].f.Token.Seq, i)
		}
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	if median := gaps[len(gaps)/2]; median < 17*time.Millisecond || median > 24*time.Millisecond {
		t.Errorf("median gap %v, want 20 ms (gaps %v)", median, gaps)
	}
	t.Logf("span %v, gaps from %v to %v, median %v", span, gaps[0], gaps[len(gaps)-1], gaps[len(gaps)/2])
}

// Concurrent publishers on many channels, with timers firing meanwhile:
// each channel gets exactly its publisher's frames, in order (run with
// -race).
func TestPacerConcurrentOrder(t *testing.T) {
	rec := &recorder{now: time.Now, start: time.Now()}
	p := newPacer(rec.deliver)
	rule := &apps.ChannelRule{Tokens: true, PaceTokens: 2000}
	const channels, perChannel = 16, 60
	var wg sync.WaitGroup
	for c := range channels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch := fmt.Sprintf("ai-%d", c)
			for i := range perChannel {
				if i%7 == 3 {
					p.send("app", rule, eventFrame(ch, fmt.Sprintf("e%d", i)), "")
				} else {
					p.send("app", rule, tokenFrame(ch, "s", int64(i), "x", false), "")
				}
				if i%10 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for len(rec.all()) < channels*perChannel && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	for c := range channels {
		ds := rec.on(fmt.Sprintf("ai-%d", c))
		if len(ds) != perChannel {
			t.Fatalf("channel %d: %d of %d frames", c, len(ds), perChannel)
		}
		for i, d := range ds {
			if d.f.Token != nil && d.f.Token.Seq != int64(i) || d.f.Token == nil && d.f.Event != fmt.Sprintf("e%d", i) {
				t.Fatalf("channel %d: position %d holds %s", c, i, d.f.JSON)
			}
		}
	}
	deadline = time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if lanes, timers := p.lanes(); lanes == 0 && timers == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	lanes, timers := p.lanes()
	t.Fatalf("%d lanes and %d timers left once every channel is idle", lanes, timers)
}

// Idle lanes whose last token's interval is still running are kept without
// a timer, and swept as new lanes are added, so many channels that each
// sent one token leave little behind.
func TestPacerSweepsIdleLanes(t *testing.T) {
	p, c, _ := newFakePacer()
	const n = 10000
	for i := range n {
		p.send("app", paced50, tokenFrame(fmt.Sprintf("ai-%d", i), "s", 0, "x", false), "")
		if i%100 == 99 {
			c.Advance(time.Second)
		}
	}
	kept := 0
	for i := range p.shards {
		kept += len(p.shards[i].lanes)
	}
	if kept > minSweep*paceShards {
		t.Fatalf("%d lanes kept after %d channels sent one token each, want at most %d", kept, n, minSweep*paceShards)
	}
	if lanes, timers := p.lanes(); lanes != 0 || timers != 0 || c.pending() != 0 {
		t.Fatalf("%d lanes and %d timers once idle, %d armed for empty queues", lanes, timers, c.pending())
	}
}

// pacedApp is an app with a paced channel prefix and an unpaced one.
func pacedApp(t *testing.T) *apps.Static {
	t.Helper()
	s, err := apps.NewStatic([]apps.App{{ID: "app", Key: "key", Secret: "secret", Channels: []apps.ChannelRule{
		{Prefix: "private-ai-", Tokens: true, PaceTokens: 50},
		{Prefix: "private-ai-fast-", Tokens: true},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The publisher paces both what is published on this node (with the rule
// or without, as member events are) and what arrives from other nodes,
// honours except on paced channels, and leaves unpaced channels alone.
func TestPublisherPacesLocalAndRemote(t *testing.T) {
	store := pacedApp(t)
	app, _ := store.ByID(context.Background(), "app")
	r := channels.NewRegistry(nil)
	b := &remoteBroker{inbound: make(chan scaling.Envelope)}
	p := NewPublisher(Options{Registry: r, Broker: b, Apps: store})
	c := newFakeClock()
	p.pacer.clock = c
	paced := newSubscribers(r, "private-ai-1", "1.1", "2.2")
	fast := newSubscribers(r, "private-ai-fast-1", "3.3")[0]
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _ = p.Run(ctx) }()

	var evs []Event
	for i := range 5 {
		for _, ch := range []string{"private-ai-1", "private-ai-fast-1"} {
			f := protocol.NewFrame("token", ch, protocol.TokenData(`"s"`, int64(i), "x", false, false), protocol.DataString, "")
			evs = append(evs, Event{App: "app", Frame: f, Rule: app.Rule(ch), Except: "2.2"})
		}
	}
	evs = append(evs, Event{App: "app", Frame: eventFrame("private-ai-1", "member-ish")}) // no Rule given
	p.Publish(ctx, evs...)
	if got := len(fast.jsons()); got != 5 {
		t.Fatalf("unpaced channel got %d of 5 tokens at once", got)
	}
	if got := len(paced[0].jsons()); got != 1 {
		t.Fatalf("paced channel got %d tokens at once, want the first only", got)
	}
	// Two tokens from another node, queued behind this node's.
	for i := 5; i < 7; i++ {
		f := protocol.NewFrame("token", "private-ai-1", protocol.TokenData(`"s"`, int64(i), "x", false, false), protocol.DataString, "")
		f.Token = &protocol.Token{Stream: `"s"`, Seq: int64(i), Delta: "x"}
		b.inbound <- scaling.Envelope{App: "app", Channel: "private-ai-1", Payload: protocol.MarshalFrame(f, "")}
	}
	b.inbound <- scaling.Envelope{App: "app", Channel: "private-ai-1", Payload: protocol.MarshalFrame(eventFrame("private-ai-1", "remote-done"), "")}
	b.inbound <- scaling.Envelope{} // the deliveries above are done once this is taken
	if got := len(paced[0].jsons()); got != 1 {
		t.Fatalf("remote tokens overtook the queue: %d delivered", got)
	}
	c.Advance(time.Second)
	if got := names(t, paced[0].jsons()); got != "0 1 2 3 4 member-ish 5 6 remote-done" {
		t.Fatalf("paced subscriber got %q", got)
	}
	if got := names(t, paced[1].jsons()); got != "member-ish 5 6 remote-done" {
		t.Fatalf("the socket excepted from this node's tokens got %q", got)
	}
}

// names describes frames' JSON texts: a token by its seq, another event
// by its name.
func names(t *testing.T, jsons []string) string {
	t.Helper()
	var out []string
	for _, j := range jsons {
		var m struct{ Event, Data string }
		if err := json.Unmarshal([]byte(j), &m); err != nil {
			t.Fatal(err)
		}
		if tok, ok := protocol.ParseToken(m.Data); ok {
			out = append(out, fmt.Sprint(tok.Seq))
		} else {
			out = append(out, m.Event)
		}
	}
	return strings.Join(out, " ")
}

// A subscriber who joins a paced channel mid-burst gets the snapshot from
// history, which is ahead of the paced release (history is recorded when
// the tokens are published). The tokens the pacer releases afterwards that
// the snapshot already holds carry seqs it covers, so a client of the token
// convention (ignore a seq already seen) shows the text exactly once, and
// nothing published after the snapshot is missed.
func TestPacedLateJoinSnapshot(t *testing.T) {
	store := pacedApp(t)
	app, _ := store.ByID(context.Background(), "app")
	const ch = "private-ai-chat"
	rule := app.Rule(ch)
	r := channels.NewRegistry(nil)
	p := NewPublisher(Options{Registry: r, Apps: store})
	c := newFakeClock()
	p.pacer.clock = c
	ctx := t.Context()
	early := newSubscribers(r, ch, "1.1")[0]

	var want strings.Builder
	publish := func(seq int, delta string, done bool) {
		want.WriteString(delta)
		f := protocol.NewFrame("token", ch, protocol.TokenData(`"a1"`, int64(seq), delta, false, done), protocol.DataString, "")
		p.Publish(ctx, Event{App: "app", Frame: f, Rule: rule})
	}
	for i := range 10 {
		publish(i, fmt.Sprintf("w%d ", i), false)
	}
	c.Advance(50 * time.Millisecond) // tokens 0, 1 and 2 are out

	// The late subscriber enters the registry, then reads the snapshot, as
	// connection.subscribe does.
	late := &capture{id: "2.2"}
	r.Add("app", ch, late)
	snap, seen, err := p.Snapshot(ctx, "app", rule, ch, nil)
	if err != nil || len(snap) != 1 || seen[`"a1"`] != 9 {
		t.Fatalf("snapshot %d frames, seen %v, err %v; want the stream up to seq 9", len(snap), seen, err)
	}
	c.Advance(100 * time.Millisecond)
	publish(10, "end", true)
	c.Advance(time.Second)

	// show is what a page of the token convention displays.
	show := func(frames []*protocol.Frame) (text string, seqs []int64, skipped int) {
		last := int64(-1)
		for _, f := range frames {
			tok := f.Token
			if tok.Seq <= last {
				skipped++
				continue
			}
			if tok.Whole {
				text = tok.Delta
			} else {
				text += tok.Delta
			}
			last = tok.Seq
			seqs = append(seqs, tok.Seq)
		}
		return text, seqs, skipped
	}
	late.mu.Lock()
	lateFrames := append(slices.Clone(snap), late.frames...)
	late.mu.Unlock()
	text, seqs, skipped := show(lateFrames)
	if text != want.String() || !slices.Equal(seqs, []int64{9, 10}) {
		t.Fatalf("late subscriber shows %q (seqs %v), want %q once", text, seqs, want.String())
	}
	early.mu.Lock()
	earlyFrames := slices.Clone(early.frames)
	early.mu.Unlock()
	text, seqs, _ = show(earlyFrames)
	if text != want.String() || len(seqs) != 11 {
		t.Fatalf("early subscriber shows %q (seqs %v)", text, seqs)
	}
	t.Logf("the late subscriber was sent %d tokens its snapshot already held (seq <= 9), and skipped them", skipped)
}

// What pacing costs a channel without it, per event from another node
// (the rule looked up in the app store) against the registry alone.
func BenchmarkLocalUnpaced(b *testing.B) {
	store, err := apps.NewStatic([]apps.App{{ID: "app", Key: "key", Secret: "secret", Channels: []apps.ChannelRule{
		{Prefix: "private-ai-", Tokens: true, PaceTokens: 50},
		{Prefix: "presence-ai-", Tokens: true},
	}}})
	if err != nil {
		b.Fatal(err)
	}
	r := channels.NewRegistry(nil)
	r.Add("app", "orders", &discard{id: "1.1"})
	p := NewPublisher(Options{Registry: r, Apps: store})
	f := eventFrame("orders", "shipped")
	b.Run("registry", func(b *testing.B) {
		for b.Loop() {
			r.Broadcast("app", "orders", f, "2.2")
		}
	})
	b.Run("rule lookup", func(b *testing.B) {
		for b.Loop() {
			if a, _ := store.ByID(context.Background(), "app"); a.Rule("orders").Paced() {
				b.Fatal("paced")
			}
		}
	})
	b.Run("through local", func(b *testing.B) {
		for b.Loop() {
			p.local("app", f, "2.2", nil)
		}
	})
}

// discard is a subscriber that keeps nothing.
type discard struct{ id string }

func (d *discard) SocketID() string          { return d.id }
func (d *discard) Send(*protocol.Frame) bool { return true }
