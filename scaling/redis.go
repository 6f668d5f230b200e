package scaling

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOptions configure the Redis broker.
type RedisOptions struct {
	Client redis.UniversalClient
	// Cluster switches to sharded pub/sub (SSUBSCRIBE/SPUBLISH), so that
	// fan-out spreads over the cluster's shards.
	Cluster bool
	// Prefix starts every Redis channel name.
	Prefix string
	// Node identifies this node; envelopes it published are not delivered
	// back to it.
	Node string
	// Shards is the number of subscription connections channels are spread
	// over. Every node must use the same number. Default 4.
	Shards int
	// MaxQueued bounds the bytes of envelopes waiting to be sent. Default
	// 64 MiB.
	MaxQueued int
	Logger    *slog.Logger
	Observer  Observer
}

// Redis is the many-node Broker: one Redis pub/sub channel per app channel,
// subscribed only while this node has a local subscriber, so no node pays
// for traffic it cannot deliver. Channels are hashed into Shards buckets,
// each with its own subscription connection; a bucket's channel names share
// a hash tag, which on Redis Cluster puts them in one slot so a bucket's
// subscriptions live on one shard and survive reconnects and failovers.
type Redis struct {
	opts   RedisOptions
	header string // Node, padded: the first bytes of every payload
	shards []*redisShard
	out    *sendQueue

	mu      sync.Mutex // guards deliver
	deliver func(Envelope)
	running chan struct{}
}

// NewRedis returns a Redis broker; Run starts it.
func NewRedis(o RedisOptions) *Redis {
	if o.Shards <= 0 {
		o.Shards = 4
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = 64 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	b := &Redis{opts: o, header: nodeHeader(o.Node), running: make(chan struct{}), out: newSendQueue(o.MaxQueued)}
	for i := range o.Shards {
		b.shards = append(b.shards, &redisShard{
			broker:   b,
			tag:      o.Prefix + ":{s" + strconv.Itoa(i) + "}:",
			channels: make(map[string]*channelState),
			pending:  make(map[string]struct{}),
			wake:     make(chan struct{}, 1),
			up:       true,
		})
	}
	return b
}

// nodeHeaderSize is the length of the node id at the start of payloads.
const nodeHeaderSize = 16

func nodeHeader(node string) string {
	for len(node) < nodeHeaderSize {
		node += "-"
	}
	return node[:nodeHeaderSize]
}

// shard picks a channel's bucket. The hash must be the same on every node
// (the bucket is part of the Redis channel name), so it is FNV-1a, not a
// seeded hash.
func (b *Redis) shard(app, channel string) *redisShard {
	h := fnv.New32a()
	_, _ = h.Write([]byte(app))
	_, _ = h.Write([]byte{0})
	_, _ = h.Write([]byte(channel))
	return b.shards[h.Sum32()%uint32(len(b.shards))]
}

// name is the Redis channel of an app channel. Pusher channel names cannot
// contain ':', so the app id and channel never run together ambiguously.
func (s *redisShard) name(app, channel string) string {
	return s.tag + app + ":" + channel
}

// Publish implements Broker. The envelope joins the outgoing queue, which
// one goroutine sends in pipelined batches: a round trip per event would
// cap a node at a few thousand events a second, and the caller (often a
// token stream's reader) must not wait for Redis.
func (b *Redis) Publish(_ context.Context, env Envelope) error {
	name := b.shard(env.App, env.Channel).name(env.App, env.Channel)
	payload := make([]byte, 0, nodeHeaderSize+len(env.Payload))
	payload = append(payload, b.header...)
	payload = append(payload, env.Payload...)
	if !b.out.push(outgoing{name: name, payload: payload}) {
		b.opts.Observer.RedisPublishError()
		return fmt.Errorf("scaling: publish %s: %w", name, ErrQueueFull)
	}
	return nil
}

// ErrQueueFull is returned by Publish when more than MaxQueued bytes wait
// to be sent: Redis is away or slower than the events.
var ErrQueueFull = errors.New("outgoing queue full, Redis is not keeping up")

// Subscribe implements Broker.
func (b *Redis) Subscribe(app, channel string) { b.shard(app, channel).want(app, channel, true) }

// Unsubscribe implements Broker.
func (b *Redis) Unsubscribe(app, channel string) { b.shard(app, channel).want(app, channel, false) }

// Await implements Broker.
func (b *Redis) Await(ctx context.Context, app, channel string) error {
	return b.shard(app, channel).await(ctx, app, channel)
}

// Run implements Broker: it keeps every shard's subscriptions in line with
// what Subscribe and Unsubscribe asked for and delivers what arrives.
func (b *Redis) Run(ctx context.Context, deliver func(Envelope)) error {
	b.mu.Lock()
	b.deliver = deliver
	b.mu.Unlock()
	close(b.running)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		b.send(ctx)
	}()
	for _, s := range b.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.reconcile(ctx)
		}()
	}
	<-ctx.Done()
	// Closing the connections ends the receive loops without waiting for
	// their read timeouts.
	for _, s := range b.shards {
		s.close()
	}
	wg.Wait()
	return ctx.Err()
}

