package connection

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/quaver-dev/quaver/broadcast"
	"github.com/quaver-dev/quaver/channels"
	"github.com/quaver-dev/quaver/presence"
	"github.com/quaver-dev/quaver/protocol"
)

// Subscription error types, as pusher:subscription_error data.type.
const (
	errTypeAuth    = "AuthError"
	errTypeLimit   = "LimitReached"
	errTypeChannel = "InvalidChannel"
)

// maxUserIDLength bounds presence and sign-in user ids, as Pusher does.
const maxUserIDLength = 128

func (c *Conn) ioContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.hub.opts.CleanupTimeout)
}

func (c *Conn) subscribe(msg protocol.Message) {
	var d protocol.SubscribeData
	if err := protocol.DecodeData(msg.Data, &d); err != nil {
		c.sendError(protocol.CodeReconnect, "Invalid subscribe request: data must be an object with a channel", "")
		return
	}
	ch := d.Channel
	if err := channels.Validate(ch); err != nil {
		c.Send(subscriptionError(ch, errTypeChannel, err.Error(), 400))
		return
	}
	info := channels.Classify(ch)
	member, failure := c.authorize(ch, info, d)
	if failure != nil {
		c.Send(failure)
		return
	}

	c.mu.Lock()
	existing := c.findLocked(ch)
	count := len(c.subs)
	c.mu.Unlock()
	if existing == nil && count >= c.hub.opts.MaxChannelsPerConnection {
		c.Send(subscriptionError(ch, errTypeLimit, "Too many channels on one connection", protocol.CodeOverCapacity))
		return
	}

	ctx, cancel := c.ioContext()
	defer cancel()
	first := false
	if member != nil {
		var failure *protocol.Frame
		if first, failure = c.joinPresence(ctx, ch, *member); failure != nil {
			c.Send(failure)
			return
		}
	}

	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		if member != nil {
			c.leavePresence(ctx, ch)
		}
		return
	}
	if existing == nil {
		c.subs = append(c.subs, subscription{channel: ch, member: member})
		if member != nil {
			c.hub.users.add(c.app.ID, member.UserID, c)
		}
	}
	c.startHold(ch)
	c.hub.opts.Registry.Add(c.app.ID, ch, c)
	c.mu.Unlock()

	c.releaseHold(c.readSnapshot(ctx, ch, info.Cache, member != nil, d.Resume))
	if first {
		c.publish(ctx, protocol.MemberAdded(ch, member.UserID, member.Info))
	}
}

// awaitTimeout bounds the wait for other nodes' events to start flowing to
// this node; past it (Redis down) the subscription succeeds locally.
const awaitTimeout = 2 * time.Second

// readSnapshot waits until events from other nodes reach this node, then reads
// what a new subscriber is told first: subscription_succeeded (with the
// presence members), on cache channels the cached event or a cache miss,
// and on channels with an AI streaming rule the text of each token stream
// so far (or after resume) and the replayed history.
func (c *Conn) readSnapshot(ctx context.Context, ch string, cache, isPresence bool, resume *protocol.Resume) snapshot {
	awaitCtx, cancel := context.WithTimeout(ctx, awaitTimeout)
	err := c.hub.opts.Publisher.Await(awaitCtx, c.app.ID, ch)
	cancel()
	if err != nil {
		c.logger().Warn("other nodes' events for this channel may be missed", "channel", ch, "err", err)
	}
	frames := make([]*protocol.Frame, 0, 2)
	var ids map[string]bool
	var seen map[string]int64
	if isPresence {
		members, err := c.hub.opts.Presence.Members(ctx, c.app.ID, ch)
		if err != nil {
			c.logger().Error("presence members", "channel", ch, "err", err)
		}
		ids = make(map[string]bool, len(members))
		for _, m := range members {
			ids[m.UserID] = true
		}
		frames = append(frames, presenceSucceeded(ch, members))
	} else {
		frames = append(frames, subscriptionSucceeded(ch))
	}
	if cache {
		cached, err := c.hub.opts.Publisher.Cached(ctx, c.app.ID, ch)
		if err != nil {
			c.logger().Warn("reading cache channel", "channel", ch, "err", err)
		}
		if cached == nil {
			cached = cacheMiss(ch)
		}
		frames = append(frames, cached)
	}
	if rule := c.app.Rule(ch); rule != nil {
		streamed, streamSeen, err := c.hub.opts.Publisher.Snapshot(ctx, c.app.ID, rule, ch, resume)
		if err != nil {
			c.logger().Warn("reading channel history; the subscriber starts from the live events", "channel", ch, "err", err)
		}
		frames, seen = append(frames, streamed...), streamSeen
	}
	return snapshot{frames: frames, members: ids, tokens: seen}
}

// joinPresence adds the member and reports whether the user is new to the
// channel, or returns the frame telling the client why it could not join.
func (c *Conn) joinPresence(ctx context.Context, ch string, m presence.Member) (first bool, failure *protocol.Frame) {
	first, err := c.hub.opts.Presence.Join(ctx, c.app.ID, ch, c.id, m, c.app.MaxPresenceMembers)
	switch {
	case errors.Is(err, presence.ErrFull):
		return false, subscriptionError(ch, errTypeLimit, "Presence channel is full", protocol.CodeOverCapacity)
	case err != nil:
		c.logger().Error("presence join", "channel", ch, "err", err)
		return false, subscriptionError(ch, errTypeLimit, "Presence is unavailable, try again", 503)
	}
	return first, nil
}

