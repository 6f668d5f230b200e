package bench

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quaver-dev/quaver/client"
)

// slowFleet is the subscribers of a streams run that read at most a set
// number of bytes a second, as clients on a poor network do. They connect
// with client.SlowReaderSocket, so what they leave unread backs up into
// the server's queue for them within tens of KiB, as it would for a
// remote client, rather than in megabytes of loopback buffers. Past the
// server's soft limit their token events may arrive merged (several
// tokens in one event, without the "t" stamp); past its hard limit they
// are closed with 4100.
type slowFleet struct {
	target Target
	rate   float64
	sentAt [][]atomic.Int64 // per stream, per seq: when it was published (Unix ns)
	conns  *client.Fleet
	subs   []*slowSubscriber

	subscribed   atomic.Int64
	delivered    atomic.Int64 // token events
	closed4100   atomic.Int64
	error4100    atomic.Int64
	closedOther  atomic.Int64 // with another close code
	dropped      atomic.Int64 // the socket ended without a close frame
	lastDelivery atomic.Int64
	latency      histogram
}

// slowSubscriber is one slow connection's view. Its fields are written by
// its reader goroutine only, and read once it has caught up or ended;
// lastSeq and closeCode are also read by the drain while it runs.
type slowSubscriber struct {
	id, stream int
	lastSeq    atomic.Int64
	frames     int64
	merged     int64 // token events carrying more than one token
	outOfOrder int64
	deltaBytes int64
	closeCode  atomic.Int64 // -1 while open
}

var (
	deltaMarker = []byte(`delta\":\"`)
	quoteMarker = []byte(`\"`)
	errorMarker = []byte(`"event":"pusher:error"`)
	code4100    = []byte(`"code":4100`)
)

// connect dials one slow subscriber for each of streams, subscribes it to
// channelName(stream), throttles it and waits until all are subscribed.
func (s *slowFleet) connect(ctx context.Context, streams []int, channelName func(int) string, dialers int, p *phase) error {
	conns, err := client.NewFleet(runtime.GOMAXPROCS(0))
	if err != nil {
		return err
	}
	s.conns = conns
	conns.Start()

	s.subs = make([]*slowSubscriber, len(streams))
	dial := func(i int) error { return s.dial(ctx, i, streams[i], channelName) }
	return dialAll(ctx, len(streams), dialers, dial, &s.subscribed, p)
}

func (s *slowFleet) dial(ctx context.Context, i, stream int, channelName func(int) string) error {
	sub := &slowSubscriber{stream: stream}
	sub.lastSeq.Store(-1)
	sub.closeCode.Store(-1)
	s.subs[i] = sub
	node := s.target.Nodes[i%len(s.target.Nodes)]
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	o := client.SlowReaderSocket
	o.OnFrame = func(raw []byte) { s.onFrame(sub, raw) }
	o.OnClose = func(code int) { s.onClose(sub, code) }
	id, _, err := s.conns.DialWith(dialCtx, wsURL(node), s.target.Key, o)
	if err != nil {
		return fmt.Errorf("bench: slow connection %d: %w", i, err)
	}
	sub.id = id
	s.conns.Throttle(id, s.rate)
	return s.conns.Subscribe(id, channelName(stream))
}

// onFrame records one frame of a slow subscriber. A merged token event has
// no "t" stamp: its latency is that of its oldest token, whose publication
// time sentAt has.
func (s *slowFleet) onFrame(sub *slowSubscriber, raw []byte) {
	seq, ok := markerInt(raw, seqMarker)
	if !ok {
		switch {
		case bytes.Contains(raw, succeededMarker):
			s.subscribed.Add(1)
		case bytes.Contains(raw, errorMarker) && bytes.Contains(raw, code4100):
			s.error4100.Add(1)
		}
		return
	}
	now := time.Now()
	last := sub.lastSeq.Load()
	first := last + 1
	if sent, ok := markerInt(raw, timeMarker); ok {
		s.latency.record(time.Duration(now.UnixNano() - sent))
	} else if first >= 0 && sub.stream < len(s.sentAt) && first < int64(len(s.sentAt[sub.stream])) {
		if at := s.sentAt[sub.stream][first].Load(); at != 0 {
			s.latency.record(time.Duration(now.UnixNano() - at))
		}
	}
	if seq > first {
		sub.merged++
	}
	if seq <= last {
		sub.outOfOrder++
	} else {
		sub.lastSeq.Store(seq)
	}
	if i := bytes.Index(raw, deltaMarker); i >= 0 {
		rest := raw[i+len(deltaMarker):]
		if j := bytes.Index(rest, quoteMarker); j >= 0 {
			sub.deltaBytes += int64(j)
		}
	}
	sub.frames++
	s.delivered.Add(1)
	s.lastDelivery.Store(now.UnixNano())
}

func (s *slowFleet) onClose(sub *slowSubscriber, code int) {
	sub.closeCode.Store(int64(code))
	switch code {
	case 4100:
		s.closed4100.Add(1)
	case 0:
		s.dropped.Add(1)
	default:
		s.closedOther.Add(1)
	}
}

// lift lets every slow subscriber read freely.
func (s *slowFleet) lift() {
	for _, sub := range s.subs {
		s.conns.Unthrottle(sub.id)
	}
}

