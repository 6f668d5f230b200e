package bench

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quaver-dev/quaver/client"
)

// fleet is many subscribed connections and what they received. The
// connections are a client.Fleet: no goroutine each, one read(2) per
// readiness, so the tool can take the deliveries of a server much faster
// than itself.
type fleet struct {
	target Target
	conns  *client.Fleet
	subs   []*subscriber

	subscribed   atomic.Int64
	delivered    atomic.Int64
	lastDelivery atomic.Int64 // Unix nanoseconds
	latency      histogram
}

// subscriber is one connection's view of a run. Its fields are written
// only by its connection's reader goroutine, and read after it has ended.
type subscriber struct {
	channel    int
	seen       []uint64 // bitset of sequence numbers
	received   int64
	duplicated int64
	outOfOrder int64
	lastSeq    int64
}

var (
	succeededMarker = []byte(`pusher_internal:subscription_succeeded`)
	seqMarker       = []byte(`seq\":`)
	timeMarker      = []byte(`t\":`)
)

// markerInt reads the integer after marker in raw (the benchmark data is a
// JSON string inside the frame, so its quotes are escaped).
func markerInt(raw, marker []byte) (int64, bool) {
	i := bytes.Index(raw, marker)
	if i < 0 {
		return 0, false
	}
	i += len(marker)
	j := i
	for j < len(raw) && raw[j] >= '0' && raw[j] <= '9' {
		j++
	}
	n, err := strconv.ParseInt(string(raw[i:j]), 10, 64)
	return n, err == nil
}

// onFrame records one received frame for subscriber s.
func (f *fleet) onFrame(s *subscriber, raw []byte) {
	seq, ok := markerInt(raw, seqMarker)
	if !ok {
		if bytes.Contains(raw, succeededMarker) {
			f.subscribed.Add(1)
		}
		return
	}
	now := time.Now().UnixNano()
	if sent, ok := markerInt(raw, timeMarker); ok {
		f.latency.record(time.Duration(now - sent))
	}
	f.delivered.Add(1)
	f.lastDelivery.Store(now)
	s.received++
	if seq < s.lastSeq {
		s.outOfOrder++
	}
	s.lastSeq = seq
	word, bit := seq/64, uint(seq%64)
	for int64(len(s.seen)) <= word {
		s.seen = append(s.seen, 0)
	}
	if s.seen[word]&(1<<bit) != 0 {
		s.duplicated++
		return
	}
	s.seen[word] |= 1 << bit
}

func (s *subscriber) saw(seq int64) bool {
	word := seq / 64
	return word < int64(len(s.seen)) && s.seen[word]&(1<<uint(seq%64)) != 0
}

// connect dials n connections (spread over the target's nodes), subscribes
// connection i to channelName(channelOf(i)) and waits until all are
// subscribed. It returns the time that took.
func (f *fleet) connect(ctx context.Context, n int, channelOf func(i int) int, channelName func(int) string, dialers int, p *phase) (time.Duration, error) {
	conns, err := client.NewFleet(runtime.GOMAXPROCS(0))
	if err != nil {
		return 0, err
	}
	f.conns = conns
	conns.Start()

	f.subs = make([]*subscriber, n)
	start := time.Now()
	dial := func(i int) error { return f.dial(ctx, i, channelOf(i), channelName) }
	if err := dialAll(ctx, n, dialers, dial, &f.subscribed, p); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// dialAll runs dial(0) … dial(n-1) on at most dialers goroutines, then waits
// until subscribed counts n confirmed subscriptions.
func dialAll(ctx context.Context, n, dialers int, dial func(i int) error, subscribed *atomic.Int64, p *phase) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, dialers)
	for range min(dialers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				if err := dial(i); err != nil {
					errs <- err
					return
				}
				p.connected.Add(1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	for subscribed.Load() < int64(n) {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bench: %d of %d subscriptions confirmed: %w", subscribed.Load(), n, err)
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

func (f *fleet) dial(ctx context.Context, i, channel int, channelName func(int) string) error {
	s := &subscriber{channel: channel, lastSeq: -1}
	f.subs[i] = s
	node := f.target.Nodes[i%len(f.target.Nodes)]
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	id, _, err := f.conns.Dial(dialCtx, wsURL(node), f.target.Key, func(raw []byte) { f.onFrame(s, raw) })
	if err != nil {
		return fmt.Errorf("bench: connection %d: %w", i, err)
	}
	return f.conns.Subscribe(id, channelName(channel))
}

// close ends every connection and the readers, after which the
// subscribers' tallies may be read.
func (f *fleet) close() {
	if f.conns == nil {
		return
	}
	f.conns.Close()
	f.conns = nil
}

// drain waits, after the last publish, until every expected delivery
// arrived or none arrived for quiet, at most limit.
func (f *fleet) drain(expected int64, quiet, limit time.Duration) {
	start := time.Now()
	for time.Since(start) < limit && f.delivered.Load() < expected {
		last := max(f.lastDelivery.Load(), start.UnixNano())
		if time.Since(time.Unix(0, last)) > quiet {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// phase counts progress for the live line.
type phase struct {
	connected atomic.Int64
	published atomic.Int64
	errors    atomic.Int64
}
