package broadcast

import (
	"context"
	"sync"
	"time"
)

// Cache remembers the last event of each cache channel (cache-*,
// private-cache-*, presence-cache-*, private-encrypted-cache-*) for the
// subscribers that come after it. Payloads are protocol.MarshalFrame bytes.
type Cache interface {
	Put(ctx context.Context, app, channel string, payload []byte, ttl time.Duration) error
	// Get returns the cached payload, or nil when there is none.
	Get(ctx context.Context, app, channel string) ([]byte, error)
}

// MemoryCache is the single-node Cache.
type MemoryCache struct {
	mu      sync.Mutex // guards entries
	entries map[cacheKey]cacheEntry
	now     func() time.Time
}

type cacheKey struct{ app, channel string }

type cacheEntry struct {
	payload []byte
	expires time.Time
}

// NewMemoryCache returns an empty cache.
func NewMemoryCache() *MemoryCache {
	return &MemoryCache{entries: make(map[cacheKey]cacheEntry), now: time.Now}
}

// Put implements Cache. Expired entries are swept on the way, so the map
// never holds more than the live entries plus one sweep's worth.
func (c *MemoryCache) Put(_ context.Context, app, channel string, payload []byte, ttl time.Duration) error {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) > 0 && len(c.entries)%1024 == 0 {
		for k, e := range c.entries {
			if now.After(e.expires) {
				delete(c.entries, k)
			}
		}
	}
	c.entries[cacheKey{app, channel}] = cacheEntry{payload: payload, expires: now.Add(ttl)}
	return nil
}

// Get implements Cache.
func (c *MemoryCache) Get(_ context.Context, app, channel string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := cacheKey{app, channel}
	e, ok := c.entries[k]
	if !ok {
		return nil, nil
	}
	if c.now().After(e.expires) {
		delete(c.entries, k)
		return nil, nil
	}
	return e.payload, nil
}
