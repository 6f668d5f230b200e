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

// maxCovered bounds the token streams a connection remembers as covered
// by its snapshots.
const maxCovered = 256

// coverKey names a token stream on a channel.
type coverKey struct{ channel, stream string }

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

// snapshot is what a subscription in progress sends first, and what it knows:
// the presence members (nil on other channels) and, per token stream, the
// last seq its text covers.
type snapshot struct {
	frames  []*protocol.Frame
	members map[string]bool
	tokens  map[string]int64
}

// releaseHold sends the snapshot frames, then the held frames that the
// snapshot does not already account for, and stops holding. Broadcasts for
// the channel that arrive meanwhile wait on holdMu, so they queue after all
// of this.
func (c *Conn) releaseHold(snapshot snapshot) {
	c.holdMu.Lock()
	defer c.holdMu.Unlock()
	for _, f := range snapshot.frames {
		c.enqueue(f)
	}
	if c.held != nil {
		for _, f := range c.held.frames {
			if !snapshot.covers(f) {
				c.enqueue(f)
			}
		}
		c.rememberCovered(c.held.channel, snapshot.tokens)
	}
	c.held = nil
	c.holding.Store(false)
}

// rememberCovered keeps, per token stream, the seq the snapshot's text
// covers. Tokens the history already holds may still be on their way here
// after the hold ends (from another node, or held back by pacing); they
// are dropped when they come, until the stream passes that seq.
func (c *Conn) rememberCovered(channel string, tokens map[string]int64) {
	for stream, seq := range tokens {
		if c.covered == nil {
			c.covered = make(map[coverKey]int64)
		}
		if len(c.covered) == maxCovered {
			break
		}
		c.covered[coverKey{channel, stream}] = seq
	}
	c.hasCovered.Store(len(c.covered) > 0)
}

// forgetCovered drops what the snapshot of a channel left covered.
func (c *Conn) forgetCovered(channel string) {
	c.holdMu.Lock()
	defer c.holdMu.Unlock()
	for k := range c.covered {
		if k.channel == channel {
			delete(c.covered, k)
		}
	}
	c.hasCovered.Store(len(c.covered) > 0)
}

// coveredToken reports whether token frame f repeats what a snapshot
// already gave the client. A later token of the stream ends the watch.
func (c *Conn) coveredToken(f *protocol.Frame) bool {
	c.holdMu.Lock()
	defer c.holdMu.Unlock()
	k := coverKey{f.Channel, f.Token.Stream}
	seq, ok := c.covered[k]
	if !ok {
		return false
	}
	if f.Token.Seq <= seq {
		return true
	}
	delete(c.covered, k)
	c.hasCovered.Store(len(c.covered) > 0)
	return false
}

// covers reports whether a held frame repeats what the snapshot already
// told the client: an event it holds (the cached one, a replayed one), a
// token its stream's text already includes, a member_added of a user in
// the members list, or a member_removed of a user not in it.
func (snapshot snapshot) covers(f *protocol.Frame) bool {
	if f.Token != nil && snapshot.tokens != nil {
		if seq, ok := snapshot.tokens[f.Token.Stream]; ok && f.Token.Seq <= seq {
			return true
		}
	}
	for _, s := range snapshot.frames {
		if bytes.Equal(s.JSON, f.JSON) {
			return true
		}
	}
	members := snapshot.members
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