// Up reports whether every subscription connection is healthy.
func (b *Redis) Up() bool {
	for _, s := range b.shards {
		s.mu.Lock()
		up := s.up
		s.mu.Unlock()
		if !up {
			return false
		}
	}
	return true
}

// redisShard is one subscription connection and the channels hashed to it.
type redisShard struct {
	broker *Redis
	tag    string

	mu       sync.Mutex // guards the fields below
	pubsub   *redis.PubSub
	channels map[string]*channelState // by Redis channel name
	pending  map[string]struct{}      // names whose subscription must be reconciled
	up       bool
	downAt   time.Time

	wake chan struct{}
	recv sync.WaitGroup
}

type channelState struct {
	app, channel string
	wanted       bool
	subscribed   bool // SUBSCRIBE sent
	active       bool // SUBSCRIBE confirmed on the current connection
	waiters      []chan struct{}
}

func (s *redisShard) want(app, channel string, wanted bool) {
	name := s.name(app, channel)
	s.mu.Lock()
	st := s.channels[name]
	if st == nil {
		st = &channelState{app: app, channel: channel}
		s.channels[name] = st
	}
	st.wanted = wanted
	s.pending[name] = struct{}{}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *redisShard) await(ctx context.Context, app, channel string) error {
	s.mu.Lock()
	st := s.channels[s.name(app, channel)]
	if st == nil || !st.wanted {
		s.mu.Unlock()
		return errors.New("scaling: await on a channel that is not subscribed")
	}
	if st.active {
		s.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	st.waiters = append(st.waiters, ready)
	s.mu.Unlock()
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// reconcile sends the SUBSCRIBE and UNSUBSCRIBE commands that bring the
// connection in line with the wanted channels, whenever asked.
func (s *redisShard) reconcile(ctx context.Context) {
	defer s.recv.Wait()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
		var subscribe, unsubscribe []string
		s.mu.Lock()
		for name := range s.pending {
			st := s.channels[name]
			switch {
			case st.wanted && !st.subscribed:
				subscribe = append(subscribe, name)
				st.subscribed = true
			case !st.wanted && st.subscribed:
				unsubscribe = append(unsubscribe, name)
				st.subscribed, st.active = false, false
				s.release(st)
				delete(s.channels, name)
			case !st.wanted:
				s.release(st)
				delete(s.channels, name)
			}
		}
		clear(s.pending)
		ps := s.pubsub
		s.mu.Unlock()
		if len(subscribe) > 0 && ps == nil {
			s.open(ctx, subscribe)
			continue
		}
		s.command(ctx, ps, subscribe, true)
		s.command(ctx, ps, unsubscribe, false)
	}
}

// release wakes a channel's waiters; the caller holds s.mu.
func (s *redisShard) release(st *channelState) {
	for _, w := range st.waiters {
		close(w)
	}
	st.waiters = nil
}

// open creates the shard's subscription connection with its first channels
// and starts reading it.
func (s *redisShard) open(ctx context.Context, channels []string) {
	client := s.broker.opts.Client
	var ps *redis.PubSub
	if s.broker.opts.Cluster {
		ps = client.SSubscribe(ctx, channels...)
	} else {
		ps = client.Subscribe(ctx, channels...)
	}
	s.mu.Lock()
	s.pubsub = ps
	s.mu.Unlock()
	s.recv.Add(1)
	go func() {
		defer s.recv.Done()
		s.receive(ctx, ps)
	}()
}

// command sends one (S)SUBSCRIBE or (S)UNSUBSCRIBE. A failure needs no
// retry: go-redis remembers the channels and resubscribes on reconnect.
func (s *redisShard) command(ctx context.Context, ps *redis.PubSub, names []string, subscribe bool) {
	if len(names) == 0 {
		return
	}
	var err error
	switch {
	case s.broker.opts.Cluster && subscribe:
		err = ps.SSubscribe(ctx, names...)
	case s.broker.opts.Cluster:
		err = ps.SUnsubscribe(ctx, names...)
	case subscribe:
		err = ps.Subscribe(ctx, names...)
	default:
		err = ps.Unsubscribe(ctx, names...)
	}
	if err != nil && ctx.Err() == nil {
		s.broker.opts.Logger.Debug("redis subscription command failed; it is replayed on reconnect", "err", err)
	}
}

// receiveTimeout is how long the receive loop waits before pinging, so a
// dead connection is noticed even when no channel has traffic.
const receiveTimeout = 2 * time.Second

// receive reads the shard's connection until ctx ends. Subscription
// confirmations mark channels active; messages from other nodes are
// delivered; errors mark the shard down until go-redis has reconnected and
// resubscribed. A connection that stays silent even to a ping is replaced,
// since go-redis cannot tell a half-open connection from an idle one.
func (s *redisShard) receive(ctx context.Context, ps *redis.PubSub) {
	backoff := 50 * time.Millisecond
	pinged := false
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, receiveTimeout)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var netErr net.Error
			timeout := errors.As(err, &netErr) && netErr.Timeout()
			if timeout && !pinged {
				pinged = true
				if ps.Ping(ctx) == nil {
					continue
				}
			}
			s.markDown(err)
			if timeout {
				ps = s.reopen(ctx)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			pinged = false
			continue
		}
		backoff = 50 * time.Millisecond
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			s.markUp()
			if m.Kind == "subscribe" || m.Kind == "ssubscribe" {
				s.confirm(m.Channel)
			}
		case *redis.Pong:
			s.markUp()
		case *redis.Message:
			s.markUp()
			s.dispatch(m)
		}
	}
}

