package connection

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/metrics"
	"github.com/quaver-dev/quaver/presence"
	"github.com/quaver-dev/quaver/protocol"
	"golang.org/x/time/rate"
)

// Conn is one client connection. It satisfies channels.Subscriber.
type Conn struct {
	hub       *Hub
	app       *apps.App
	id        string
	transport Transport

	out outbox

	// delivery records the app's delivery metrics; lastToken is the
	// stream and time of the last token written, for the gap between
	// tokens. Only the writer of the moment touches lastToken.
	delivery  *metrics.Delivery
	lastToken struct {
		stream string
		at     int64
	}

	// receive serialises inbound messages: a WebSocket has one reader, but
	// HTTP fallback sends may arrive concurrently.
	receive sync.Mutex

	mu      sync.Mutex // guards the fields below; taken after receive
	closed  bool
	subs    []subscription
	user    *signedInUser
	limiter *rate.Limiter
	// inboundLimiter bounds client events forwarded to workers.
	inboundLimiter *rate.Limiter

	// holding is set while a subscription is in progress; frames for its
	// channel are then kept in held until the snapshot has been sent.
	holding atomic.Bool
	holdMu  sync.Mutex // guards held and covered; taken after mu
	held    *hold
	// covered holds, after a subscription's snapshot, the last seq of each
	// token stream it covered (see rememberCovered); hasCovered is set
	// while it is not empty, so other connections skip the lock.
	covered    map[coverKey]int64
	hasCovered atomic.Bool

	// lastSeen is the hub clock (Unix seconds) of the last inbound message;
	// pingedAt the clock when a server ping went out unanswered (0: none).
	lastSeen atomic.Int64
	pingedAt atomic.Int64
	// slow is set once the outbox overflowed, so the close is started once.
	slow atomic.Bool
	// ended is set once the transport has let go of its socket.
	ended atomic.Bool
	once  sync.Once
}

type subscription struct {
	channel string
	member  *presence.Member // set on presence channels
}

type signedInUser struct {
	id       string
	userData string
}

// logger returns a logger with the connection's fields. It is built when
// something is logged rather than kept per connection, which would cost
// every idle connection its memory.
func (c *Conn) logger() *slog.Logger {
	return c.hub.opts.Logger.With("app", c.app.ID, "socket_id", c.id, "transport", c.transport.Name())
}

// SocketID returns the connection's Pusher socket id.
func (c *Conn) SocketID() string { return c.id }

// App returns the app the connection belongs to.
func (c *Conn) App() *apps.App { return c.app }

// Open sends pusher:connection_established, the first frame a client
// receives, once the transport can carry it.
func (c *Conn) Open() {
	if c.hub.debug {
		c.logger().Debug("connection opened")
	}
	c.Send(connectionEstablished(c.id, c.app.ActivityTimeout))
}

// Send queues f for the client without blocking. It returns false if the
// connection is closing. A client whose outbox would pass the hard limit is
// closed with 4100: it reconnects after a back-off instead of holding
// unbounded memory.
func (c *Conn) Send(f *protocol.Frame) bool {
	if c.holding.Load() && f.Channel != "" && c.holdFrame(f) {
		return true
	}
	if f.Token != nil && c.hasCovered.Load() && c.coveredToken(f) {
		return true
	}
	return c.enqueue(f)
}

// enqueue puts f in the outbox, bypassing any hold.
func (c *Conn) enqueue(f *protocol.Frame) bool {
	switch c.out.push(f, c.hub.opts.OutboxSoftLimit, c.hub.opts.OutboxHardLimit) {
	case pushedWake:
		c.transport.Wake()
		return true
	case pushed:
		return true
	case pushedMerged:
		c.delivery.TokenCoalesced()
		return true
	case pushOverflow:
		if c.slow.CompareAndSwap(false, true) {
			c.logger().Warn("closing slow consumer", "pending_bytes", c.out.pending())
			c.hub.opts.Metrics.SlowConsumerClosed(c.app.ID)
			go c.CloseWith(protocol.ErrSlowConsumer, false)
		}
	}
	return false
}

// noteStalled logs and counts a connection cut by the write timeout: a slow
// consumer too, counted once like one past the hard limit.
func (c *Conn) noteStalled(timeout time.Duration) {
	if c.slow.CompareAndSwap(false, true) {
		c.logger().Warn("closing stalled connection", "pending_bytes", c.out.pending(), "no_progress_for", timeout)
		c.hub.opts.Metrics.SlowConsumerClosed(c.app.ID)
	}
}

