package scaling

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// Control carries commands to every node (terminate a user's connections,
// drain): opaque payloads on one Redis channel that all nodes subscribe to.
// Delivery is best effort: a node that is disconnected from Redis when a
// command passes does not see it.
type Control struct {
	client  redis.UniversalClient
	channel string
	header  string
	log     *slog.Logger
}

// NewControl returns a Control for the node.
func NewControl(client redis.UniversalClient, prefix, node string, log *slog.Logger) *Control {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Control{client: client, channel: prefix + ":control", header: nodeHeader(node), log: log}
}

// Send delivers payload to every other node's handler.
func (c *Control) Send(ctx context.Context, payload []byte) error {
	return c.client.Publish(ctx, c.channel, c.header+string(payload)).Err()
}

// Run hands commands from other nodes to handle until ctx ends.
func (c *Control) Run(ctx context.Context, handle func([]byte)) error {
	ps := c.client.Subscribe(ctx, c.channel)
	// A blocked receive does not watch ctx; closing the connection ends it.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	for ctx.Err() == nil {
		msg, err := ps.ReceiveMessage(ctx)
		if err != nil {
			if ctx.Err() == nil {
				c.log.Debug("control channel receive failed; retrying", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			continue
		}
		if len(msg.Payload) < nodeHeaderSize || msg.Payload[:nodeHeaderSize] == c.header {
			continue
		}
		handle([]byte(msg.Payload[nodeHeaderSize:]))
	}
	return ctx.Err()
}