// reopen replaces the subscription connection with a new one subscribed to
// every wanted channel.
func (s *redisShard) reopen(ctx context.Context) *redis.PubSub {
	s.mu.Lock()
	var names []string
	for name, st := range s.channels {
		if st.wanted {
			names = append(names, name)
			st.subscribed = true
		}
	}
	old := s.pubsub
	client := s.broker.opts.Client
	if s.broker.opts.Cluster {
		s.pubsub = client.SSubscribe(ctx, names...)
	} else {
		s.pubsub = client.Subscribe(ctx, names...)
	}
	ps := s.pubsub
	s.mu.Unlock()
	_ = old.Close()
	return ps
}

func (s *redisShard) dispatch(m *redis.Message) {
	b := s.broker
	if len(m.Payload) < nodeHeaderSize || m.Payload[:nodeHeaderSize] == b.header {
		return
	}
	s.mu.Lock()
	st := s.channels[m.Channel]
	s.mu.Unlock()
	if st == nil {
		return // unsubscribed meanwhile
	}
	b.mu.Lock()
	deliver := b.deliver
	b.mu.Unlock()
	deliver(Envelope{App: st.app, Channel: st.channel, Payload: []byte(m.Payload[nodeHeaderSize:])})
}

func (s *redisShard) confirm(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st := s.channels[name]; st != nil && st.subscribed {
		st.active = true
		s.release(st)
	}
}

// markDown records the start of an outage: every channel of the shard must
// be confirmed again on the next connection.
func (s *redisShard) markDown(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.channels {
		st.active = false
	}
	if !s.up {
		return
	}
	s.up = false
	s.downAt = time.Now()
	s.broker.opts.Observer.RedisUp(false)
	s.broker.opts.Logger.Warn("lost the Redis subscription connection; local delivery continues, events from other nodes are missed until it is back", "err", err)
}

func (s *redisShard) markUp() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.up {
		return
	}
	s.up = true
	outage := time.Since(s.downAt)
	s.broker.opts.Observer.RedisUp(true)
	s.broker.opts.Observer.RedisReconnected(outage)
	s.broker.opts.Logger.Info("Redis subscription connection restored", "outage", outage.Round(time.Millisecond))
}

func (s *redisShard) close() {
	s.mu.Lock()
	ps := s.pubsub
	s.pubsub = nil
	s.mu.Unlock()
	if ps != nil {
		_ = ps.Close()
	}
}
