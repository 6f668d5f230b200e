package scaling

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// CensusOptions configure a Census.
type CensusOptions struct {
	Client redis.UniversalClient
	Prefix string
	Node   string
	// Interval between flushes of changed counts. Default 100 ms.
	Interval time.Duration
	// Connections returns this node's connection count per app; it is read
	// at every flush.
	Connections func() map[string]int
	Logger      *slog.Logger
	Observer    Observer
}

// Census publishes this node's subscription counts per channel and
// connection counts per app to Redis, where any node can sum them over the
// live nodes. Each node writes only its own share, so a dead node's share
// is dropped whole. Writes are batched every Interval and never block the
// callers.
//
// Keys: {prefix}:counts:{app}:{node} (hash channel → sockets) and
// {prefix}:conns:{app} (hash node → connections).
type Census struct {
	opts CensusOptions

	mu      sync.Mutex // guards dirty and conns
	dirty   map[appChannel]int
	written map[string]int // app → connections last written
}

type appChannel struct{ app, channel string }

// NewCensus returns a Census; Run starts its flushing.
func NewCensus(o CensusOptions) *Census {
	if o.Interval == 0 {
		o.Interval = 100 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	return &Census{opts: o, dirty: make(map[appChannel]int), written: make(map[string]int)}
}

func (c *Census) countsKey(app, node string) string {
	return c.opts.Prefix + ":counts:" + app + ":" + node
}

func (c *Census) connsKey(app string) string { return c.opts.Prefix + ":conns:" + app }

// SetCount records a channel's local subscription count. It never blocks.
func (c *Census) SetCount(app, channel string, count int) {
	c.mu.Lock()
	c.dirty[appChannel{app, channel}] = count
	c.mu.Unlock()
}

// Rewrite forgets what was written and records counts afresh, after Redis
// lost them.
func (c *Census) Rewrite(counts map[string]map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.written)
	for app, channels := range counts {
		for ch, n := range channels {
			c.dirty[appChannel{app, ch}] = n
		}
	}
}

// Run flushes changes every Interval until ctx ends.
func (c *Census) Run(ctx context.Context) error {
	tick := time.NewTicker(c.opts.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			c.flush(ctx)
		}
	}
}

func (c *Census) flush(ctx context.Context) {
	c.mu.Lock()
	dirty := c.dirty
	c.dirty = make(map[appChannel]int, len(dirty))
	var conns map[string]int
	if c.opts.Connections != nil {
		conns = c.opts.Connections()
	}
	changedConns := map[string]int{}
	for app, n := range conns {
		if w, ok := c.written[app]; !ok || w != n {
			changedConns[app] = n
		}
	}
	c.mu.Unlock()
	if len(dirty) == 0 && len(changedConns) == 0 {
		return
	}
	pipe := c.opts.Client.Pipeline()
	for k, n := range dirty {
		if n > 0 {
			pipe.HSet(ctx, c.countsKey(k.app, c.opts.Node), k.channel, n)
		} else {
			pipe.HDel(ctx, c.countsKey(k.app, c.opts.Node), k.channel)
		}
	}
	for app, n := range changedConns {
		pipe.HSet(ctx, c.connsKey(app), c.opts.Node, n)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		// Put the changes back, unless newer ones arrived meanwhile, so they
		// are written once Redis answers again.
		c.mu.Lock()
		for k, n := range dirty {
			if _, newer := c.dirty[k]; !newer {
				c.dirty[k] = n
			}
		}
		c.mu.Unlock()
		c.opts.Logger.Debug("census flush failed; retrying", "err", err)
		return
	}
	c.mu.Lock()
	for app, n := range changedConns {
		c.written[app] = n
	}
	c.mu.Unlock()
}

// Counts returns the subscription count of every channel of an app summed
// over the given nodes.
func (c *Census) Counts(ctx context.Context, app string, nodes []string) (map[string]int, error) {
	pipe := c.opts.Client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(nodes))
	for i, n := range nodes {
		cmds[i] = pipe.HGetAll(ctx, c.countsKey(app, n))
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, err
	}
	out := make(map[string]int)
	for _, cmd := range cmds {
		for ch, v := range cmd.Val() {
			n, _ := strconv.Atoi(v)
			out[ch] += n
		}
	}
	return out, nil
}

// Count returns one channel's subscription count summed over the nodes.
func (c *Census) Count(ctx context.Context, app, channel string, nodes []string) (int, error) {
	pipe := c.opts.Client.Pipeline()
	cmds := make([]*redis.StringCmd, len(nodes))
	for i, n := range nodes {
		cmds[i] = pipe.HGet(ctx, c.countsKey(app, n), channel)
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return 0, err
	}
	total := 0
	for _, cmd := range cmds {
		n, _ := strconv.Atoi(cmd.Val())
		total += n
	}
	return total, nil
}

// Connections returns an app's connection count per node.
func (c *Census) Connections(ctx context.Context, app string) (map[string]int, error) {
	vals, err := c.opts.Client.HGetAll(ctx, c.connsKey(app)).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(vals))
	for node, v := range vals {
		out[node], _ = strconv.Atoi(v)
	}
	return out, nil
}

// DropNode removes a node's share for the given apps.
func (c *Census) DropNode(ctx context.Context, node string, apps []string) error {
	pipe := c.opts.Client.Pipeline()
	for _, app := range apps {
		pipe.Del(ctx, c.countsKey(app, node))
		pipe.HDel(ctx, c.connsKey(app), node)
	}
	_, err := pipe.Exec(ctx)
	return err
}
