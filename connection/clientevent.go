package connection

import (
	"bytes"
	"strconv"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/channels"
	"github.com/quaver-dev/quaver/protocol"
	"golang.org/x/time/rate"
)

// maxEventNameLength bounds event names, as in the Pusher SDKs.
const maxEventNameLength = 200

// clientEvent relays a client-* event to the channel's other subscribers,
// on every node, after the app's policy, the channel kind, the size and the
// connection's rate limit allow it. The frame is rebuilt rather than
// forwarded, so a client cannot spoof user_id.
func (c *Conn) clientEvent(msg protocol.Message) {
	ch := msg.Channel
	reject := func(code int, message string) { c.sendError(code, message, ch) }
	if c.app.ClientEvents == apps.ClientEventsOff {
		reject(protocol.CodeClientEventRejected, "Client events are disabled for this app")
		return
	}
	if !channels.Classify(ch).AllowsClientEvents() {
		reject(protocol.CodeClientEventRejected, "Client events are only allowed on private and presence channels")
		return
	}
	c.mu.Lock()
	sub := c.findLocked(ch)
	userID := ""
	if sub != nil && sub.member != nil {
		userID = sub.member.UserID
	}
	allowed := c.allowClientEventLocked()
	c.mu.Unlock()
	if sub == nil && c.app.ClientEvents == apps.ClientEventsMembers {
		reject(protocol.CodeUnauthorized, "The client is not a member of the specified channel.")
		return
	}
	if len(msg.Event) > maxEventNameLength {
		reject(protocol.CodeClientEventRejected, "Event name is longer than 200 characters")
		return
	}
	if len(msg.Data) > c.app.MaxEventSize {
		reject(protocol.CodeClientEventRejected, "Client event data is larger than "+strconv.Itoa(c.app.MaxEventSize)+" bytes")
		return
	}
	if !allowed {
		reject(protocol.CodeClientEventRejected, protocol.ErrRateLimited.Message)
		return
	}
	kind := protocol.DataRaw
	data := bytes.TrimSpace(msg.Data)
	if len(data) == 0 {
		kind = protocol.DataNone
	}
	ctx, cancel := c.ioContext()
	defer cancel()
	c.publish(ctx, protocol.NewFrame(msg.Event, ch, string(data), kind, userID))
}

// allowClientEventLocked applies the per-connection rate limit. The limiter
// is created on first use, so connections that never send client events
// carry none.
func (c *Conn) allowClientEventLocked() bool {
	if c.limiter == nil {
		r := c.app.ClientEventRate
		c.limiter = rate.NewLimiter(rate.Limit(r), r)
	}
	return c.limiter.Allow()
}
