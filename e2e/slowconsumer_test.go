//go:build linux

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/internal/testenv"
	"github.com/quaver-dev/quaver/internal/testnode"
	"github.com/quaver-dev/quaver/protocol"
)

// The slow-consumer tests run a real quaver process with a room channel
// that carries several AI token streams at once, producers publishing them
// through the HTTP API, 200 clients that subscribe and then stop reading
// (a frozen tab, a dead mobile link), and 20 clients that read all the
// time, whose delivery latency is measured.
//
// Every client is a raw WebSocket in a client.Fleet. The 200 stalled ones
// connect with a 4 KiB SO_RCVBUF and a 1460-byte TCP_MAXSEG: over loopback
// the kernels would otherwise buffer some 4 MiB per socket before the
// server notices anything, where a remote client on a real network holds
// tens of KiB (client.SlowReaderSocket).
const (
	stalledClients = 200
	fastClients    = 20
	roomChannel    = "ai-room.1"
	roomStreams    = 10 // streams on the channel at once (history keeps 16)
	// streamRate is tokens per second per stream, a fast model. The
	// producers keep this fixed rate, the same before and during the stall,
	// so that the two latency phases see the same load: 1,000 tokens/s in
	// all, about 90 KB/s of frames for each stalled client to fall behind.
	streamRate = 100
	tokenBatch = 10 // tokens per batch_events request (the default max)

	// stallFor is how long the 200 take nothing. It must stay under the
	// server's write timeout (10 s), past which a socket that takes
	// nothing is dropped without a word.
	stallFor = 6 * time.Second
	// kernelSlack bounds what the two kernels buffer for one stalled
	// client (measured: 50-70 KiB with client.SlowReaderSocket).
	kernelSlack = 128 << 10
)

// The outbox limits. The stall cannot outlast the write timeout, so both
// are scaled down from the defaults (64 KiB and 1 MiB), keeping their
// ratio of 1:16, to limits that 6 s of 90 KB/s reach. 6 s offer a stalled
// client some 550 kB of token frames, well over what the kernels and the
// hard limit hold together, so without coalescing every one would be cut off;
// coalesced, its queue holds the soft limit plus the text (~5 bytes a
// token), some 40 kB.
//
// The hard limit must also hold what a subscriber gets on joining, the
// text of every stream so far (~55 kB when the test ends): a smaller one
// cuts a client off as it subscribes, every time it comes back.
const (
	softLimit = 16 << 10
	hardLimit = 256 << 10
)

// statusRate is, in scenario B, how many other events a second (1 kB
// "status" events, which cannot merge) go to the room besides the tokens:
// tokens queued on either side of one are not merged across it, so a
// stalled client's queue passes the hard limit within seconds.
const statusRate = 60

// Memory bound. A connection's queue holds at most the hard limit in
// frame bytes; in memory a token frame costs about twice its size (its
// data and its JSON form) plus the frame itself, counted generously as
// another 64 KiB per connection. The Go heap must stay under its level
// before the stall plus that for every stalled client; RSS, which also
// holds what the garbage collector has not returned yet (GOGC=100 lets the
// heap double), under its level plus twice that.
func memoryPerStalled(hard int) float64 { return float64(2*hard + 64<<10) }

// Latency bound: during the stall the fast clients' p99 must stay within
// twice their p99 before it, plus 5 ms of scheduling noise on this 2-core
// machine (the server, the producers and every client share both cores).
func latencyBound(base time.Duration) time.Duration { return 2*base + 5*time.Millisecond }

