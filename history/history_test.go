package history_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/history"
	"github.com/quaver-dev/quaver/history/storetest"
	"github.com/quaver-dev/quaver/internal/redistest"
	"github.com/quaver-dev/quaver/protocol"
	"github.com/redis/go-redis/v9"
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(*testing.T) history.Store { return history.NewMemory() })
}

var prefixes atomic.Int64

func TestRedisStore(t *testing.T) {
	client := redistest.Start(t).Client()
	storetest.Run(t, func(*testing.T) history.Store {
		return history.NewRedis(client, fmt.Sprintf("h%d", prefixes.Add(1)))
	})
}

func TestRedisClusterStore(t *testing.T) {
	client := redistest.StartCluster(t, 3).Client(t)
	storetest.Run(t, func(*testing.T) history.Store {
		return history.NewRedis(client, fmt.Sprintf("h%d", prefixes.Add(1)))
	})
}

// After Redis loses its scripts (a restart, SCRIPT FLUSH; on a cluster
// perhaps one shard only), a batch is still recorded whole and once.
func TestRedisBatchSurvivesScriptFlush(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	client := cluster.Client(t)
	s := history.NewRedis(client, "flush")
	rule := &apps.ChannelRule{Prefix: "ai-", Tokens: true, History: 100, Retain: time.Minute}
	batch := func(from int) []history.Entry {
		var b []history.Entry
		for i := from; i < from+5; i++ {
			for c := range 16 { // channels on every shard
				ch := fmt.Sprintf("ai-%d", c)
				data := protocol.TokenData(`"s"`, int64(i), "x", false, false)
				f := protocol.NewFrame("token", ch, data, protocol.DataString, "")
				f.Token, _ = protocol.ParseToken(data)
				b = append(b, history.Entry{App: "app", Rule: rule, Frame: f})
			}
		}
		return b
	}
	ctx := context.Background()
	if err := s.Record(ctx, batch(0)...); err != nil {
		t.Fatal(err)
	}
	// Flush one shard only: part of the next batch finds its script.
	one := redis.NewClient(&redis.Options{Addr: cluster.Addrs()[0]})
	defer one.Close()
	if err := one.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Record(ctx, batch(5)...); err != nil {
		t.Fatal(err)
	}
	for c := range 16 {
		ch := fmt.Sprintf("ai-%d", c)
		st, err := s.Streams(ctx, "app", ch)
		if err != nil || len(st) != 1 || st[0].Text != strings.Repeat("x", 10) || st[0].Seq != 9 {
			t.Fatalf("%s: streams %+v, err %v; want ten tokens", ch, st, err)
		}
		recent, err := s.Recent(ctx, "app", ch, 100)
		if err != nil || len(recent) != 10 {
			t.Fatalf("%s: %d recent events, err %v; want 10, none twice", ch, len(recent), err)
		}
	}
}
