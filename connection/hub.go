package connection

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/broadcast"
	"github.com/quaver-dev/quaver/channels"
	"github.com/quaver-dev/quaver/metrics"
	"github.com/quaver-dev/quaver/presence"
	"github.com/quaver-dev/quaver/protocol"
	"github.com/quaver-dev/quaver/streams"
)

// Options configure a Hub. Zero durations and sizes take the defaults noted.
type Options struct {
	Apps      apps.Store
	Registry  *channels.Registry
	Presence  presence.Store
	Publisher *broadcast.Publisher
	Logger    *slog.Logger
	// Metrics may be nil.
	Metrics *metrics.Metrics
	// Inbound forwards client events of channels with an inbound rule to
	// the workers; nil without Redis.
	Inbound Inbound

	// OutboxSoftLimit is the queued bytes past which a connection's token
	// events of one stream merge into one. Default 64 KiB.
	OutboxSoftLimit int
	// OutboxHardLimit is the most bytes a connection may have queued; past
	// it the connection is closed with 4100. Default 1 MiB.
	OutboxHardLimit int
	// PongTimeout is how long a pinged, silent connection has to answer
	// before it is closed with 4201. Default 15 s, so with the default 30 s
	// activity timeout a dead peer is gone within 47 s.
	PongTimeout time.Duration
	// WriteTimeout bounds one write to a client. Default 10 s.
	WriteTimeout time.Duration
	// CleanupTimeout bounds the I/O of one connection's cleanup (presence
	// leave, member_removed). Default 5 s.
	CleanupTimeout time.Duration
	// MaxChannelsPerConnection bounds one connection's subscriptions.
	// Default 1000.
	MaxChannelsPerConnection int
}

func (o *Options) defaults() {
	if o.OutboxHardLimit == 0 {
		o.OutboxHardLimit = 1 << 20
	}
	if o.OutboxSoftLimit == 0 {
		o.OutboxSoftLimit = min(64<<10, o.OutboxHardLimit)
	}
	if o.PongTimeout == 0 {
		o.PongTimeout = 15 * time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.CleanupTimeout == 0 {
		o.CleanupTimeout = 5 * time.Second
	}
	if o.MaxChannelsPerConnection == 0 {
		o.MaxChannelsPerConnection = 1000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// Inbound takes client events bound for AI workers; streams.Inbound is one.
type Inbound interface {
	Append(ctx context.Context, e streams.InboundEvent) (bool, error)
}

const connShards = 32

// Hub owns this node's connections: it admits them against app quotas,
// indexes them by socket id and user, runs heartbeats and closes them all
// on shutdown.
type Hub struct {
	opts  Options
	clock atomic.Int64 // Unix seconds, advanced by the heartbeat loop
	// debug caches whether debug logs are on, so the per-connection debug
	// lines cost nothing otherwise.
	debug bool

	shards   [connShards]connShard
	counts   sync.Map // app id → *atomic.Int64 connections
	users    userIndex
	draining atomic.Bool
	// ending counts connections whose transport (a finisher) has not let go
	// of its socket yet.
	ending atomic.Int64

	// byTransport counts connections by transport name (counts.go).
	byTransport sync.Map
}

type connShard struct {
	mu    sync.Mutex
	conns map[string]*Conn
}

// NewHub returns a hub; call Run to start its heartbeats.
func NewHub(o Options) *Hub {
	o.defaults()
	h := &Hub{opts: o, debug: o.Logger.Enabled(context.Background(), slog.LevelDebug)}
	h.clock.Store(time.Now().Unix())
	for i := range h.shards {
		h.shards[i].conns = make(map[string]*Conn)
	}
	h.users.conns = make(map[userKey]map[*Conn]int)
	return h
}

// Admit creates a connection for app over t after checking the app's quota.
// The transport must be ready to be woken before it calls Open, which
// queues pusher:connection_established as the first frame.
func (h *Hub) Admit(app *apps.App, t Transport) (*Conn, *protocol.Error) {
	if h.draining.Load() {
		return nil, protocol.ErrShuttingDown
	}
	count := h.appCount(app.ID)
	if n := count.Add(1); app.MaxConnections > 0 && n > int64(app.MaxConnections) {
		count.Add(-1)
		return nil, protocol.ErrOverQuota
	}
	c := &Conn{hub: h, app: app, transport: t, delivery: h.opts.Metrics.Delivery(app.ID)}
	if _, ok := t.(finisher); ok {
		h.ending.Add(1)
	}
	for {
		c.id = newSocketID()
		sh := h.shard(c.id)
		sh.mu.Lock()
		if _, taken := sh.conns[c.id]; !taken {
			sh.conns[c.id] = c
			sh.mu.Unlock()
			break
		}
		sh.mu.Unlock()
	}
	c.Touch()
	h.transportCount(t.Name()).Add(1)
	h.opts.Metrics.ConnectionOpened(app.ID, t.Name())
	return c, nil
}

func (h *Hub) remove(c *Conn) {
	sh := h.shard(c.id)
	sh.mu.Lock()
	delete(sh.conns, c.id)
	sh.mu.Unlock()
	h.appCount(c.app.ID).Add(-1)
	h.transportCount(c.transport.Name()).Add(-1)
	h.opts.Metrics.ConnectionClosed(c.app.ID, c.transport.Name())
}

func (h *Hub) shard(socketID string) *connShard {
	var x uint32
	for i := 0; i < len(socketID); i++ {
		x = x*31 + uint32(socketID[i])
	}
	return &h.shards[x%connShards]
}

func (h *Hub) appCount(app string) *atomic.Int64 {
	if v, ok := h.counts.Load(app); ok {
		return v.(*atomic.Int64)
	}
	v, _ := h.counts.LoadOrStore(app, new(atomic.Int64))
	return v.(*atomic.Int64)
}

// Connections returns the number of open connections of an app on this node.
func (h *Hub) Connections(app string) int { return int(h.appCount(app).Load()) }

// Lookup returns the local connection with the socket id, if any.
func (h *Hub) Lookup(socketID string) *Conn {
	sh := h.shard(socketID)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return sh.conns[socketID]
}

// each calls f for every connection, a shard at a time, outside the shard
// lock so that f may close connections.
func (h *Hub) each(f func(*Conn)) {
	var batch []*Conn
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.Lock()
		for _, c := range sh.conns {
			batch = append(batch, c)
		}
		sh.mu.Unlock()
		for _, c := range batch {
			f(c)
		}
		clear(batch)
		batch = batch[:0]
	}
}

// Terminate closes, with 4009, every local connection of the app that is
// signed in as userID or present in a presence channel as userID. It
// returns how many it closed.
func (h *Hub) Terminate(app, userID string) int {
	conns := h.users.list(app, userID)
	for _, c := range conns {
		c.CloseWith(protocol.ErrTerminated, true)
	}
	return len(conns)
}

// Run advances the hub clock and runs heartbeats until ctx ends.
func (h *Hub) Run(ctx context.Context) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case now := <-tick.C:
			h.clock.Store(now.Unix())
			h.heartbeat(now.Unix())
		}
	}
}