// TestSlowConsumersCoalesced (scenario A): while 200 clients take nothing,
// server memory stays bounded and the 20 fast clients keep their latency;
// when the 200 read again, each ends with exactly the producers' text of
// every stream, on the same connection: their queued tokens were merged
// instead of cutting them off.
func TestSlowConsumersCoalesced(t *testing.T) {
	r := runStall(t, 0)

	r.checkMemory(t)
	r.checkLatency(t)
	if coalesced := r.after["quaver_tokens_coalesced_total"] - r.before["quaver_tokens_coalesced_total"]; coalesced < stalledClients {
		t.Errorf("quaver_tokens_coalesced_total grew by %.0f, want at least one merge per stalled client", coalesced)
	} else {
		t.Logf("quaver_tokens_coalesced_total grew by %.0f", coalesced)
	}

	// They read again while the streams run; then the streams finish.
	for _, c := range r.stalled {
		r.stalledFleet.Unthrottle(c.fleetID())
	}
	time.Sleep(time.Second)
	want := r.prod.finish(t)
	waitTexts(t, "every stalled client has every stream's whole text", r.stalled, want, 30*time.Second)
	for _, c := range r.stalled {
		if code, closed := c.closedWith(); closed {
			t.Fatalf("stalled client %d was closed (%d), although its text stayed within the limits", c.n, code)
		}
	}
	if closes := r.metrics(t)["quaver_slow_consumer_closes_total"]; closes != 0 {
		t.Errorf("quaver_slow_consumer_closes_total %.0f, want 0", closes)
	}
	checkFastClients(t, r)
}

