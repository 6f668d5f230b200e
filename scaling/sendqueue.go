package scaling

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// outgoing is one envelope ready for PUBLISH: its Redis channel and the
// payload with this node's header.
type outgoing struct {
	name    string
	payload []byte
}

// sendQueue holds the envelopes waiting to be published, in publish
// order, bounded by their bytes.
type sendQueue struct {
	mu       sync.Mutex // guards items and bytes
	items    []outgoing
	bytes    int
	maxBytes int
	wake     chan struct{}
}

func newSendQueue(maxBytes int) *sendQueue {
	return &sendQueue{maxBytes: maxBytes, wake: make(chan struct{}, 1)}
}

func (q *sendQueue) push(o outgoing) bool {
	q.mu.Lock()
	if q.bytes+len(o.payload) > q.maxBytes {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, o)
	q.bytes += len(o.payload)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// take returns everything queued, handing back spare as the next buffer so
// steady traffic reuses two slices.
func (q *sendQueue) take(spare []outgoing) []outgoing {
	q.mu.Lock()
	items := q.items
	q.items = spare[:0]
	q.bytes = 0
	q.mu.Unlock()
	return items
}

// sendBatch bounds one pipeline, so a backlog after a stall goes out in
// pieces Redis answers promptly.
const sendBatch = 512

// drainTimeout bounds the last flush at shutdown.
const drainTimeout = 2 * time.Second

// send publishes the queue in pipelined batches until ctx ends, then
// flushes what is left.
func (b *Redis) send(ctx context.Context) {
	var spare []outgoing
	var errs publishErrors
	for {
		select {
		case <-b.out.wake:
		case <-ctx.Done():
			flush, cancel := context.WithTimeout(context.WithoutCancel(ctx), drainTimeout)
			b.publishAll(flush, b.out.take(nil), &errs)
			cancel()
			return
		}
		items := b.out.take(spare)
		b.publishAll(ctx, items, &errs)
		clear(items) // let the payloads go before the slice is reused
		spare = items
	}
}

func (b *Redis) publishAll(ctx context.Context, items []outgoing, errs *publishErrors) {
	for len(items) > 0 {
		n := min(len(items), sendBatch)
		b.publishBatch(ctx, items[:n], errs)
		items = items[n:]
	}
}

func (b *Redis) publishBatch(ctx context.Context, items []outgoing, errs *publishErrors) {
	pipe := b.opts.Client.Pipeline()
	for _, o := range items {
		if b.opts.Cluster {
			pipe.SPublish(ctx, o.name, o.payload)
		} else {
			pipe.Publish(ctx, o.name, o.payload)
		}
	}
	cmds, err := pipe.Exec(ctx)
	if err == nil {
		return
	}
	failed := 0
	for _, c := range cmds {
		if c.Err() != nil && c.Err() != redis.Nil {
			failed++
			b.opts.Observer.RedisPublishError()
		}
	}
	errs.failed += failed
	if now := time.Now(); now.Sub(errs.logged) >= publishLogInterval {
		b.opts.Logger.Error("events reached this node only: publishing to Redis failed", "events", errs.failed, "err", err)
		errs.failed, errs.logged = 0, now
	}
}

// publishErrors is the send loop's count of failed publishes since it last
// logged them: at most once per publishLogInterval, so an outage does not
// flood the log.
type publishErrors struct {
	failed int
	logged time.Time
}

const publishLogInterval = 5 * time.Second
