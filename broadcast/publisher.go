package broadcast

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/quaver-dev/quaver/channels"
	"github.com/quaver-dev/quaver/protocol"
	"github.com/quaver-dev/quaver/scaling"
)

// Publisher publishes events to channels on this node and, through the
// Broker, on every other node.
type Publisher struct {
	registry *channels.Registry
	broker   scaling.Broker
	cache    Cache
	log      *slog.Logger

	lastErrorLog atomic.Int64 // Unix nanoseconds
}

// Options configure a Publisher. Broker and Cache default to their
// single-node versions.
type Options struct {
	Registry *channels.Registry
	Broker   scaling.Broker
	Cache    Cache
	Logger   *slog.Logger
}

// NewPublisher returns a Publisher over the given registry and broker.
func NewPublisher(o Options) *Publisher {
	if o.Broker == nil {
		o.Broker = scaling.Local{}
	}
	if o.Cache == nil {
		o.Cache = NewMemoryCache()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Publisher{registry: o.Registry, broker: o.Broker, cache: o.Cache, log: o.Logger}
}

// Event is one event to publish on one channel.
type Event struct {
	App   string
	Frame *protocol.Frame
	// Except is the socket id that must not receive the event (the sender
	// of a client event, or the socket_id given to the HTTP API).
	Except string
	// CacheTTL, when positive and the channel is a cache channel, makes the
	// event the channel's cached last event for that long.
	CacheTTL time.Duration
}

// Publish delivers ev to local subscribers at once and sends it to the
// other nodes. Local delivery cannot fail and never blocks. When Redis
// fails, the event still reaches this node's subscribers: the failure is
// logged (at most once per errorLogInterval) and counted by the broker,
// and not returned, because retrying would repeat the local delivery
// while Redis is still away.
func (p *Publisher) Publish(ctx context.Context, ev Event) {
	f := ev.Frame
	var payload []byte
	_, single := p.broker.(scaling.Local)
	cache := ev.CacheTTL > 0 && channels.Classify(f.Channel).Cache
	if cache || !single {
		payload = protocol.MarshalFrame(f, ev.Except)
	}
	if cache {
		if err := p.cache.Put(ctx, ev.App, f.Channel, payload, ev.CacheTTL); err != nil {
			p.logError("caching the last event of a cache channel", ev.App, f.Channel, err)
		}
	}
	p.registry.Broadcast(ev.App, f.Channel, f, ev.Except)
	if !single {
		if err := p.broker.Publish(ctx, scaling.Envelope{App: ev.App, Channel: f.Channel, Payload: payload}); err != nil {
			p.logError("event reached this node only", ev.App, f.Channel, err)
		}
	}
}

// errorLogInterval spaces out repeated error logs during an outage.
const errorLogInterval = 5 * time.Second

func (p *Publisher) logError(msg, app, channel string, err error) {
	now := time.Now().UnixNano()
	last := p.lastErrorLog.Load()
	if now-last < int64(errorLogInterval) || !p.lastErrorLog.CompareAndSwap(last, now) {
		return
	}
	p.log.Error(msg, "app", app, "channel", channel, "err", err)
}

// Await returns once events other nodes publish to the channel reach this
// node (see scaling.Broker.Await).
func (p *Publisher) Await(ctx context.Context, app, channel string) error {
	return p.broker.Await(ctx, app, channel)
}

// Cached returns the last event of a cache channel, or nil.
func (p *Publisher) Cached(ctx context.Context, app, channel string) (*protocol.Frame, error) {
	payload, err := p.cache.Get(ctx, app, channel)
	if err != nil || payload == nil {
		return nil, err
	}
	f, _, err := protocol.UnmarshalFrame(payload)
	return f, err
}

// Run delivers what other nodes publish to this node's subscribers until
// ctx ends.
func (p *Publisher) Run(ctx context.Context) error {
	return p.broker.Run(ctx, p.deliver)
}

func (p *Publisher) deliver(env scaling.Envelope) {
	f, except, err := protocol.UnmarshalFrame(env.Payload)
	if err != nil {
		p.log.Warn("dropping malformed envelope from another node", "app", env.App, "channel", env.Channel, "err", err)
		return
	}
	p.registry.Broadcast(env.App, f.Channel, f, except)
}