// TestSlowConsumersClosedAndRecover (scenario B): with events that cannot
// merge among the tokens, each stalled client passes the hard limit and is
// closed with 4100, which it sees once it reads again; the metric counts
// them; and a client that reconnects and resubscribes, with resume or
// without, ends with exactly the producers' text.
func TestSlowConsumersClosedAndRecover(t *testing.T) {
	r := runStall(t, statusRate)
	r.checkMemory(t)
	r.checkLatency(t)

	for _, c := range r.stalled {
		r.stalledFleet.Unthrottle(c.fleetID())
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, c := range r.stalled {
		select {
		case <-c.closed:
		case <-time.After(time.Until(deadline)):
			t.Fatalf("stalled client %d still open after reading again; it saw pusher:error %v", c.n, c.errorCodes())
		}
	}
	var noError, wrongClose int
	for _, c := range r.stalled {
		if code, _ := c.closedWith(); code != protocol.CodeOverCapacity {
			wrongClose++
			if wrongClose == 1 {
				t.Errorf("stalled client %d closed with %d, want 4100", c.n, code)
			}
		}
		if !slices.Contains(c.errorCodes(), protocol.CodeOverCapacity) {
			noError++
		}
	}
	if wrongClose > 0 {
		t.Errorf("%d of %d stalled clients not closed with 4100", wrongClose, stalledClients)
	}
	if noError > 0 {
		t.Errorf("%d of %d stalled clients got no pusher:error 4100 before the close", noError, stalledClients)
	}
	if closes := r.metrics(t)["quaver_slow_consumer_closes_total"]; closes != stalledClients {
		t.Errorf("quaver_slow_consumer_closes_total %.0f, want %d", closes, stalledClients)
	}
	had := make([]map[int64]streamState, len(r.stalled))
	for i, c := range r.stalled {
		had[i] = c.snapshot()
	}

	// They come back while the streams run: half resume stream 0 after the
	// last seq they have, half subscribe plainly; both keep what they had,
	// as a page does, and the server's first events fill in the rest.
	again := newFleet(t, 2)
	dialAll(t, again, r.node, r.stalled, client.FleetDialOptions{}, func(c *tokenClient) string {
		data := map[string]any{"channel": roomChannel, "auth": ""}
		if c.n%2 == 0 {
			if s, ok := c.snapshot()[0]; ok {
				data["resume"] = map[string]any{"stream": 0, "seq": s.seq}
			}
		}
		msg, _ := json.Marshal(map[string]any{"event": protocol.EventSubscribe, "data": data})
		return string(msg)
	})
	time.Sleep(time.Second)
	want := r.prod.finish(t)
	// A resumed client's first event of stream 0 carries only what it
	// missed; the others' carry the whole text.
	for _, c := range r.stalled {
		kind, wantKind := c.firstKind(0), "text"
		if c.n%2 == 0 {
			wantKind = "delta"
		}
		if kind != wantKind {
			t.Errorf("reconnected client %d's first event of stream 0 has a %s, want a %s", c.n, kind, wantKind)
		}
	}
	// What each had when it was cut off is the start of the text.
	for i, streams := range had {
		for k, s := range streams {
			if !strings.HasPrefix(want[k], s.text) {
				t.Fatalf("stalled client %d, stream %d: %q is not the start of the stream's text", i, k, s.text)
			}
		}
	}
	waitTexts(t, "every reconnected client has every stream's whole text", r.stalled, want, 30*time.Second)
	checkFastClients(t, r)
}

// stallRun is what runStall set up and measured.
type stallRun struct {
	node         *testnode.Node
	pid          int
	prod         *roomProducer
	fast         []*tokenClient
	stalled      []*tokenClient
	stalledFleet *client.Fleet
	baseLatency  *durations
	stallLatency *durations
	// CPU use while each latency phase was measured.
	baseCPU, stallCPU cpuUse
	// memory before the stall (the highest sample) and during it (the
	// highest sample, and the process's peak RSS, VmHWM, at its end).
	baseRSS, baseHeap   float64
	stallRSS, stallHeap float64
	peakRSS             float64
	before, after       map[string]float64 // metrics before and at the end of the stall
}

// runStall starts a node with the outbox limits and the producers (with
// statuses other events a second), measures the fast clients' latency for
// 4 s, then connects the 200, which stop reading once subscribed, and
// measures again for stallFor. It returns with the 200 still stalled and
// the producers running.
func runStall(t *testing.T, statuses int) *stallRun {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "quaver.yaml")
	writeFile(t, cfg, "apps:\n  - id: test-app\n    key: test-key\n    secret: test-secret\n    channels:\n      - prefix: ai-\n        tokens: true\n        retain: 60\n")
	port := testenv.FreePort(t)
	node := testnode.Start(t, testnode.Options{
		Bare: true, Port: port, ExitZero: true,
		Args: []string{"--config", cfg, "--port", strconv.Itoa(port)},
		Env:  []string{"QUAVER_OUTBOX_SOFT_LIMIT=" + strconv.Itoa(softLimit), "QUAVER_OUTBOX_HARD_LIMIT=" + strconv.Itoa(hardLimit)},
	})
	r := &stallRun{node: node, pid: pidWithArg(t, cfg), baseLatency: &durations{}, stallLatency: &durations{}}

	r.prod = startRoom(t, node, statuses)
	var recording atomic.Pointer[durations]
	fastFleet := newFleet(t, 1)
	r.fast = make([]*tokenClient, fastClients)
	for i := range r.fast {
		r.fast[i] = &tokenClient{t: t, n: i, latency: func(d time.Duration) {
			if h := recording.Load(); h != nil {
				h.add(d)
			}
		}, sent: r.prod}
	}
	dialAll(t, fastFleet, node, r.fast, client.FleetDialOptions{}, nil)
	r.prod.start()

	sampler := startMemorySampler(t, node, r.pid)
	time.Sleep(time.Second) // the streams get going
	sampler.reset()
	cpu := startCPU(r.pid)
	recording.Store(r.baseLatency)
	time.Sleep(4 * time.Second)
	recording.Store(nil)
	r.baseCPU = cpu.stop()
	r.baseRSS, r.baseHeap = sampler.reset()
	r.before = r.metrics(t)

	r.stalledFleet = newFleet(t, 2)
	r.stalled = make([]*tokenClient, stalledClients)
	for i := range r.stalled {
		c := &tokenClient{t: t, n: i}
		c.onSubscribed = func() { r.stalledFleet.Throttle(c.fleetID(), 0) }
		r.stalled[i] = c
	}
	stalledSince := time.Now()
	dialAll(t, r.stalledFleet, node, r.stalled, client.SlowReaderSocket, nil)
	firstBytes := r.prod.offered()
	// One second for the queues to pass the soft limit, then the fast
	// clients are measured for the rest of the stall.
	time.Sleep(time.Second)
	cpu = startCPU(r.pid)
	recording.Store(r.stallLatency)
	time.Sleep(stallFor - time.Since(stalledSince))
	recording.Store(nil)
	r.stallCPU = cpu.stop()
	r.stallRSS, r.stallHeap = sampler.reset()
	r.peakRSS = procStatus(t, r.pid, "VmHWM")
	r.after = r.metrics(t)
	offered := float64(r.prod.offered() - firstBytes)
	t.Logf("the stall offered each stalled client %.0f kB of frames in %v; memory before it RSS %.1f MiB heap %.1f MiB, during it RSS %.1f MiB heap %.1f MiB, peak RSS %.1f MiB",
		offered/1e3, time.Since(stalledSince).Round(time.Millisecond), r.baseRSS/(1<<20), r.baseHeap/(1<<20), r.stallRSS/(1<<20), r.stallHeap/(1<<20), r.peakRSS/(1<<20))
	t.Logf("CPU (percent of one core): server %.0f before the stall, %.0f during it; this test process %.0f and %.0f",
		r.baseCPU.server, r.stallCPU.server, r.baseCPU.self, r.stallCPU.self)
	// The test proves nothing unless the stall offers more than the kernels
	// and the hard limit hold.
	if offered < float64(hardLimit+kernelSlack) {
		t.Fatalf("the stall offered %.0f bytes per client, less than the hard limit and the kernels' buffers (%d): the producers were too slow", offered, hardLimit+kernelSlack)
	}
	return r
}

