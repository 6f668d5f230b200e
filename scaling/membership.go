package scaling

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// MembershipOptions configure a node's membership of the cluster.
type MembershipOptions struct {
	Client redis.UniversalClient
	Prefix string
	Node   string
	// Timeout is how long a node may miss heartbeats before it is dead.
	Timeout time.Duration
	// OnDead runs on exactly one surviving node for each dead node, to
	// remove what the dead node left in Redis.
	OnDead func(ctx context.Context, node string)
	// OnRestore runs when this node's own state in Redis may be stale: Redis
	// came back after an outage or lost its data, or this node was declared
	// dead during a partition (reaped: the others announced its users as
	// gone, so they must be announced again).
	OnRestore func(ctx context.Context, reaped bool)
	Logger    *slog.Logger
	Observer  Observer
}

// Membership keeps this node registered in Redis with a heartbeat, watches
// the other nodes' heartbeats and runs the cleanup of nodes that died.
//
// Keys: {prefix}:nodes (set of node ids), {prefix}:node:{id}:alive (expires
// after Timeout unless refreshed), {prefix}:node:{id}:cleanup (lock held by
// the survivor cleaning a dead node up).
type Membership struct {
	opts MembershipOptions
	down bool
	// runID identifies the Redis server holding this node's alive key, so
	// that a node whose registration vanished can tell a Redis restart
	// (data lost everywhere) from being reaped by the others.
	runID string
}

// NewMembership returns a Membership; Run starts it.
func NewMembership(o MembershipOptions) *Membership {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	return &Membership{opts: o}
}

func (m *Membership) nodesKey() string            { return m.opts.Prefix + ":nodes" }
func (m *Membership) aliveKey(node string) string { return m.opts.Prefix + ":node:" + node + ":alive" }
func (m *Membership) lockKey(node string) string  { return m.opts.Prefix + ":node:" + node + ":reaping" }

// Register adds this node to the cluster. Run calls it; the server calls it
// first so the node is visible before it accepts connections.
func (m *Membership) Register(ctx context.Context) error {
	runID, err := m.aliveServerRunID(ctx)
	if err != nil {
		return err
	}
	// The alive key goes first, so the reapers never see the node in the
	// set without it.
	pipe := m.opts.Client.Pipeline()
	pipe.Set(ctx, m.aliveKey(m.opts.Node), 1, m.opts.Timeout)
	pipe.SAdd(ctx, m.nodesKey(), m.opts.Node)
	if _, err := pipe.Exec(ctx); err != nil {
		return err
	}
	m.runID = runID
	return nil
}

// aliveServerRunID returns the run_id of the Redis server that holds this
// node's alive key (on a cluster, the master of its slot).
func (m *Membership) aliveServerRunID(ctx context.Context) (string, error) {
	var info string
	var err error
	if cc, ok := m.opts.Client.(*redis.ClusterClient); ok {
		var master *redis.Client
		if master, err = cc.MasterForKey(ctx, m.aliveKey(m.opts.Node)); err != nil {
			return "", err
		}
		info, err = master.Info(ctx, "server").Result()
	} else {
		info, err = m.opts.Client.Info(ctx, "server").Result()
	}
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "run_id:"); ok {
			return v, nil
		}
	}
	return "", errors.New("scaling: INFO server has no run_id")
}

// Run heartbeats and watches the other nodes until ctx ends.
func (m *Membership) Run(ctx context.Context) error {
	beat := time.NewTicker(max(m.opts.Timeout/4, 100*time.Millisecond))
	defer beat.Stop()
	watch := time.NewTicker(time.Second)
	defer watch.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-beat.C:
			m.heartbeat(ctx)
		case <-watch.C:
			if !m.down {
				m.reapDead(ctx)
			}
		}
	}
}

// heartbeat refreshes the alive key. A missing key means this node's state
// is gone (Redis restarted, or the others declared it dead): it registers
// again and asks for its state to be restored.
func (m *Membership) heartbeat(ctx context.Context) {
	ok, err := m.opts.Client.SetXX(ctx, m.aliveKey(m.opts.Node), 1, m.opts.Timeout).Result()
	if err != nil {
		if !m.down && ctx.Err() == nil {
			m.down = true
			m.opts.Observer.RedisUp(false)
			m.opts.Logger.Warn("Redis unreachable; serving local clients only until it is back", "err", err)
		}
		return
	}
	wasDown := m.down
	if ok && !wasDown {
		return
	}
	reaped := false
	if !ok {
		previous := m.runID
		if err := m.Register(ctx); err != nil {
			return
		}
		reaped = previous != "" && previous == m.runID
	}
	m.down = false
	m.opts.Observer.RedisUp(true)
	m.opts.Logger.Info("restoring this node's presence and counts in Redis",
		"registration_lost", !ok, "reaped_by_other_nodes", reaped)
	if m.opts.OnRestore != nil {
		m.opts.OnRestore(ctx, reaped)
	}
}

// reapDead finds registered nodes whose heartbeat expired and cleans each
// up on exactly one survivor, guarded by a lock key.
func (m *Membership) reapDead(ctx context.Context) {
	nodes, err := m.opts.Client.SMembers(ctx, m.nodesKey()).Result()
	if err != nil {
		return
	}
	for _, node := range nodes {
		if node == m.opts.Node {
			continue
		}
		n, err := m.opts.Client.Exists(ctx, m.aliveKey(node)).Result()
		if err != nil || n == 1 {
			continue
		}
		won, err := m.opts.Client.SetNX(ctx, m.lockKey(node), m.opts.Node, time.Minute).Result()
		if err != nil || !won {
			continue
		}
		// Another survivor may have finished reaping it since SMEMBERS.
		if still, err := m.opts.Client.SIsMember(ctx, m.nodesKey(), node).Result(); err != nil || !still {
			m.opts.Client.Del(ctx, m.lockKey(node))
			continue
		}
		m.opts.Logger.Warn("node stopped heartbeating; removing its connections from presence and counts", "dead_node", node)
		if m.opts.OnDead != nil {
			m.opts.OnDead(ctx, node)
		}
		m.opts.Client.SRem(ctx, m.nodesKey(), node)
		m.opts.Client.Del(ctx, m.lockKey(node))
	}
}

// Live returns the registered nodes whose heartbeat is current.
func (m *Membership) Live(ctx context.Context) ([]string, error) {
	nodes, err := m.opts.Client.SMembers(ctx, m.nodesKey()).Result()
	if err != nil {
		return nil, err
	}
	pipe := m.opts.Client.Pipeline()
	cmds := make([]*redis.IntCmd, len(nodes))
	for i, n := range nodes {
		cmds[i] = pipe.Exists(ctx, m.aliveKey(n))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	live := nodes[:0]
	for i, n := range nodes {
		if cmds[i].Val() == 1 {
			live = append(live, n)
		}
	}
	return live, nil
}

// Leave deregisters this node at a graceful shutdown.
func (m *Membership) Leave(ctx context.Context) error {
	pipe := m.opts.Client.Pipeline()
	pipe.SRem(ctx, m.nodesKey(), m.opts.Node)
	pipe.Del(ctx, m.aliveKey(m.opts.Node))
	_, err := pipe.Exec(ctx)
	return err
}
