package broadcast

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestMemoryCache(t *testing.T) {
	ctx := context.Background()
	start := time.Unix(1700000000, 0)
	now := start
	c := NewMemoryCache()
	c.now = func() time.Time { return now }

	steps := []struct {
		name     string
		at       time.Duration // since start
		put      string        // payload to put on "cache-a" (empty: none)
		ttl      time.Duration
		app, ch  string
		wantGet  string // empty: nil
		wantSize int    // entries held afterwards, -1 to skip
	}{
		{"nothing cached", 0, "", 0, "app", "cache-a", "", 0},
		{"put then get", 0, "one", time.Minute, "app", "cache-a", "one", 1},
		{"other channel", 0, "", 0, "app", "cache-b", "", 1},
		{"other app", 0, "", 0, "other", "cache-a", "", 1},
		{"still fresh at the ttl", time.Minute, "", 0, "app", "cache-a", "one", 1},
		{"overwritten", time.Minute, "two", time.Minute, "app", "cache-a", "two", 1},
		{"expired", 2*time.Minute + time.Second, "", 0, "app", "cache-a", "", 0},
		{"put after expiry", 3 * time.Minute, "three", time.Second, "app", "cache-a", "three", 1},
	}
	for _, st := range steps {
		now = start.Add(st.at)
		if st.put != "" {
			if err := c.Put(ctx, "app", "cache-a", []byte(st.put), st.ttl); err != nil {
				t.Fatalf("%s: Put: %v", st.name, err)
			}
		}
		got, err := c.Get(ctx, st.app, st.ch)
		if err != nil {
			t.Fatalf("%s: Get: %v", st.name, err)
		}
		if st.wantGet == "" && got != nil || st.wantGet != "" && string(got) != st.wantGet {
			t.Fatalf("%s: Get = %q, want %q", st.name, got, st.wantGet)
		}
		if len(c.entries) != st.wantSize {
			t.Fatalf("%s: %d entries held, want %d", st.name, len(c.entries), st.wantSize)
		}
	}
}

// TestMemoryCacheSweeps checks that expired entries of channels nobody
// reads again are dropped as new ones arrive, so the map stays bounded.
func TestMemoryCacheSweeps(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1700000000, 0)
	c := NewMemoryCache()
	c.now = func() time.Time { return now }
	for i := range 5000 {
		now = now.Add(time.Millisecond)
		if err := c.Put(ctx, "app", fmt.Sprintf("cache-%d", i), []byte("x"), 100*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	// Only entries put within the last 100 ms are live; a sweep runs every
	// 1024 entries held, so at most that many more can linger.
	if n := len(c.entries); n > 100+1024 {
		t.Fatalf("%d entries held, want at most %d", n, 100+1024)
	}
	if got, _ := c.Get(ctx, "app", "cache-4999"); string(got) != "x" {
		t.Fatalf("latest entry lost: %q", got)
	}
}