// checkMemory asserts the bounds of memoryPerStalled.
func (r *stallRun) checkMemory(t *testing.T) {
	t.Helper()
	allowance := stalledClients * memoryPerStalled(hardLimit)
	heapBound, rssBound := r.baseHeap+allowance, r.baseRSS+2*allowance
	t.Logf("memory bounds: heap %.1f MiB (observed %.1f), RSS %.1f MiB (observed %.1f, peak %.1f)",
		heapBound/(1<<20), r.stallHeap/(1<<20), rssBound/(1<<20), r.stallRSS/(1<<20), r.peakRSS/(1<<20))
	if r.stallHeap > heapBound {
		t.Errorf("Go heap reached %.1f MiB during the stall, over the bound of %.1f MiB", r.stallHeap/(1<<20), heapBound/(1<<20))
	}
	if peak := max(r.stallRSS, r.peakRSS); peak > rssBound {
		t.Errorf("RSS reached %.1f MiB, over the bound of %.1f MiB", peak/(1<<20), rssBound/(1<<20))
	}
}

// checkLatency asserts latencyBound on the fast clients' p99.
func (r *stallRun) checkLatency(t *testing.T) {
	t.Helper()
	base, stall := r.baseLatency.quantile(0.99), r.stallLatency.quantile(0.99)
	t.Logf("fast clients' latency: before the stall p50 %v p99 %v (%d samples); during it p50 %v p99 %v (%d samples)",
		r.baseLatency.quantile(0.5).Round(time.Microsecond), base.Round(time.Microsecond), r.baseLatency.count(),
		r.stallLatency.quantile(0.5).Round(time.Microsecond), stall.Round(time.Microsecond), r.stallLatency.count())
	if stall > latencyBound(base) {
		t.Errorf("fast clients' p99 %v during the stall, %v before it: more than %v", stall, base, latencyBound(base))
	}
}

// checkFastClients asserts that no fast client was closed and that each
// has every stream's whole text.
func checkFastClients(t *testing.T, r *stallRun) {
	t.Helper()
	for _, c := range r.fast {
		if code, closed := c.closedWith(); closed {
			t.Fatalf("fast client %d was closed (%d)", c.n, code)
		}
	}
	waitTexts(t, "every fast client has every stream's whole text", r.fast, r.prod.texts(), 10*time.Second)
}

func (r *stallRun) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	return scrapeMetrics(t, r.node.URL)
}

// roomProducer publishes roomStreams token streams on roomChannel at
// streamRate each, tokenBatch tokens per batch_events request, each stream
// on its own keep-alive connection, as model workers do. Each token's
// delta is its seq and a space, so any token lost, repeated or misplaced
// shows in the text.
type roomProducer struct {
	t        *testing.T
	api      *client.API
	statuses int                         // other events a second
	sent     [roomStreams][]atomic.Int64 // when the request carrying each seq went out (Unix ns)
	// bytes counts the frames published, as each subscriber gets them.
	bytes   atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup
	mu      sync.Mutex // guards text
	text    [roomStreams][]byte
	stopped bool
}

