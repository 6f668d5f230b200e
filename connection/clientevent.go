package connection

import (
	"bytes"
	"context"
	"strconv"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/broadcast"
	"github.com/quaver-dev/quaver/channels"
	"github.com/quaver-dev/quaver/protocol"
	"github.com/quaver-dev/quaver/streams"
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
	if rule := c.app.Rule(ch); rule != nil && rule.Inbound && !c.sendInbound(ctx, rule, msg.Event, ch, string(data), userID) {
		return
	}
	f := protocol.NewFrame(msg.Event, ch, string(data), kind, userID)
	f.Ingested, f.Source = time.Now().UnixNano(), protocol.SourceClientEvent
	c.hub.opts.Publisher.Publish(ctx, broadcast.Event{App: c.app.ID, Frame: f, Except: c.id, Rule: c.app.Rule(ch)})
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

// sendInbound appends a client event of an inbound channel (a user's prompt)
// to the app's inbound stream for the workers, within the rule's rate per
// connection and per user. It reports whether the event may go on; when
// not, the client has been told why.
func (c *Conn) sendInbound(ctx context.Context, rule *apps.ChannelRule, event, ch, data, userID string) bool {
	reject := func(code int, message string) bool {
		c.sendError(code, message, ch)
		return false
	}
	if c.hub.opts.Inbound == nil {
		return reject(protocol.CodeClientEventRejected, "This channel forwards client events to workers, which needs Redis")
	}
	c.mu.Lock()
	if c.inboundLimiter == nil {
		c.inboundLimiter = rate.NewLimiter(rate.Limit(rule.InboundRate), rule.InboundRate)
	}
	allowed := c.inboundLimiter.Allow()
	if userID == "" && c.user != nil {
		userID = c.user.id
	}
	c.mu.Unlock()
	if !allowed {
		return reject(protocol.CodeClientEventRejected, "Client event rejected: too many on this channel, slow down")
	}
	ok, err := c.hub.opts.Inbound.Append(ctx, streams.InboundEvent{
		App: c.app.ID, Channel: ch, Event: event, Data: data, SocketID: c.id, UserID: userID, UserRate: rule.InboundRate,
	})
	switch {
	case err != nil:
		c.logger().Error("appending a client event to the inbound stream", "channel", ch, "err", err)
		return reject(0, "The event could not be forwarded, try again")
	case !ok:
		return reject(protocol.CodeClientEventRejected, "Client event rejected: too many from this user, slow down")
	}
	return true
}
