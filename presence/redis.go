package presence

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

var (
	//go:embed lua/join.lua
	joinSource string
	//go:embed lua/leave.lua
	leaveSource string

	joinScript  = redis.NewScript(joinSource)
	leaveScript = redis.NewScript(leaveSource)
)

// Redis is the many-node Store. Each channel's membership lives in three
// hashes that share a hash tag, so the Lua scripts that change them run in
// one slot on Redis Cluster too:
//
//	{prefix}:presence:{app:channel}:sockets  socket id → user id
//	{prefix}:presence:{app:channel}:users    user id → sockets
//	{prefix}:presence:{app:channel}:info     user id → user_info
//
// Each node also indexes the memberships of its own sockets in
// {prefix}:node:{id}:presence, so that when it dies a survivor can remove
// them (RemoveNode) and when Redis loses data the node can restore them
// (Restore).
type Redis struct {
	client redis.UniversalClient
	prefix string
	node   string
}

// NewRedis returns a Store for the node.
func NewRedis(client redis.UniversalClient, prefix, node string) *Redis {
	return &Redis{client: client, prefix: prefix, node: node}
}

func (s *Redis) keys(app, channel string) []string {
	base := s.prefix + ":presence:{" + app + ":" + channel + "}:"
	return []string{base + "sockets", base + "users", base + "info"}
}

func (s *Redis) nodeKey(node string) string { return s.prefix + ":node:" + node + ":presence" }

// membership encodes an entry of a node index. Pusher channel names cannot
// contain NUL, so it separates the parts unambiguously.
func membership(app, channel, socketID string) string {
	return app + "\x00" + channel + "\x00" + socketID
}

// Join implements Store. The node index is written first, so a node that
// dies between the two steps leaves nothing a reaper cannot find.
func (s *Redis) Join(ctx context.Context, app, channel, socketID string, m Member, limit int) (bool, error) {
	if err := s.client.SAdd(ctx, s.nodeKey(s.node), membership(app, channel, socketID)).Err(); err != nil {
		return false, fmt.Errorf("presence: index: %w", err)
	}
	res, err := joinScript.Run(ctx, s.client, s.keys(app, channel), socketID, m.UserID, m.Info, limit).Int()
	if err != nil {
		return false, fmt.Errorf("presence: join: %w", err)
	}
	if res < 0 {
		s.client.SRem(ctx, s.nodeKey(s.node), membership(app, channel, socketID))
		return false, ErrFull
	}
	return res == 1, nil
}

// Leave implements Store.
func (s *Redis) Leave(ctx context.Context, app, channel, socketID string) (Member, bool, error) {
	m, last, err := s.leave(ctx, app, channel, socketID)
	if err != nil {
		return m, last, err
	}
	if err := s.client.SRem(ctx, s.nodeKey(s.node), membership(app, channel, socketID)).Err(); err != nil {
		return m, last, fmt.Errorf("presence: index: %w", err)
	}
	return m, last, nil
}

func (s *Redis) leave(ctx context.Context, app, channel, socketID string) (Member, bool, error) {
	res, err := leaveScript.Run(ctx, s.client, s.keys(app, channel), socketID).Slice()
	if errors.Is(err, redis.Nil) {
		return Member{}, false, nil
	}
	if err != nil || len(res) != 3 {
		return Member{}, false, fmt.Errorf("presence: leave: %v", err)
	}
	user, _ := res[0].(string)
	info, _ := res[1].(string)
	last, _ := res[2].(int64)
	return Member{UserID: user, Info: info}, last == 1, nil
}

// Members implements Store.
func (s *Redis) Members(ctx context.Context, app, channel string) ([]Member, error) {
	info, err := s.client.HGetAll(ctx, s.keys(app, channel)[2]).Result()
	if err != nil {
		return nil, fmt.Errorf("presence: members: %w", err)
	}
	out := make([]Member, 0, len(info))
	for id, i := range info {
		out = append(out, Member{UserID: id, Info: i})
	}
	return out, nil
}

// Count implements Store.
func (s *Redis) Count(ctx context.Context, app, channel string) (int, error) {
	n, err := s.client.HLen(ctx, s.keys(app, channel)[1]).Result()
	if err != nil {
		return 0, fmt.Errorf("presence: count: %w", err)
	}
	return int(n), nil
}

// RemoveNode removes every membership of a dead node and returns the users
// who thereby left their channels, for member_removed.
func (s *Redis) RemoveNode(ctx context.Context, node string) ([]Departure, error) {
	entries, err := s.client.SMembers(ctx, s.nodeKey(node)).Result()
	if err != nil {
		return nil, fmt.Errorf("presence: remove node: %w", err)
	}
	var gone []Departure
	for _, e := range entries {
		app, channel, socketID, ok := splitMembership(e)
		if !ok {
			continue
		}
		m, last, err := s.leave(ctx, app, channel, socketID)
		if err != nil {
			return gone, err
		}
		if last {
			gone = append(gone, Departure{App: app, Channel: channel, UserID: m.UserID})
		}
	}
	return gone, s.client.Del(ctx, s.nodeKey(node)).Err()
}

// Restore makes Redis agree with this node's local memberships after Redis
// lost data or the node was reaped: stale entries are removed (departed
// users returned) and missing ones added (users new to their channel
// returned as joined). Member limits are not applied to restored entries.
func (s *Redis) Restore(ctx context.Context, local []Entry) (joined []Entry, departed []Departure, err error) {
	indexed, err := s.client.SMembers(ctx, s.nodeKey(s.node)).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("presence: restore: %w", err)
	}
	want := make(map[string]Entry, len(local))
	for _, e := range local {
		want[membership(e.App, e.Channel, e.SocketID)] = e
	}
	for _, key := range indexed {
		if _, ok := want[key]; ok {
			delete(want, key)
			continue
		}
		app, channel, socketID, ok := splitMembership(key)
		if !ok {
			continue
		}
		m, last, err := s.Leave(ctx, app, channel, socketID)
		if err != nil {
			return joined, departed, err
		}
		if last {
			departed = append(departed, Departure{App: app, Channel: channel, UserID: m.UserID})
		}
	}
	for _, e := range want {
		first, err := s.Join(ctx, e.App, e.Channel, e.SocketID, e.Member, 0)
		if err != nil {
			return joined, departed, err
		}
		if first {
			joined = append(joined, e)
		}
	}
	return joined, departed, nil
}

func splitMembership(s string) (app, channel, socketID string, ok bool) {
	parts := strings.Split(s, "\x00")
	if len(parts) != 3 {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}