const maxSeq = streamRate * 120

func startRoom(t *testing.T, node *testnode.Node, statuses int) *roomProducer {
	p := &roomProducer{t: t, stop: make(chan struct{}), statuses: statuses,
		api: &client.API{BaseURL: node.URL, AppID: testnode.AppID, Key: testnode.AppKey, Secret: testnode.AppSecret}}
	for k := range p.sent {
		p.sent[k] = make([]atomic.Int64, maxSeq+1)
	}
	t.Cleanup(func() { p.finish(t) })
	return p
}

func (p *roomProducer) start() {
	if p.statuses > 0 {
		p.wg.Add(1)
		go p.publishStatuses()
	}
	interval := time.Second * tokenBatch / streamRate
	for k := range roomStreams {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			ctx := context.Background()
			conn, err := client.DialAPI(ctx, p.api)
			if err != nil {
				p.t.Errorf("producer %d: %v", k, err)
				return
			}
			defer conn.Close()
			begin := time.Now().Add(interval * time.Duration(k) / roomStreams)
			var seq int64
			batch := make([]client.TriggerEvent, 0, tokenBatch)
			for n := 0; ; n++ {
				select {
				case <-p.stop:
					_, err := conn.Batch([]client.TriggerEvent{{Channel: roomChannel, Name: "token",
						Data: fmt.Sprintf(`{"stream":%d,"seq":%d,"done":true}`, k, seq)}})
					if err != nil {
						p.t.Errorf("producer %d: the end of the stream: %v", k, err)
					}
					return
				case <-time.After(time.Until(begin.Add(time.Duration(n) * interval))):
				}
				if seq+tokenBatch >= maxSeq {
					p.t.Errorf("producer %d: the test ran longer than its streams", k)
					<-p.stop
					continue
				}
				batch = batch[:0]
				var deltas []byte
				for range tokenBatch {
					delta := strconv.FormatInt(seq, 10) + " "
					deltas = append(deltas, delta...)
					batch = append(batch, client.TriggerEvent{Channel: roomChannel, Name: "token",
						Data: fmt.Sprintf(`{"stream":%d,"seq":%d,"delta":%q}`, k, seq, delta)})
					p.sent[k][seq].Store(time.Now().UnixNano())
					seq++
				}
				if _, err := conn.Batch(batch); err != nil {
					p.t.Errorf("producer %d: %v", k, err)
					<-p.stop
					continue
				}
				p.mu.Lock()
				p.text[k] = append(p.text[k], deltas...)
				p.mu.Unlock()
				for _, ev := range batch {
					p.bytes.Add(int64(frameSize(ev)))
				}
			}
		}()
	}
}

// publishStatuses publishes 1 kB "status" events on the room, a tenth
// of a second's worth per request, until the streams finish.
func (p *roomProducer) publishStatuses() {
	defer p.wg.Done()
	conn, err := client.DialAPI(context.Background(), p.api)
	if err != nil {
		p.t.Errorf("status producer: %v", err)
		return
	}
	defer conn.Close()
	per := max(p.statuses/10, 1)
	ev := client.TriggerEvent{Channel: roomChannel, Name: "status", Data: `{"note":"` + strings.Repeat("s", 1000) + `"}`}
	batch := slices.Repeat([]client.TriggerEvent{ev}, per)
	tick := time.NewTicker(time.Second * time.Duration(per) / time.Duration(p.statuses))
	defer tick.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		if _, err := conn.Batch(batch); err != nil {
			p.t.Errorf("status producer: %v", err)
			return
		}
		p.bytes.Add(int64(per * frameSize(ev)))
	}
}

// offered returns the bytes of frames published so far.
func (p *roomProducer) offered() int64 { return p.bytes.Load() }

// frameSize is the size of an event's frame on the wire.
func frameSize(ev client.TriggerEvent) int {
	n := len(protocol.NewFrame(ev.Name, ev.Channel, ev.Data, protocol.DataString, "").JSON)
	if n < 126 {
		return n + 2
	}
	return n + 4
}