// drain waits until each slow subscriber has read its stream's last token
// (lastSeq[stream]) or has been closed, at most limit, or until nothing
// arrived for quiet.
func (s *slowFleet) drain(lastSeq []int64, quiet, limit time.Duration) {
	start := time.Now()
	for time.Since(start) < limit {
		behind := 0
		for _, sub := range s.subs {
			if sub.closeCode.Load() < 0 && sub.lastSeq.Load() < lastSeq[sub.stream] {
				behind++
			}
		}
		if behind == 0 {
			return
		}
		last := max(s.lastDelivery.Load(), start.UnixNano())
		if time.Since(time.Unix(0, last)) > quiet {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *slowFleet) close() {
	if s.conns == nil {
		return
	}
	s.conns.Close()
	s.conns = nil
}

// SlowResult is what the slow subscribers of a streams run saw.
type SlowResult struct {
	Subscribers int     `json:"subscribers"`
	ReadRate    float64 `json:"read_bytes_per_s"`
	// Frames are the token events they received; Merged those that
	// carried more than one token (coalesced by the server).
	Frames int64 `json:"frames"`
	Merged int64 `json:"merged_frames"`
	// Latency is from the publication of the oldest token in each event
	// to its arrival, the backlog read at the end included.
	Latency Latency `json:"latency"`
	// Closed4100 were closed with 4100, and Error4100 got a pusher:error
	// 4100; ClosedOther were closed with another code, and Dropped lost
	// their socket without a close frame.
	Closed4100  int64 `json:"closed_4100"`
	Error4100   int64 `json:"error_4100"`
	ClosedOther int64 `json:"closed_other"`
	Dropped     int64 `json:"dropped"`
	// Complete ended, once their limit was lifted after the run, with every
	// token's text of their stream, in order, none twice; Incomplete are
	// the others that were not closed.
	Complete   int `json:"complete"`
	Incomplete int `json:"incomplete"`
}

// result tallies the slow subscribers against what was published:
// deltaBytes and lastSeq per stream.
func (s *slowFleet) result(deltaBytes, lastSeq []int64) *SlowResult {
	r := &SlowResult{Subscribers: len(s.subs), ReadRate: s.rate, Frames: s.delivered.Load(), Latency: s.latency.latency(),
		Closed4100: s.closed4100.Load(), Error4100: s.error4100.Load(), ClosedOther: s.closedOther.Load(), Dropped: s.dropped.Load()}
	for _, sub := range s.subs {
		r.Merged += sub.merged
		switch {
		case sub.closeCode.Load() >= 0:
		case sub.lastSeq.Load() == lastSeq[sub.stream] && sub.deltaBytes == deltaBytes[sub.stream] && sub.outOfOrder == 0:
			r.Complete++
		default:
			r.Incomplete++
		}
	}
	return r
}

func (r *SlowResult) line() string {
	if r == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "  slow        %d subscribers reading at most %.0f B/s: %d token events, %d of them merged\n", r.Subscribers, r.ReadRate, r.Frames, r.Merged)
	fmt.Fprintf(&b, "  slow lat.   p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms (oldest token in each event)\n", r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max)
	fmt.Fprintf(&b, "  slow ends   closed with 4100: %d (pusher:error 4100 seen: %d), with another code: %d, dropped without a close frame: %d\n",
		r.Closed4100, r.Error4100, r.ClosedOther, r.Dropped)
	fmt.Fprintf(&b, "  slow text   once let read after the run: %d with their stream's whole text, %d without\n", r.Complete, r.Incomplete)
	return b.String()
}

// ServerCounters are the server's own counts of what slow clients cost it,
// read from its /metrics before and after the run: Quaver's
// quaver_tokens_coalesced_total and quaver_slow_consumer_closes_total,
// summed over apps and nodes. They are absent for a server whose public
// port has no /metrics with Quaver's metrics (another server, or Quaver
// with metrics_addr).
type ServerCounters struct {
	TokensCoalesced    float64 `json:"tokens_coalesced"`
	SlowConsumerCloses float64 `json:"slow_consumer_closes"`
	quaver             bool
}

// readServerCounters sums the counters over the nodes' /metrics.
func readServerCounters(ctx context.Context, nodes []string) (*ServerCounters, error) {
	c := &ServerCounters{}
	for _, node := range nodes {
		m, err := client.ReadMetrics(ctx, node)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		c.TokensCoalesced += m["quaver_tokens_coalesced_total"]
		c.SlowConsumerCloses += m["quaver_slow_consumer_closes_total"]
		for name := range m {
			c.quaver = c.quaver || strings.HasPrefix(name, "quaver_")
		}
	}
	return c, nil
}

// since returns the counts from before to c, or nil when either read
// failed or found no Quaver metrics.
func (c *ServerCounters) since(before *ServerCounters) *ServerCounters {
	if c == nil || before == nil || !c.quaver {
		return nil
	}
	return &ServerCounters{TokensCoalesced: c.TokensCoalesced - before.TokensCoalesced,
		SlowConsumerCloses: c.SlowConsumerCloses - before.SlowConsumerCloses, quaver: true}
}

func (c *ServerCounters) line() string {
	if c == nil {
		return ""
	}
	return fmt.Sprintf("  /metrics    tokens coalesced %.0f, slow-consumer closes %.0f (during the run, the backlog's drain included)\n",
		c.TokensCoalesced, c.SlowConsumerCloses)
}
