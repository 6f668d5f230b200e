package connection

import (
	"bytes"
	"encoding/json"

	"github.com/quaver-dev/quaver/protocol"
)

// maxHeld bounds the frames held back for one subscription in progress;
// past it the oldest are dropped (the subscriber then gets the newest,
// which for cache and token channels carry the state that matters).
const maxHeld = 1024

// hold is the subscription in progress on a connection. Between entering
// the registry and sending subscription_succeeded (with the presence
// members, the cached event), live frames for that channel are held back,
// so the client sees the snapshot first and then only what followed it.
type hold struct {
	channel string
	frames  []*protocol.Frame
}

// startHold begins holding frames for channel. Subscriptions are handled
// one at a time per connection (under receive), so one hold suffices.
func (c *Conn) startHold(channel string) {
	c.holdMu.Lock()
	c.held = &hold{channel: channel}
	c.holdMu.Unlock()
	c.holding.Store(true)
}

// holdFrame keeps f back if it belongs to the subscription in progress.
func (c *Conn) holdFrame(f *protocol.Frame) bool {
	c.holdMu.Lock()
	defer c.holdMu.Unlock()
	if c.held == nil || c.held.channel != f.Channel {
		return false
	}
	if len(c.held.frames) == maxHeld {
		copy(c.held.frames, c.held.frames[1:])
		c.held.frames = c.held.frames[:maxHeld-1]
	}
	c.held.frames = append(c.held.frames, f)
	return true
}

// releaseHold sends the snapshot frames, then the held frames that the
// snapshot does not already account for, and stops holding. members is the
// presence snapshot (nil on other channels). Broadcasts for the channel that
// arrive meanwhile wait on holdMu, so they queue after all of this.
func (c *Conn) releaseHold(snapshot []*protocol.Frame, members map[string]bool) {
	c.holdMu.Lock()
	defer c.holdMu.Unlock()
	for _, f := range snapshot {
		c.enqueue(f)
	}
	if c.held != nil {
		for _, f := range c.held.frames {
			if !redundant(f, snapshot, members) {
				c.enqueue(f)
			}
		}
	}
	c.held = nil
	c.holding.Store(false)
}

// redundant reports whether a held frame repeats what the snapshot already
// told the client: the cached event itself, a member_added of a user in the
// members list, or a member_removed of a user not in it.
func redundant(f *protocol.Frame, snapshot []*protocol.Frame, members map[string]bool) bool {
	for _, s := range snapshot {
		if bytes.Equal(s.JSON, f.JSON) {
			return true
		}
	}
	if members == nil || (f.Event != protocol.EventMemberAdded && f.Event != protocol.EventMemberRemoved) {
		return false
	}
	var d struct {
		UserID string `json:"user_id"`
	}
	if json.Unmarshal([]byte(f.Data), &d) != nil {
		return false
	}
	present := members[d.UserID]
	return f.Event == protocol.EventMemberAdded && present || f.Event == protocol.EventMemberRemoved && !present
}