// finish ends every stream (a last token with done) and returns the texts.
func (p *roomProducer) finish(t *testing.T) map[int64]string {
	p.mu.Lock()
	if !p.stopped {
		p.stopped = true
		close(p.stop)
	}
	p.mu.Unlock()
	p.wg.Wait()
	return p.texts()
}

func (p *roomProducer) texts() map[int64]string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[int64]string{}
	for k, s := range p.text {
		out[int64(k)] = string(s)
	}
	return out
}

// sentAt returns when the token seq of stream k was published.
func (p *roomProducer) sentAt(k, seq int64) (time.Time, bool) {
	if k < 0 || k >= roomStreams || seq < 0 || seq > maxSeq {
		return time.Time{}, false
	}
	ns := p.sent[k][seq].Load()
	return time.Unix(0, ns), ns != 0
}

// tokenClient is one fleet connection, a client of the token convention
// as a chat page is: per stream it replaces its text with a "text" event,
// appends each "delta" and ignores any seq it has already seen.
type tokenClient struct {
	t *testing.T
	n int // index among its kind
	// id is the connection's index in its fleet, set (under mu) once
	// dialed.
	id int
	// onSubscribed runs on the reader when the subscription succeeds.
	onSubscribed func()
	// latency, when set, receives for each token event the time since its
	// oldest token was published (sent tells when).
	latency func(time.Duration)
	sent    *roomProducer

	subscribed chan struct{}
	closed     chan struct{}

	mu        sync.Mutex // guards the fields below
	streams   map[int64]*streamState
	first     map[int64]string // each stream's first token event since dialed: "text" or "delta"
	errors    []int
	closeCode int
	isClosed  bool
}

type streamState struct {
	text string
	seq  int64
	done bool
	buf  []byte // the text as it grows; text is set from it by snapshot
}

// tokenPrefix starts every token event the room's producers cause, and
// statusPrefix every status event, which the clients ignore.
var (
	tokenPrefix  = []byte(`{"event":"token","channel":"` + roomChannel + `","data":"`)
	statusPrefix = []byte(`{"event":"status",`)
)

// parseToken reads a token event of the room without a JSON decoder
// (the race detector makes one too slow for thousands of frames a
// second): the producers' texts are digits and spaces, never escaped.
func parseToken(raw []byte) (stream, seq int64, delta string, text *string, done, ok bool) {
	data, found := bytes.CutPrefix(raw, tokenPrefix)
	if !found {
		return 0, 0, "", nil, false, false
	}
	field := func(name string) ([]byte, bool) {
		marker := `\"` + name + `\":`
		i := bytes.Index(data, []byte(marker))
		if i < 0 {
			return nil, false
		}
		v := data[i+len(marker):]
		if bytes.HasPrefix(v, []byte(`\"`)) {
			v = v[2:]
			end := bytes.Index(v, []byte(`\"`))
			return v[:max(end, 0)], end >= 0
		}
		end := bytes.IndexAny(v, ",}")
		return v[:max(end, 0)], end >= 0
	}
	intField := func(name string) (int64, bool) {
		v, ok := field(name)
		if !ok {
			return 0, false
		}
		n, err := strconv.ParseInt(string(v), 10, 64)
		return n, err == nil
	}
	stream, ok1 := intField("stream")
	seq, ok2 := intField("seq")
	if !ok1 || !ok2 {
		return 0, 0, "", nil, false, false
	}
	if v, ok := field("text"); ok {
		s := string(v)
		text = &s
	} else if v, ok := field("delta"); ok {
		delta = string(v)
	}
	d, _ := field("done")
	return stream, seq, delta, text, string(d) == "true", true
}

