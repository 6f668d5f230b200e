package scaling_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/internal/redistest"
	"github.com/quaver-dev/quaver/scaling"
	"github.com/redis/go-redis/v9"
)

// node is one broker and what it received.
type node struct {
	broker *scaling.Redis
	got    chan scaling.Envelope
}

func startNode(t *testing.T, client redis.UniversalClient, cluster bool, name string) *node {
	t.Helper()
	n := &node{
		broker: scaling.NewRedis(scaling.RedisOptions{Client: client, Cluster: cluster, Prefix: "t", Node: name}),
		got:    make(chan scaling.Envelope, 1000),
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = n.broker.Run(ctx, func(e scaling.Envelope) { n.got <- e })
	}()
	t.Cleanup(func() { cancel(); <-done })
	return n
}

func (n *node) subscribe(t *testing.T, app, channel string) {
	t.Helper()
	n.broker.Subscribe(app, channel)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.broker.Await(ctx, app, channel); err != nil {
		t.Fatalf("await %s/%s: %v", app, channel, err)
	}
}

func (n *node) expect(t *testing.T, app, channel, payload string) {
	t.Helper()
	select {
	case e := <-n.got:
		if e.App != app || e.Channel != channel || string(e.Payload) != payload {
			t.Fatalf("got %s/%s %q, want %s/%s %q", e.App, e.Channel, e.Payload, app, channel, payload)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("nothing received, want %s/%s %q", app, channel, payload)
	}
}

func (n *node) expectNothing(t *testing.T) {
	t.Helper()
	select {
	case e := <-n.got:
		t.Fatalf("unexpected envelope %s/%s %q", e.App, e.Channel, e.Payload)
	case <-time.After(200 * time.Millisecond):
	}
}

func publish(t *testing.T, n *node, app, channel, payload string) {
	t.Helper()
	if err := n.broker.Publish(context.Background(), scaling.Envelope{App: app, Channel: channel, Payload: []byte(payload)}); err != nil {
		t.Fatal(err)
	}
}

// startRedis starts a single Redis ("single") or a 3-shard cluster.
func startRedis(t *testing.T, mode string) redis.UniversalClient {
	if mode == "single" {
		return redistest.Start(t).Client()
	}
	return redistest.StartCluster(t, 3).Client(t)
}

func TestRedisBrokerFanOut(t *testing.T) {
	for _, mode := range []string{"single", "cluster"} {
		t.Run(mode, func(t *testing.T) {
			client := startRedis(t, mode)
			a := startNode(t, client, mode == "cluster", "node-a")
			b := startNode(t, client, mode == "cluster", "node-b")
			c := startNode(t, client, mode == "cluster", "node-c")
			b.subscribe(t, "app", "news")
			c.subscribe(t, "app", "other")

			publish(t, a, "app", "news", "hello")
			b.expect(t, "app", "news", "hello")
			c.expectNothing(t) // not subscribed to news: nothing crosses to it

			// Many channels spread over every shard, in order per channel.
			for i := range 50 {
				b.subscribe(t, "app", fmt.Sprintf("ch-%d", i))
			}
			for seq := range 3 {
				for i := range 50 {
					publish(t, a, "app", fmt.Sprintf("ch-%d", i), fmt.Sprint(seq))
				}
			}
			last := map[string]int{}
			for range 150 {
				select {
				case e := <-b.got:
					var seq int
					fmt.Sscan(string(e.Payload), &seq)
					if prev, ok := last[e.Channel]; ok && seq != prev+1 {
						t.Fatalf("%s: %d after %d", e.Channel, seq, prev)
					}
					last[e.Channel] = seq
				case <-time.After(5 * time.Second):
					t.Fatalf("received %d of 150", len(last))
				}
			}

			// A node does not receive its own envelopes back.
			a.subscribe(t, "app", "news")
			publish(t, a, "app", "news", "mine")
			b.expect(t, "app", "news", "mine")
			a.expectNothing(t)

			// After Unsubscribe, envelopes stop crossing to the node.
			b.broker.Unsubscribe("app", "news")
			time.Sleep(200 * time.Millisecond) // the unsubscribe is applied in the background
			publish(t, c, "app", "news", "after")
			a.expect(t, "app", "news", "after")
			b.expectNothing(t)
		})
	}
}

func TestRedisBrokerSurvivesRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: 1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	a := startNode(t, client, false, "node-a")
	b := startNode(t, client, false, "node-b")
	b.subscribe(t, "app", "news")
	publish(t, a, "app", "news", "before")
	b.expect(t, "app", "news", "before")

	srv.Restart()
	if !eventually(10*time.Second, func() bool {
		if err := a.broker.Publish(context.Background(), scaling.Envelope{App: "app", Channel: "news", Payload: []byte("after")}); err != nil {
			return false
		}
		select {
		case e := <-b.got:
			return string(e.Payload) == "after"
		case <-time.After(100 * time.Millisecond):
			return false
		}
	}) {
		t.Fatal("subscription not restored after the Redis restart")
	}
	if !b.broker.Up() {
		t.Fatal("broker reports down after it received again")
	}
}

func eventually(timeout time.Duration, f func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if f() {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

// A burst larger than one pipeline reaches the other node whole and in
// order, on a single Redis and on a cluster.
func TestRedisBrokerBurstInOrder(t *testing.T) {
	for _, mode := range []string{"single", "cluster"} {
		t.Run(mode, func(t *testing.T) {
			client := startRedis(t, mode)
			a := startNode(t, client, mode == "cluster", "node-a")
			b := startNode(t, client, mode == "cluster", "node-b")
			b.subscribe(t, "app", "tokens")
			const n = 3000
			go func() {
				for i := range n {
					_ = a.broker.Publish(context.Background(), scaling.Envelope{App: "app", Channel: "tokens", Payload: []byte(fmt.Sprint(i))})
				}
			}()
			for i := range n {
				b.expect(t, "app", "tokens", fmt.Sprint(i))
			}
		})
	}
}

// With nothing sending (Run not started, as when Redis stalls), Publish
// refuses once the queue holds MaxQueued bytes instead of growing.
func TestRedisBrokerQueueIsBounded(t *testing.T) {
	client := redistest.Start(t).Client()
	b := scaling.NewRedis(scaling.RedisOptions{Client: client, Prefix: "t", Node: "node-a", MaxQueued: 1000})
	payload := make([]byte, 84) // 100 bytes with the node header
	for i := range 10 {
		if err := b.Publish(context.Background(), scaling.Envelope{App: "app", Channel: "news", Payload: payload}); err != nil {
			t.Fatalf("publish %d refused below the bound: %v", i, err)
		}
	}
	err := b.Publish(context.Background(), scaling.Envelope{App: "app", Channel: "news", Payload: payload})
	if !errors.Is(err, scaling.ErrQueueFull) {
		t.Fatalf("publish over the bound: err %v, want ErrQueueFull", err)
	}
}
