package bench

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quaver-dev/quaver/client"
)

// payload builds an event's data: its sequence number, the send time (for
// end-to-end latency) and padding up to size bytes.
func payload(seq int64, size int) string {
	var b strings.Builder
	b.Grow(size + 48)
	b.WriteString(`{"seq":`)
	b.WriteString(strconv.FormatInt(seq, 10))
	b.WriteString(`,"t":`)
	b.WriteString(strconv.FormatInt(time.Now().UnixNano(), 10))
	b.WriteString(`,"pad":"`)
	for b.Len() < size-2 {
		b.WriteByte('x')
	}
	b.WriteString(`"}`)
	return b.String()
}

// publishedSet records which sequence numbers the server accepted.
type publishedSet struct{ words []atomic.Uint64 }

func newPublishedSet(n int64) *publishedSet {
	return &publishedSet{words: make([]atomic.Uint64, n/64+1)}
}

func (p *publishedSet) add(seq int64) { p.words[seq/64].Or(1 << uint(seq%64)) }

func (p *publishedSet) has(seq int64) bool {
	return p.words[seq/64].Load()&(1<<uint(seq%64)) != 0
}

// paced runs publish(conn, seq) for seq 0, 1, ... at rate per second for
// duration, from workers concurrent goroutines, each with its own API
// connection. When the server (or the workers) cannot keep up, events are
// not queued without bound: the schedule falls behind and the achieved rate
// says so.
func paced(ctx context.Context, api *client.API, rate float64, duration time.Duration, workers int, publish func(conn *client.APIConn, seq int64) error, ph *phase) (issued int64, err error) {
	conns := make([]*client.APIConn, workers)
	for i := range conns {
		if conns[i], err = client.DialAPI(ctx, api); err != nil {
			return 0, err
		}
		defer conns[i].Close()
	}
	jobs := make(chan int64, workers)
	done := make(chan struct{})
	var running atomic.Int64
	for _, conn := range conns {
		running.Add(1)
		go func() {
			defer func() {
				if running.Add(-1) == 0 {
					close(done)
				}
			}()
			for seq := range jobs {
				if err := publish(conn, seq); err != nil {
					ph.errors.Add(1)
				} else {
					ph.published.Add(1)
				}
			}
		}()
	}
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil {
		elapsed := time.Since(start)
		if elapsed >= duration {
			break
		}
		due := int64(rate * elapsed.Seconds())
	fill:
		for issued < due {
			select {
			case jobs <- issued:
				issued++
			default:
				break fill
			}
		}
		<-tick.C
	}
	close(jobs)
	<-done
	return issued, nil
}

// trigger publishes one benchmark event to a channel.
func trigger(conn *client.APIConn, channel, event string, seq int64, size int, set *publishedSet) error {
	_, err := conn.Trigger(client.TriggerEvent{Name: event, Channels: []string{channel}, Data: payload(seq, size)})
	if err == nil {
		set.add(seq)
	}
	return err
}