func (c *tokenClient) onFrame(raw []byte) {
	if stream, seq, delta, text, done, ok := parseToken(raw); ok {
		c.token(stream, seq, delta, text, done)
		return
	}
	if bytes.HasPrefix(raw, statusPrefix) {
		return
	}
	var msg struct {
		Event   string          `json:"event"`
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &msg); err != nil {
		return
	}
	data := []byte(msg.Data)
	var s string
	if len(data) > 0 && data[0] == '"' && json.Unmarshal(data, &s) == nil {
		data = []byte(s)
	}
	switch msg.Event {
	case protocol.EventSubscriptionSucceeded:
		select {
		case <-c.subscribed:
		default:
			close(c.subscribed)
		}
		if c.onSubscribed != nil {
			c.onSubscribed()
		}
	case protocol.EventError:
		var e struct {
			Code int `json:"code"`
		}
		_ = json.Unmarshal(data, &e)
		c.mu.Lock()
		c.errors = append(c.errors, e.Code)
		c.mu.Unlock()
	case "token":
		c.t.Errorf("client %d: a token event the test cannot read: %s", c.n, raw)
	}
}

// token applies one token event.
func (c *tokenClient) token(stream, seq int64, delta string, text *string, done bool) {
	now := time.Now()
	c.mu.Lock()
	st := c.streams[stream]
	if st == nil {
		st = &streamState{seq: -1}
		c.streams[stream] = st
	}
	first := st.seq + 1
	if c.first[stream] == "" {
		c.first[stream] = "delta"
		if text != nil {
			c.first[stream] = "text"
		}
	}
	if seq > st.seq {
		if text != nil {
			st.buf = append(st.buf[:0], *text...)
		} else {
			st.buf = append(st.buf, delta...)
		}
		st.seq = seq
		st.done = st.done || done
	}
	c.mu.Unlock()
	if c.latency != nil && text == nil && !done {
		if at, ok := c.sent.sentAt(stream, first); ok {
			c.latency(now.Sub(at))
		}
	}
}

func (c *tokenClient) onClose(code int) {
	c.mu.Lock()
	c.closeCode, c.isClosed = code, true
	c.mu.Unlock()
	close(c.closed)
}

func (c *tokenClient) firstKind(stream int64) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.first[stream]
}

func (c *tokenClient) fleetID() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

func (c *tokenClient) closedWith() (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode, c.isClosed
}

func (c *tokenClient) errorCodes() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.errors)
}

func (c *tokenClient) snapshot() map[int64]streamState {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[int64]streamState{}
	for k, s := range c.streams {
		out[k] = streamState{text: string(s.buf), seq: s.seq, done: s.done}
	}
	return out
}

// hasAll reports whether the client has every stream finished with want's
// text, or describes the first difference.
func (c *tokenClient) hasAll(want map[int64]string) (bool, string) {
	got := c.snapshot()
	for k, text := range want {
		s, ok := got[k]
		switch {
		case !ok:
			return false, fmt.Sprintf("stream %d: nothing", k)
		case !s.done:
			return false, fmt.Sprintf("stream %d: not finished at seq %d, %d of %d bytes", k, s.seq, len(s.text), len(text))
		case s.text != text:
			i := 0
			for i < min(len(s.text), len(text)) && s.text[i] == text[i] {
				i++
			}
			return false, fmt.Sprintf("stream %d: finished at seq %d with %d bytes, want %d; they differ at byte %d: %q",
				k, s.seq, len(s.text), len(text), i, s.text[i:min(len(s.text), i+40)])
		}
	}
	return true, ""
}

