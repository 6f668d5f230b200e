package scaling_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/internal/redistest"
	"github.com/quaver-dev/quaver/scaling"
	"github.com/redis/go-redis/v9"
)

// member runs one node's Membership and records its callbacks.
type member struct {
	m      *scaling.Membership
	cancel context.CancelFunc
	done   chan struct{}

	mu       sync.Mutex
	dead     []string
	restores []bool
}

func join(t *testing.T, client redis.UniversalClient, node string, timeout time.Duration) *member {
	t.Helper()
	mb := &member{}
	mb.m = scaling.NewMembership(scaling.MembershipOptions{
		Client: client, Prefix: "m", Node: node, Timeout: timeout,
		OnDead: func(_ context.Context, n string) {
			mb.mu.Lock()
			mb.dead = append(mb.dead, n)
			mb.mu.Unlock()
		},
		OnRestore: func(_ context.Context, reaped bool) {
			mb.mu.Lock()
			mb.restores = append(mb.restores, reaped)
			mb.mu.Unlock()
		},
	})
	if err := mb.m.Register(context.Background()); err != nil {
		t.Fatal(err)
	}
	mb.resume()
	t.Cleanup(mb.stop)
	return mb
}

// resume runs the heartbeat and the watch of the other nodes.
func (mb *member) resume() {
	var ctx context.Context
	ctx, mb.cancel = context.WithCancel(context.Background())
	mb.done = make(chan struct{})
	go func() { defer close(mb.done); _ = mb.m.Run(ctx) }()
}

// stop ends the heartbeat without deregistering, like a crash or a
// partition.
func (mb *member) stop() {
	mb.cancel()
	<-mb.done
}

func (mb *member) deadNodes() []string {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return slices.Clone(mb.dead)
}

func (mb *member) restoreCalls() []bool {
	mb.mu.Lock()
	defer mb.mu.Unlock()
	return slices.Clone(mb.restores)
}

func TestMembershipReapsADeadNodeOnce(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client()
	const timeout = 2 * time.Second
	a := join(t, client, "a", timeout)
	b := join(t, client, "b", timeout)
	c := join(t, client, "c", timeout)

	live, err := a.m.Live(context.Background())
	if err != nil || len(live) != 3 {
		t.Fatalf("live = %v, %v; want 3 nodes", live, err)
	}
	start := time.Now()
	c.stop()
	if !eventually(10*time.Second, func() bool { return len(a.deadNodes())+len(b.deadNodes()) > 0 }) {
		t.Fatal("the dead node was never reaped")
	}
	took := time.Since(start)
	if took > timeout+2*time.Second {
		t.Errorf("reaped after %v, want within the %v timeout plus the 1 s scan", took, timeout)
	}
	time.Sleep(1500 * time.Millisecond) // a second survivor scan must not reap again
	if got := append(a.deadNodes(), b.deadNodes()...); len(got) != 1 || got[0] != "c" {
		t.Fatalf("reaped %v, want c exactly once", got)
	}
	if keys := srv.Keys("m:node:c:*"); len(keys) != 0 {
		t.Fatalf("keys of the dead node left: %v", keys)
	}
	if live, _ := a.m.Live(context.Background()); len(live) != 2 {
		t.Fatalf("live after reaping = %v", live)
	}
}

func TestMembershipRestoresAfterRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: 1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	a := join(t, client, "a", 2*time.Second)

	srv.Restart()
	if !eventually(10*time.Second, func() bool { return len(a.restoreCalls()) > 0 }) {
		t.Fatal("no restore after Redis lost its data")
	}
	if got := a.restoreCalls(); got[0] {
		t.Fatalf("restore reported reaped=true after a Redis restart; want a quiet restore")
	}
	if live, _ := a.m.Live(context.Background()); len(live) != 1 || live[0] != "a" {
		t.Fatalf("node not registered again: live = %v", live)
	}
}

// A node cut off for longer than the timeout is reaped; when its heartbeat
// resumes it registers again and restores loudly, because the others told
// their clients its users had left.
func TestMembershipReapedNodeComesBackLoudly(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client()
	a := join(t, client, "a", 2*time.Second)
	b := join(t, client, "b", 2*time.Second)
	b.stop()
	if !eventually(10*time.Second, func() bool { return len(a.deadNodes()) == 1 }) {
		t.Fatal("b was not reaped")
	}
	b.resume()
	if !eventually(5*time.Second, func() bool { return len(b.restoreCalls()) == 1 }) {
		t.Fatal("b did not restore after its heartbeat resumed")
	}
	if !b.restoreCalls()[0] {
		t.Fatal("restore after being reaped reported reaped=false; its users would not be announced again")
	}
	if live, _ := a.m.Live(context.Background()); len(live) != 2 {
		t.Fatalf("live = %v after b came back", live)
	}
}
