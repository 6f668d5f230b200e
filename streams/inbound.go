package streams

import (
	"context"
	_ "embed"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed lua/ratelimit.lua
	rateSource string
	rateScript = redis.NewScript(rateSource)
)

// inboundMaxLen bounds an inbound stream (approximately, as XADD MAXLEN ~
// does): workers are expected to keep up, and old prompts are worthless.
const inboundMaxLen = 100_000

// Inbound appends client events to an app's inbound stream, where workers
// read them with consumer groups (XREADGROUP).
type Inbound struct {
	client redis.UniversalClient
	prefix string
}

// NewInbound returns an Inbound on client.
func NewInbound(client redis.UniversalClient, prefix string) *Inbound {
	return &Inbound{client: client, prefix: prefix}
}

// InboundEvent is a client event bound for the workers.
type InboundEvent struct {
	App, Channel, Event, Data, SocketID, UserID string
	// UserRate bounds the user's inbound events per second across the
	// cluster; 0 means no limit. Events without a user are not counted.
	UserRate int
}

// Append counts the event against its user's limit and, if allowed,
// appends it with the fields channel, event, data, socket_id, user_id and
// time (Unix milliseconds). It reports false when the user is over the
// limit.
func (in *Inbound) Append(ctx context.Context, e InboundEvent) (bool, error) {
	now := time.Now()
	if e.UserID != "" && e.UserRate > 0 {
		key := in.prefix + ":inbound-rate:" + e.App + ":" + e.UserID + ":" + strconv.FormatInt(now.Unix(), 10)
		ok, err := rateScript.Run(ctx, in.client, []string{key}, e.UserRate).Int()
		if err != nil {
			return false, err
		}
		if ok == 0 {
			return false, nil
		}
	}
	err := in.client.XAdd(ctx, &redis.XAddArgs{
		Stream: InboundKey(in.prefix, e.App),
		MaxLen: inboundMaxLen,
		Approx: true,
		Values: []any{
			"channel", e.Channel, "event", e.Event, "data", e.Data,
			"socket_id", e.SocketID, "user_id", e.UserID, "time", now.UnixMilli(),
		},
	}).Err()
	return err == nil, err
}