// waitTexts waits until every client has want's texts.
func waitTexts(t *testing.T, what string, clients []*tokenClient, want map[int64]string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, c := range clients {
		for {
			ok, diff := c.hasAll(want)
			if ok {
				break
			}
			if time.Now().After(deadline) {
				code, closed := c.closedWith()
				t.Fatalf("%s: not within %v; client %d (closed %v, code %d): %s", what, within, c.n, closed, code, diff)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func newFleet(t *testing.T, readers int) *client.Fleet {
	t.Helper()
	f, err := client.NewFleet(readers)
	if err != nil {
		t.Fatal(err)
	}
	f.Start()
	t.Cleanup(f.Close)
	return f
}

// dialAll connects every client (16 at a time) with the socket options of
// o, subscribes it to roomChannel (with the message subscribe returns,
// when given) and waits until every subscription succeeded. A client
// dialed again keeps its streams.
func dialAll(t *testing.T, f *client.Fleet, node *testnode.Node, clients []*tokenClient, o client.FleetDialOptions, subscribe func(*tokenClient) string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, len(clients))
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(clients); i = int(next.Add(1) - 1) {
				c := clients[i]
				c.mu.Lock()
				c.subscribed, c.closed, c.isClosed, c.closeCode, c.errors = make(chan struct{}), make(chan struct{}), false, 0, nil
				c.first = map[int64]string{}
				if c.streams == nil {
					c.streams = map[int64]*streamState{}
				}
				c.mu.Unlock()
				opts := o
				opts.OnFrame, opts.OnClose = c.onFrame, c.onClose
				id, _, err := f.DialWith(ctx, node.WSURL, testnode.AppKey, opts)
				if err != nil {
					errs <- err
					return
				}
				c.mu.Lock()
				c.id = id
				c.mu.Unlock()
				if subscribe != nil {
					err = f.Send(id, []byte(subscribe(c)))
				} else {
					err = f.Subscribe(id, roomChannel)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatalf("dialing: %v", err)
	}
	for _, c := range clients {
		select {
		case <-c.subscribed:
		case <-ctx.Done():
			t.Fatalf("client %d not subscribed to %s", c.n, roomChannel)
		}
	}
}

// durations collects latency samples.
type durations struct {
	mu sync.Mutex
	d  []time.Duration
}

func (h *durations) add(d time.Duration) {
	h.mu.Lock()
	h.d = append(h.d, d)
	h.mu.Unlock()
}

func (h *durations) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.d)
}

func (h *durations) quantile(q float64) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.d) == 0 {
		return 0
	}
	s := slices.Clone(h.d)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// cpuUse is the CPU the server and this process used over a phase, in
// percent of one core.
type cpuUse struct{ server, self float64 }

type cpuMeter struct {
	pid          int
	start        time.Time
	server, self float64
}

func startCPU(pid int) cpuMeter {
	return cpuMeter{pid: pid, start: time.Now(), server: procCPUSeconds(pid), self: procCPUSeconds(os.Getpid())}
}

func (m cpuMeter) stop() cpuUse {
	el := time.Since(m.start).Seconds()
	return cpuUse{server: 100 * (procCPUSeconds(m.pid) - m.server) / el, self: 100 * (procCPUSeconds(os.Getpid()) - m.self) / el}
}

// procCPUSeconds reads a process's user and system CPU time.
func procCPUSeconds(pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // USER_HZ
}

// memorySampler reads the server's RSS (/proc/<pid>/status) and Go heap
// in use (/metrics) every 100 ms and keeps the highest of each.
type memorySampler struct {
	mu        sync.Mutex
	rss, heap float64
}

func startMemorySampler(t *testing.T, node *testnode.Node, pid int) *memorySampler {
	s := &memorySampler{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for ctx.Err() == nil {
			rss, err1 := readProcStatus(pid, "VmRSS")
			heap, err2 := client.ReadMetrics(context.Background(), node.URL)
			if err1 == nil && err2 == nil {
				s.mu.Lock()
				s.rss, s.heap = max(s.rss, rss), max(s.heap, heap["go_memstats_heap_inuse_bytes"])
				s.mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// reset returns the highest samples since the last reset and starts over.
func (s *memorySampler) reset() (rss, heap float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rss, heap = s.rss, s.heap
	s.rss, s.heap = 0, 0
	return rss, heap
}

// pidWithArg finds the process that has arg among its arguments (the
// node's unique configuration file).
func pidWithArg(t *testing.T, arg string) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && slices.Contains(strings.Split(string(cmdline), "\x00"), arg) {
			return pid
		}
	}
	t.Fatalf("no process with %s", arg)
	return 0
}

// procStatus reads a size field of /proc/<pid>/status in bytes.
func procStatus(t *testing.T, pid int, field string) float64 {
	t.Helper()
	v, err := readProcStatus(pid, field)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func readProcStatus(pid int, field string) (float64, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// scrapeMetrics reads the node's /metrics: each metric's value, summed
// over its labels.
func scrapeMetrics(t *testing.T, url string) map[string]float64 {
	t.Helper()
	m, err := client.ReadMetrics(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
