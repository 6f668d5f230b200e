package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/quaver-dev/quaver/protocol"
)

// SubscribeOptions are the optional parts of a subscription.
type SubscribeOptions struct {
	// Auth overrides the computed signature.
	Auth string
	// ChannelData is the presence member JSON, e.g.
	// {"user_id":"1","user_info":{"name":"Ann"}}.
	ChannelData string
	// Extra fields merged into the subscribe data (e.g. "resume").
	Extra map[string]any
}

// Subscribe sends pusher:subscribe, signing private and presence channels
// with Options.Secret when no Auth is given. It does not wait; use
// SubscribeAndWait for that.
func (c *Client) Subscribe(channel string, o SubscribeOptions) error {
	data := map[string]any{"channel": channel, "auth": o.Auth}
	for k, v := range o.Extra {
		data[k] = v
	}
	if o.ChannelData != "" {
		data["channel_data"] = o.ChannelData
	}
	if o.Auth == "" && c.opts.Secret != "" && needsAuth(channel) {
		withData := o.ChannelData != ""
		sig := protocol.Sign(c.opts.Secret, protocol.ChannelAuthMessage(c.SocketID, channel, o.ChannelData, withData))
		data["auth"] = c.opts.Key + ":" + sig
	}
	return c.Send(protocol.EventSubscribe, "", data)
}

// SubscribeAndWait subscribes and waits for subscription_succeeded (whose
// data it returns) or a subscription error. Other events that arrive
// meanwhile are discarded; it is only for clients without OnEvent.
func (c *Client) SubscribeAndWait(ctx context.Context, channel string, o SubscribeOptions) (json.RawMessage, error) {
	if err := c.Subscribe(channel, o); err != nil {
		return nil, err
	}
	e, err := c.NextMatching(ctx, func(e Event) bool {
		return e.Channel == channel && (e.Event == protocol.EventSubscriptionSucceeded || e.Event == protocol.EventSubscriptionError) ||
			e.Event == protocol.EventError
	})
	if err != nil {
		return nil, err
	}
	if e.Event != protocol.EventSubscriptionSucceeded {
		return nil, fmt.Errorf("client: subscribe %s: %s %s", channel, e.Event, e.Data)
	}
	return json.RawMessage(e.DataString()), nil
}

// Signin signs the connection in as the user described by userData (JSON
// with at least "id"), signing with Options.Secret.
func (c *Client) Signin(userData string) error {
	sig := protocol.Sign(c.opts.Secret, protocol.UserAuthMessage(c.SocketID, userData))
	return c.Send(protocol.EventSignin, "", map[string]string{"auth": c.opts.Key + ":" + sig, "user_data": userData})
}

// Trigger sends a client event.
func (c *Client) Trigger(channel, event string, data any) error {
	return c.Send(event, channel, data)
}

// MemberData builds presence channel_data for a user.
func MemberData(userID string, info any) string {
	b, _ := json.Marshal(map[string]any{"user_id": userID, "user_info": info})
	return string(b)
}

func needsAuth(channel string) bool {
	return strings.HasPrefix(channel, "private-") || strings.HasPrefix(channel, "presence-")
}
