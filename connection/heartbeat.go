package connection

import (
	"github.com/quaver-dev/quaver/protocol"
)

var pingFrame = protocol.NewFrame(protocol.EventPing, "", "{}", protocol.DataRaw, "")

// heartbeat pings connections that have been silent for their app's activity
// timeout and closes, with 4201, those that stayed silent for PongTimeout
// after the ping. pusher-js pings on its own after the same timeout, so a
// live client usually answers before the server asks.
func (h *Hub) heartbeat(now int64) {
	pongTimeout := int64(h.opts.PongTimeout.Seconds())
	h.each(func(c *Conn) {
		if pinged := c.pingedAt.Load(); pinged != 0 {
			if now-pinged >= pongTimeout {
				if c.hub.debug {
					c.logger().Debug("closing silent connection")
				}
				c.CloseWith(protocol.ErrPongTimeout, true)
			}
			return
		}
		if now-c.lastSeen.Load() >= int64(c.app.ActivityTimeout.Seconds()) {
			c.pingedAt.Store(now)
			c.Send(pingFrame)
		}
	})
}
