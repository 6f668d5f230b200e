package presence

import (
	"context"
	"sync"
)

// Memory is the single-node Store. It is also the fake the other packages
// test against.
type Memory struct {
	mu       sync.Mutex // guards channels
	channels map[channelKey]*roster
}

type channelKey struct{ app, channel string }

// roster is one channel's membership: users by id, each with their sockets.
type roster struct {
	users   map[string]*user
	sockets map[string]string // socket id → user id
}

type user struct {
	member  Member
	sockets int
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{channels: make(map[channelKey]*roster)} }

// Join implements Store.
func (s *Memory) Join(_ context.Context, app, channel, socketID string, m Member, limit int) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := channelKey{app, channel}
	r := s.channels[k]
	if r == nil {
		r = &roster{users: make(map[string]*user), sockets: make(map[string]string)}
		s.channels[k] = r
	}
	if _, ok := r.sockets[socketID]; ok {
		return false, nil
	}
	u := r.users[m.UserID]
	if u == nil {
		if limit > 0 && len(r.users) >= limit {
			if len(r.users) == 0 {
				delete(s.channels, k)
			}
			return false, ErrFull
		}
		u = &user{member: m}
		r.users[m.UserID] = u
	}
	u.sockets++
	r.sockets[socketID] = m.UserID
	return u.sockets == 1, nil
}

// Leave implements Store.
func (s *Memory) Leave(_ context.Context, app, channel, socketID string) (Member, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := channelKey{app, channel}
	r := s.channels[k]
	if r == nil {
		return Member{}, false, nil
	}
	id, ok := r.sockets[socketID]
	if !ok {
		return Member{}, false, nil
	}
	delete(r.sockets, socketID)
	u := r.users[id]
	u.sockets--
	if u.sockets > 0 {
		return u.member, false, nil
	}
	delete(r.users, id)
	if len(r.users) == 0 {
		delete(s.channels, k)
	}
	return u.member, true, nil
}

// Members implements Store.
func (s *Memory) Members(_ context.Context, app, channel string) ([]Member, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.channels[channelKey{app, channel}]
	if r == nil {
		return nil, nil
	}
	out := make([]Member, 0, len(r.users))
	for _, u := range r.users {
		out = append(out, u.member)
	}
	return out, nil
}

// Count implements Store.
func (s *Memory) Count(_ context.Context, app, channel string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.channels[channelKey{app, channel}]; r != nil {
		return len(r.users), nil
	}
	return 0, nil
}
