package broadcast

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisCache is the many-node Cache: a cache channel's last event is one
// expiring key, {prefix}:cache:{app}:{channel}, so a subscriber on any node
// gets the event cached through any other.
type RedisCache struct {
	client redis.UniversalClient
	prefix string
}

// NewRedisCache returns a Cache over client.
func NewRedisCache(client redis.UniversalClient, prefix string) *RedisCache {
	return &RedisCache{client: client, prefix: prefix}
}

func (c *RedisCache) key(app, channel string) string {
	return c.prefix + ":cache:" + app + ":" + channel
}

// Put implements Cache.
func (c *RedisCache) Put(ctx context.Context, app, channel string, payload []byte, ttl time.Duration) error {
	return c.client.Set(ctx, c.key(app, channel), payload, ttl).Err()
}

// Get implements Cache.
func (c *RedisCache) Get(ctx context.Context, app, channel string) ([]byte, error) {
	b, err := c.client.Get(ctx, c.key(app, channel)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	return b, err
}