// Shutdown stops admitting connections and closes every connection with
// 4200, so clients reconnect at once (to another node, behind a load
// balancer). It waits until they are gone or ctx ends.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.draining.Store(true)
	h.each(func(c *Conn) { c.CloseWith(protocol.ErrShuttingDown, true) })
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	// A connection leaves the hub before its writer has sent the close;
	// returning earlier would let the process exit first.
	for h.total() > 0 || h.ending.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

func (h *Hub) total() int {
	n := 0
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.Lock()
		n += len(sh.conns)
		sh.mu.Unlock()
	}
	return n
}

// newSocketID returns an id of the form digits.digits, the only form the
// Pusher server SDKs accept; ids are random so they cannot be guessed.
func newSocketID() string {
	b := make([]byte, 0, 21)
	b = strconv.AppendUint(b, rand.Uint64N(1e9)+1, 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, rand.Uint64N(1e9)+1, 10)
	return string(b)
}

// userIndex finds a user's connections for terminate_connections. A
// connection is indexed under the id it signed in with and under each
// presence user id it joined with, counted so that leaving one presence
// channel keeps the others.
type userIndex struct {
	mu    sync.Mutex
	conns map[userKey]map[*Conn]int
}

type userKey struct{ app, user string }

func (u *userIndex) add(app, user string, c *Conn) {
	u.mu.Lock()
	defer u.mu.Unlock()
	k := userKey{app, user}
	m := u.conns[k]
	if m == nil {
		m = make(map[*Conn]int, 1)
		u.conns[k] = m
	}
	m[c]++
}

func (u *userIndex) remove(app, user string, c *Conn) {
	u.mu.Lock()
	defer u.mu.Unlock()
	k := userKey{app, user}
	m := u.conns[k]
	if m == nil {
		return
	}
	if m[c]--; m[c] <= 0 {
		delete(m, c)
	}
	if len(m) == 0 {
		delete(u.conns, k)
	}
}

func (u *userIndex) list(app, user string) []*Conn {
	u.mu.Lock()
	defer u.mu.Unlock()
	m := u.conns[userKey{app, user}]
	out := make([]*Conn, 0, len(m))
	for c := range m {
		out = append(out, c)
	}
	return out
}

// PresenceEntries lists the presence memberships of every local socket, so
// that Redis can be made to agree with them after it lost data.
func (h *Hub) PresenceEntries() []presence.Entry {
	var out []presence.Entry
	h.each(func(c *Conn) {
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, s := range c.subs {
			if s.member != nil {
				out = append(out, presence.Entry{App: c.app.ID, Channel: s.channel, SocketID: c.id, Member: *s.member})
			}
		}
	})
	return out
}

// OutboxBytes returns the bytes queued for clients, in all and for the
// connection furthest behind.
func (h *Hub) OutboxBytes() (total, largest int) {
	h.each(func(c *Conn) {
		n := c.out.pending()
		total += n
		largest = max(largest, n)
	})
	return total, largest
}