// Take hands the transport's writer the next frames to write (at most
// maxBytes, at least one frame), appended to dst. An empty result with a
// nil Closing means the outbox is drained and the writer may stop; a
// non-nil Closing means the transport must send it and end.
func (c *Conn) Take(dst []*protocol.Frame, maxBytes int) ([]*protocol.Frame, *Closing) {
	n := len(dst)
	dst, closing := c.out.take(dst, maxBytes)
	if c.delivery != nil && len(dst) > n {
		c.measure(dst[n:])
	}
	return dst, closing
}

// measure records the delivery metrics of frames about to be written: the
// writer calls Take right before it writes.
func (c *Conn) measure(frames []*protocol.Frame) {
	c.delivery.Written(len(frames))
	var now int64
	for _, f := range frames {
		if f.Ingested == 0 {
			continue // made here (replies, snapshots): nothing to time
		}
		if now == 0 {
			now = time.Now().UnixNano()
		}
		c.delivery.Latency(f.Source, time.Duration(now-f.Ingested))
		t := f.Token
		if t == nil {
			continue
		}
		if t.First && f.FirstWrite() {
			fromRequest := time.Duration(now - t.RequestedAt*int64(time.Millisecond))
			c.delivery.FirstToken(time.Duration(now-f.Ingested), fromRequest, t.RequestedAt != 0)
		}
		if c.lastToken.stream == t.Stream {
			c.delivery.TokenGap(time.Duration(now - c.lastToken.at))
		}
		c.lastToken.stream, c.lastToken.at = t.Stream, now
	}
}

// Touch records inbound activity (any message, ping or pong) for heartbeats.
func (c *Conn) Touch() {
	c.lastSeen.Store(c.hub.clock.Load())
	c.pingedAt.Store(0)
}

// CloseWith ends the connection: the client gets err as pusher:error and
// the close code err.Code. With flush, frames already queued go out first;
// without, they are dropped (the client is not reading them anyway, and a
// slow consumer's queue is what must be freed), and the error and the close
// go out as soon as the client reads again, within the write timeout.
// Calling it more than once, or after the transport ended, does nothing.
func (c *Conn) CloseWith(err *protocol.Error, flush bool) {
	c.end(err.Message, func() {
		if c.out.close(closingFrom(err), protocol.ErrorFrame(err.Code, err.Message, ""), flush) {
			c.transport.Wake()
		}
	})
}

// closeProtocol ends the connection with a WebSocket close code and no
// pusher:error: the client broke the WebSocket protocol, or asked to close.
func (c *Conn) closeProtocol(code uint16, reason string) {
	c.end(reason, func() {
		if c.out.close(&Closing{Code: int(code), Reason: reason}, nil, false) {
			c.transport.Wake()
		}
	})
}

// TransportEnded tells the hub that the transport has finished sending
// (the close included) and let go of its socket; shutdown waits for it.
func (c *Conn) TransportEnded() {
	if _, ok := c.transport.(finisher); ok && c.ended.CompareAndSwap(false, true) {
		c.hub.ending.Add(-1)
	}
}

// TransportClosed tells the connection its transport ended (the peer closed
// or vanished). Cleanup runs as for any close.
func (c *Conn) TransportClosed(reason string) {
	c.end(reason, func() { c.out.close(&Closing{}, nil, false) })
}

// end runs the one cleanup every way of closing goes through: leave every
// channel (member_removed on presence channels), drop out of the hub, and
// finish the transport with finish.
func (c *Conn) end(reason string, finish func()) {
	c.once.Do(func() {
		c.mu.Lock()
		c.closed = true
		subs := c.subs
		c.subs = nil
		user := c.user
		c.mu.Unlock()

		finish()
		ctx, cancel := context.WithTimeout(context.Background(), c.hub.opts.CleanupTimeout)
		defer cancel()
		for _, s := range subs {
			c.leave(ctx, s)
		}
		if user != nil {
			c.hub.users.remove(c.app.ID, user.id, c)
		}
		c.hub.remove(c)
		if c.hub.debug {
			c.logger().Debug("connection closed", "reason", reason)
		}
	})
}