// authorize checks a subscription's signature and, on presence channels,
// parses the member from channel_data. It returns a frame to send on failure.
func (c *Conn) authorize(ch string, info channels.Info, d protocol.SubscribeData) (*presence.Member, *protocol.Frame) {
	app := c.app
	authFailed := func(reason string) *protocol.Frame {
		return subscriptionError(ch, errTypeAuth, "Unable to authorize channel "+ch+": "+reason, 401)
	}
	switch info.Kind {
	case channels.Public:
		return nil, nil
	case channels.User:
		id, _ := channels.UserID(ch)
		c.mu.Lock()
		signedIn := c.user != nil && c.user.id == id
		c.mu.Unlock()
		if !signedIn {
			return nil, authFailed("the connection is not signed in as this user")
		}
		return nil, nil
	case channels.Private, channels.Encrypted:
		err := protocol.VerifyAuth(app.Key, app.Secret, d.Auth, protocol.ChannelAuthMessage(c.id, ch, "", false))
		if err != nil && d.ChannelData != nil {
			err = protocol.VerifyAuth(app.Key, app.Secret, d.Auth, protocol.ChannelAuthMessage(c.id, ch, *d.ChannelData, true))
		}
		if err != nil {
			return nil, authFailed(err.Error())
		}
		return nil, nil
	}
	// Presence.
	if d.ChannelData == nil {
		return nil, authFailed("channel_data is required on presence channels")
	}
	if err := protocol.VerifyAuth(app.Key, app.Secret, d.Auth, protocol.ChannelAuthMessage(c.id, ch, *d.ChannelData, true)); err != nil {
		return nil, authFailed(err.Error())
	}
	var cd struct {
		UserID   json.RawMessage `json:"user_id"`
		UserInfo json.RawMessage `json:"user_info"`
	}
	if err := json.Unmarshal([]byte(*d.ChannelData), &cd); err != nil {
		return nil, authFailed("channel_data is not a JSON object")
	}
	id, ok := userIDString(cd.UserID)
	if !ok {
		return nil, authFailed("channel_data.user_id must be a non-empty string or a number")
	}
	if len(id) > maxUserIDLength {
		return nil, subscriptionError(ch, errTypeLimit, "user_id is longer than 128 characters", protocol.CodeClientEventRejected)
	}
	if len(cd.UserInfo) > app.MaxPresenceMemberSize {
		return nil, subscriptionError(ch, errTypeLimit, "user_info is larger than "+strconv.Itoa(app.MaxPresenceMemberSize)+" bytes", protocol.CodeClientEventRejected)
	}
	return &presence.Member{UserID: id, Info: string(cd.UserInfo)}, nil
}

// userIDString accepts a JSON string or number as a user id.
func userIDString(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 {
		return "", false
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil || s == "" {
			return "", false
		}
		return s, true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return "", false
	}
	return n.String(), true
}

func (c *Conn) unsubscribe(msg protocol.Message) {
	var d struct {
		Channel string `json:"channel"`
	}
	if err := protocol.DecodeData(msg.Data, &d); err != nil {
		c.sendError(protocol.CodeReconnect, "Invalid unsubscribe request: data must be an object with a channel", "")
		return
	}
	c.mu.Lock()
	var removed *subscription
	for i := range c.subs {
		if c.subs[i].channel == d.Channel {
			s := c.subs[i]
			removed = &s
			c.subs = append(c.subs[:i], c.subs[i+1:]...)
			break
		}
	}
	c.mu.Unlock()
	if removed == nil {
		return // unsubscribing a channel never joined is not an error
	}
	ctx, cancel := c.ioContext()
	defer cancel()
	c.leave(ctx, *removed)
}

// leave takes the connection out of one channel: the registry, and on
// presence channels the store, announcing member_removed when the user's
// last socket is gone.
func (c *Conn) leave(ctx context.Context, s subscription) {
	c.hub.opts.Registry.Remove(c.app.ID, s.channel, c)
	if c.hasCovered.Load() {
		c.forgetCovered(s.channel)
	}
	if s.member != nil {
		c.leavePresence(ctx, s.channel)
		c.hub.users.remove(c.app.ID, s.member.UserID, c)
	}
}

func (c *Conn) leavePresence(ctx context.Context, ch string) {
	m, last, err := c.hub.opts.Presence.Leave(ctx, c.app.ID, ch, c.id)
	if err != nil {
		c.logger().Error("presence leave", "channel", ch, "err", err)
		return
	}
	if last {
		c.publish(ctx, protocol.MemberRemoved(ch, m.UserID))
	}
}

func (c *Conn) publish(ctx context.Context, f *protocol.Frame) {
	c.hub.opts.Publisher.Publish(ctx, broadcast.Event{App: c.app.ID, Frame: f, Except: c.id})
}

func (c *Conn) findLocked(ch string) *subscription {
	for i := range c.subs {
		if c.subs[i].channel == ch {
			return &c.subs[i]
		}
	}
	return nil
}
