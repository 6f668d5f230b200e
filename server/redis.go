package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/quaver-dev/quaver/broadcast"
	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/connection"
	"github.com/quaver-dev/quaver/history"
	"github.com/quaver-dev/quaver/presence"
	"github.com/quaver-dev/quaver/protocol"
	"github.com/quaver-dev/quaver/scaling"
	"github.com/quaver-dev/quaver/streams"
	"github.com/redis/go-redis/v9"
)

// cluster holds the parts a node needs only when it is one of many.
type cluster struct {
	client     redis.UniversalClient
	node       string
	presence   *presence.Redis
	census     *scaling.Census
	control    *scaling.Control
	membership *scaling.Membership
	ingest     *streams.Ingest
}

// newRedisClient connects to a single Redis (URL) or a Redis Cluster
// (seeds). Commands fail fast while Redis is away, so that publishing and
// subscribing degrade to this node instead of stalling clients.
func newRedisClient(c config.Redis) (redis.UniversalClient, error) {
	const dial, io = time.Second, 2 * time.Second
	if len(c.Cluster) > 0 {
		return redis.NewClusterClient(&redis.ClusterOptions{
			Addrs: c.Cluster, Username: c.Username, Password: c.Password,
			DialTimeout: dial, ReadTimeout: io, WriteTimeout: io, PoolTimeout: io, MaxRetries: 1,
		}), nil
	}
	opt, err := redis.ParseURL(c.URL)
	if err != nil {
		return nil, err
	}
	if c.Username != "" {
		opt.Username = c.Username
	}
	if c.Password != "" {
		opt.Password = c.Password
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout, opt.PoolTimeout, opt.MaxRetries = dial, io, io, io, 1
	return redis.NewClient(opt), nil
}

func newNodeID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// setupRedis replaces the single-node parts with their Redis versions.
func (s *Server) setupRedis() error {
	rc := s.cfg.Redis
	client, err := newRedisClient(rc)
	if err != nil {
		return err
	}
	node := newNodeID()
	log := s.log.With("node", node)
	s.log = log
	s.broker = scaling.NewRedis(scaling.RedisOptions{
		Client: client, Cluster: len(rc.Cluster) > 0, Prefix: rc.Prefix, Node: node,
		Logger: log, Observer: s.metrics,
	})
	s.cache = broadcast.NewRedisCache(client, rc.Prefix)
	s.history = history.NewRedis(client, rc.Prefix)
	c := &cluster{client: client, node: node, presence: presence.NewRedis(client, rc.Prefix, node)}
	c.census = scaling.NewCensus(scaling.CensusOptions{
		Client: client, Prefix: rc.Prefix, Node: node, Logger: log, Observer: s.metrics,
		Connections: s.localConnections,
	})
	c.control = scaling.NewControl(client, rc.Prefix, node, log)
	c.membership = scaling.NewMembership(scaling.MembershipOptions{
		Client: client, Prefix: rc.Prefix, Node: node, Timeout: rc.NodeTimeout.Duration(),
		OnDead: s.reap, OnRestore: s.restore, Logger: log, Observer: s.metrics,
	})
	s.presence = c.presence
	s.cluster = c
	return nil
}

// setupStreams connects the node to AI workers through Redis Streams: the
// ingest of the apps' streams and the inbound stream of client events. It
// runs once the publisher and registry exist, before the hub; the vacated
// signals come once the hub exists (see New).
func (s *Server) setupStreams(hub *connection.Options) {
	c, prefix := s.cluster, s.cfg.Redis.Prefix
	c.ingest = streams.NewIngest(streams.IngestOptions{
		Client: c.client, Prefix: prefix, Node: c.node, Apps: s.apps, Publisher: s.publisher,
		Logger: s.log, Observer: s.metrics,
	})
	hub.Inbound = streams.NewInbound(c.client, prefix)
}

// localConnections counts this node's connections per app for the census.
func (s *Server) localConnections() map[string]int {
	out := map[string]int{}
	all, _ := s.apps.All(context.Background())
	for _, a := range all {
		out[a.ID] = s.hub.Connections(a.ID)
	}
	return out
}

// reap removes what a dead node left: its presence memberships, announcing
// member_removed for users who had no socket elsewhere, and its counts.
func (s *Server) reap(ctx context.Context, node string) {
	departed, err := s.cluster.presence.RemoveNode(ctx, node)
	if err != nil {
		s.log.Error("removing a dead node's presence", "dead_node", node, "err", err)
	}
	for _, d := range departed {
		s.publisher.Publish(ctx, broadcast.Event{App: d.App, Frame: protocol.MemberRemoved(d.Channel, d.UserID)})
	}
	if err := s.cluster.census.DropNode(ctx, node, s.appIDs()); err != nil {
		s.log.Error("removing a dead node's counts", "dead_node", node, "err", err)
	}
	s.log.Info("removed a dead node", "dead_node", node, "members_removed", len(departed))
}

// restore makes Redis agree with this node again after an outage, a Redis
// restart, or a partition during which the others reaped this node.
func (s *Server) restore(ctx context.Context, reaped bool) {
	joined, departed, err := s.cluster.presence.Restore(ctx, s.hub.PresenceEntries())
	if err != nil {
		s.log.Error("restoring presence in Redis", "err", err)
	}
	for _, d := range departed {
		s.publisher.Publish(ctx, broadcast.Event{App: d.App, Frame: protocol.MemberRemoved(d.Channel, d.UserID)})
	}
	if reaped {
		// The other nodes told their clients these users left; they are back.
		for _, e := range joined {
			s.publisher.Publish(ctx, broadcast.Event{App: e.App, Frame: protocol.MemberAdded(e.Channel, e.Member.UserID, e.Member.Info)})
		}
	}
	counts := map[string]map[string]int{}
	for _, app := range s.appIDs() {
		counts[app] = s.registry.Channels(app, "")
	}
	s.cluster.census.Rewrite(counts)
}

func (s *Server) appIDs() []string {
	all, _ := s.apps.All(context.Background())
	ids := make([]string, len(all))
	for i, a := range all {
		ids[i] = a.ID
	}
	return ids
}

// controlCommand is what nodes tell each other over scaling.Control.
type controlCommand struct {
	Op   string `json:"op"`
	App  string `json:"app"`
	User string `json:"user,omitempty"`
}

func (s *Server) handleControl(payload []byte) {
	var cmd controlCommand
	if err := json.Unmarshal(payload, &cmd); err != nil {
		s.log.Warn("ignoring malformed control command", "err", err)
		return
	}
	switch cmd.Op {
	case "terminate":
		s.hub.Terminate(cmd.App, cmd.User)
	default:
		s.log.Warn("ignoring unknown control command", "op", cmd.Op)
	}
}

// clusterState answers the HTTP API for the whole cluster: this node's
// share from memory, the other live nodes' shares from the census.
type clusterState struct {
	local localState
	c     *cluster
}

func (s clusterState) others(ctx context.Context) ([]string, error) {
	live, err := s.c.membership.Live(ctx)
	if err != nil {
		return nil, err
	}
	out := live[:0]
	for _, n := range live {
		if n != s.c.node {
			out = append(out, n)
		}
	}
	return out, nil
}

func (s clusterState) Channels(ctx context.Context, app, prefix string) (map[string]int, error) {
	nodes, err := s.others(ctx)
	if err != nil {
		return nil, err
	}
	remote, err := s.c.census.Counts(ctx, app, nodes)
	if err != nil {
		return nil, err
	}
	out := s.local.registry.Channels(app, prefix)
	for ch, n := range remote {
		if n > 0 && len(ch) >= len(prefix) && ch[:len(prefix)] == prefix {
			out[ch] += n
		}
	}
	return out, nil
}

func (s clusterState) SubscriptionCount(ctx context.Context, app, channel string) (int, error) {
	nodes, err := s.others(ctx)
	if err != nil {
		return 0, err
	}
	n, err := s.c.census.Count(ctx, app, channel, nodes)
	return n + s.local.registry.Count(app, channel), err
}

func (s clusterState) Connections(ctx context.Context, app string) (int, error) {
	nodes, err := s.others(ctx)
	if err != nil {
		return 0, err
	}
	perNode, err := s.c.census.Connections(ctx, app)
	if err != nil {
		return 0, err
	}
	total := s.local.hub.Connections(app)
	for _, n := range nodes {
		total += perNode[n]
	}
	return total, nil
}

func (s clusterState) Terminate(ctx context.Context, app, userID string) error {
	s.local.hub.Terminate(app, userID)
	payload, _ := json.Marshal(controlCommand{Op: "terminate", App: app, User: userID})
	return s.c.control.Send(ctx, payload)
}

// Health implements httpapi.Health: the node's Redis connectivity.
func (c *cluster) Health(ctx context.Context) map[string]string {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	status := "ok"
	if err := c.client.Ping(ctx).Err(); err != nil {
		status = "unreachable: " + err.Error()
	}
	return map[string]string{"redis": status, "node": c.node}
}
