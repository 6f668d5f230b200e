package channels

import (
	"hash/maphash"
	"strings"
	"sync"

	"github.com/quaver-dev/quaver/protocol"
)

// Subscriber is a local receiver of channel events; connection.Conn is one.
type Subscriber interface {
	SocketID() string
	// Send queues f for delivery and never blocks. It returns false when
	// the subscriber is closing and the frame was dropped.
	Send(f *protocol.Frame) bool
}

// Hook is told when a channel gains its first local subscriber or loses
// its last. It runs with the channel's shard locked, so calls for one
// channel arrive in order; it must not block or call back into the Registry.
type Hook interface {
	Occupied(app, channel string)
	Vacated(app, channel string)
}

// CountHook, when a Hook also implements it, is told a channel's local
// subscriber count after every change, under the same rules as Hook.
type CountHook interface {
	Counted(app, channel string, count int)
}

const shardCount = 64

// Registry maps (app, channel) to the local subscribers of that channel.
// It is sharded by channel so that broadcasts to different channels and
// subscribes elsewhere do not contend.
type Registry struct {
	seed   maphash.Seed
	hook   Hook
	counts CountHook
	shards [shardCount]shard
}

type key struct{ app, channel string }

type shard struct {
	mu       sync.RWMutex // guards channels and every members list in it
	channels map[key]*members
}

// members keeps subscribers in a slice for fast broadcast and an index for
// O(1) removal.
type members struct {
	list  []Subscriber
	index map[Subscriber]int
}

// NewRegistry returns an empty registry; hook may be nil.
func NewRegistry(hook Hook) *Registry {
	r := &Registry{seed: maphash.MakeSeed(), hook: hook}
	r.counts, _ = hook.(CountHook)
	for i := range r.shards {
		r.shards[i].channels = make(map[key]*members)
	}
	return r
}

func (r *Registry) shard(app, channel string) *shard {
	var h maphash.Hash
	h.SetSeed(r.seed)
	h.WriteString(app)
	h.WriteString(channel)
	return &r.shards[h.Sum64()%shardCount]
}

// Add subscribes s to a channel. It reports whether s was newly added and
// the channel's local subscriber count afterwards.
func (r *Registry) Add(app, channel string, s Subscriber) (added bool, count int) {
	sh := r.shard(app, channel)
	k := key{app, channel}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	m := sh.channels[k]
	if m == nil {
		m = &members{index: make(map[Subscriber]int, 1)}
		sh.channels[k] = m
	}
	if _, ok := m.index[s]; ok {
		return false, len(m.list)
	}
	m.index[s] = len(m.list)
	m.list = append(m.list, s)
	if len(m.list) == 1 && r.hook != nil {
		r.hook.Occupied(app, channel)
	}
	if r.counts != nil {
		r.counts.Counted(app, channel, len(m.list))
	}
	return true, len(m.list)
}

// Remove unsubscribes s from a channel. It reports whether s was there and
// the channel's local subscriber count afterwards.
func (r *Registry) Remove(app, channel string, s Subscriber) (removed bool, count int) {
	sh := r.shard(app, channel)
	k := key{app, channel}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	m := sh.channels[k]
	if m == nil {
		return false, 0
	}
	i, ok := m.index[s]
	if !ok {
		return false, len(m.list)
	}
	last := len(m.list) - 1
	if i != last {
		moved := m.list[last]
		m.list[i] = moved
		m.index[moved] = i
	}
	m.list[last] = nil
	m.list = m.list[:last]
	delete(m.index, s)
	if len(m.list) == 0 {
		delete(sh.channels, k)
		if r.hook != nil {
			r.hook.Vacated(app, channel)
		}
		if r.counts != nil {
			r.counts.Counted(app, channel, 0)
		}
		return true, 0
	}
	if r.counts != nil {
		r.counts.Counted(app, channel, len(m.list))
	}
	if cap(m.list) > 64 && len(m.list) < cap(m.list)/4 {
		m.list = append(make([]Subscriber, 0, cap(m.list)/2), m.list...)
	}
	return true, len(m.list)
}

// Broadcast sends f to every local subscriber of the channel except the one
// whose socket id is except (empty excludes nobody). It returns the number
// of subscribers the frame was queued for. The shard is read-locked for the
// walk; Send never blocks, so the walk is bounded by the subscriber count.
func (r *Registry) Broadcast(app, channel string, f *protocol.Frame, except string) int {
	sh := r.shard(app, channel)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	m := sh.channels[key{app, channel}]
	if m == nil {
		return 0
	}
	sent := 0
	for _, s := range m.list {
		if except != "" && s.SocketID() == except {
			continue
		}
		if s.Send(f) {
			sent++
		}
	}
	return sent
}

// Count returns a channel's local subscriber count.
func (r *Registry) Count(app, channel string) int {
	sh := r.shard(app, channel)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if m := sh.channels[key{app, channel}]; m != nil {
		return len(m.list)
	}
	return 0
}

// Channels returns the local subscriber count of every occupied channel of
// an app whose name starts with prefix.
func (r *Registry) Channels(app, prefix string) map[string]int {
	out := make(map[string]int)
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		for k, m := range sh.channels {
			if k.app == app && strings.HasPrefix(k.channel, prefix) {
				out[k.channel] = len(m.list)
			}
		}
		sh.mu.RUnlock()
	}
	return out
}

// Occupied returns how many channels of each app have a local subscriber.
func (r *Registry) Occupied() map[string]int {
	out := make(map[string]int)
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.RLock()
		for k := range sh.channels {
			out[k.app]++
		}
		sh.mu.RUnlock()
	}
	return out
}
