package broadcast

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/channels"
	"github.com/quaver-dev/quaver/history"
	"github.com/quaver-dev/quaver/protocol"
	"github.com/quaver-dev/quaver/scaling"
)

// Publisher publishes events to channels on this node and, through the
// Broker, on every other node.
type Publisher struct {
	registry *channels.Registry
	broker   scaling.Broker
	cache    Cache
	history  history.Store
	log      *slog.Logger
	apps     apps.Store
	pacer    *pacer

	lastErrorLog atomic.Int64 // Unix nanoseconds
}

// Options configure a Publisher. Broker, Cache and History default to
// their single-node versions.
type Options struct {
	Registry *channels.Registry
	Broker   scaling.Broker
	Cache    Cache
	History  history.Store
	Logger   *slog.Logger
	// Apps finds the channel rule of events that arrive without one (from
	// other nodes, member events), so paced channels pace them too. It runs
	// for every such event and must be cheap, as apps.Static's map is. Nil
	// paces only events published with their Rule.
	Apps apps.Store
}

// NewPublisher returns a Publisher over the given registry and broker.
func NewPublisher(o Options) *Publisher {
	if o.Broker == nil {
		o.Broker = scaling.Local{}
	}
	if o.Cache == nil {
		o.Cache = NewMemoryCache()
	}
	if o.History == nil {
		o.History = history.NewMemory()
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Publisher{registry: o.Registry, broker: o.Broker, cache: o.Cache, history: o.History, log: o.Logger, apps: o.Apps}
	p.pacer = newPacer(func(app string, f *protocol.Frame, except string) { p.registry.Broadcast(app, f.Channel, f, except) })
	return p
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
	// Rule is the app's AI streaming rule for the channel, if any: token
	// events are parsed and recorded, with the channel's history.
	Rule *apps.ChannelRule
}

// Publish delivers events, in order, to local subscribers (at once, or
// through the channel's pacer when its rule paces it) and sends them to
// the other nodes. Local delivery cannot fail and never
// blocks. When Redis fails, the events still reach this node's
// subscribers: the failure is logged (at most once per errorLogInterval)
// and counted by the broker, and not returned, because retrying would
// repeat the local delivery while Redis is still away. The history of many
// events is recorded at once, before any is broadcast: a subscriber reads
// the history after it starts receiving, so each event is in one or the
// other.
func (p *Publisher) Publish(ctx context.Context, evs ...Event) {
	var entries []history.Entry
	for _, ev := range evs {
		f, r := ev.Frame, ev.Rule
		if r == nil || !r.Tokens && r.History == 0 {
			continue
		}
		if r.Tokens && f.Token == nil && f.Kind == protocol.DataString {
			f.Token, _ = protocol.ParseToken(f.Data)
		}
		entries = append(entries, history.Entry{App: ev.App, Rule: r, Frame: f})
	}
	if len(entries) > 0 {
		if err := p.history.Record(ctx, entries...); err != nil {
			p.logError("recording channel history; late subscribers will miss these events", entries[0].App, entries[0].Frame.Channel, err)
		}
	}
	for _, ev := range evs {
		p.broadcast(ctx, ev)
	}
}

func (p *Publisher) broadcast(ctx context.Context, ev Event) {
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
	p.local(ev.App, f, ev.Except, ev.Rule)
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
	p.local(env.App, f, except, nil)
}

// Snapshot is what a new subscriber to a channel with a rule gets before
// the live events: one event per retained token stream (its whole text, or
// after resume only what followed) and, with Replay, the channel's last
// events. seen maps each stream to the seq the snapshot covers, so the
// live tokens it already holds can be dropped.
func (p *Publisher) Snapshot(ctx context.Context, app string, rule *apps.ChannelRule, channel string, resume *protocol.Resume) (frames []*protocol.Frame, seen map[string]int64, err error) {
	if rule.Replay && rule.History > 0 {
		recent, err := p.history.Recent(ctx, app, channel, rule.History)
		if err != nil {
			return nil, nil, err
		}
		for _, f := range recent {
			if f.Token == nil || !rule.Tokens { // the streams stand for their tokens
				frames = append(frames, f)
			}
		}
	}
	if !rule.Tokens {
		return frames, nil, nil
	}
	streams, err := p.history.Streams(ctx, app, channel)
	if err != nil {
		return frames, nil, err
	}
	seen = make(map[string]int64, len(streams))
	for _, s := range streams {
		seen[s.ID] = s.Seq
		frames = append(frames, s.Snapshot(channel, resume))
	}
	return frames, seen, nil
}

// History returns a channel's retained token streams and last events, for
// the history API.
func (p *Publisher) History(ctx context.Context, app, channel string, n int) ([]history.Stream, []*protocol.Frame, error) {
	streams, err := p.history.Streams(ctx, app, channel)
	if err != nil {
		return nil, nil, err
	}
	recent, err := p.history.Recent(ctx, app, channel, n)
	return streams, recent, err
}
