package scaling_test

import (
	"context"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/internal/redistest"
	"github.com/quaver-dev/quaver/scaling"
	"github.com/redis/go-redis/v9"
)

func runCensus(t *testing.T, client redis.UniversalClient, node string, conns map[string]int) *scaling.Census {
	t.Helper()
	c := scaling.NewCensus(scaling.CensusOptions{
		Client: client, Prefix: "c", Node: node, Interval: 20 * time.Millisecond,
		Connections: func() map[string]int { return conns },
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return c
}

func TestCensusSumsNodes(t *testing.T) {
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: 1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	ctx := context.Background()
	a := runCensus(t, client, "a", map[string]int{"app": 3})
	b := runCensus(t, client, "b", map[string]int{"app": 2})
	a.SetCount("app", "news", 2)
	a.SetCount("app", "presence-room", 1)
	b.SetCount("app", "news", 5)
	b.SetCount("app", "gone", 1)
	b.SetCount("app", "gone", 0)

	nodes := []string{"a", "b"}
	if !eventually(5*time.Second, func() bool {
		counts, err := a.Counts(ctx, "app", nodes)
		return err == nil && counts["news"] == 7 && counts["presence-room"] == 1 && len(counts) == 2
	}) {
		counts, err := a.Counts(ctx, "app", nodes)
		t.Fatalf("counts = %v, %v; want news 7, presence-room 1, no vacated channel", counts, err)
	}
	if n, err := b.Count(ctx, "app", "news", []string{"a"}); err != nil || n != 2 {
		t.Fatalf("count of news on a = %d, %v", n, err)
	}
	if !eventually(5*time.Second, func() bool {
		per, err := a.Connections(ctx, "app")
		return err == nil && per["a"] == 3 && per["b"] == 2
	}) {
		t.Fatal("connections per node not published")
	}

	if err := a.DropNode(ctx, "b", []string{"app"}); err != nil {
		t.Fatal(err)
	}
	if counts, _ := a.Counts(ctx, "app", nodes); counts["news"] != 2 {
		t.Fatalf("after dropping b: %v", counts)
	}

	// Redis loses its data; Rewrite puts this node's share back.
	srv.Restart()
	a.Rewrite(map[string]map[string]int{"app": {"news": 2}})
	if !eventually(5*time.Second, func() bool {
		counts, err := a.Counts(ctx, "app", []string{"a"})
		per, err2 := a.Connections(ctx, "app")
		return err == nil && err2 == nil && counts["news"] == 2 && per["a"] == 3
	}) {
		t.Fatal("counts not rewritten after the Redis restart")
	}
}
