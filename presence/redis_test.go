package presence_test

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"testing"

	"github.com/quaver-dev/quaver/internal/redistest"
	"github.com/quaver-dev/quaver/presence"
	"github.com/quaver-dev/quaver/presence/storetest"
)

var prefixes atomic.Int64

// newPrefix gives each store its own keys on the shared server.
func newPrefix() string { return fmt.Sprintf("p%d", prefixes.Add(1)) }

func TestRedisStoreContract(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client()
	storetest.RunStoreContract(t, func(*testing.T) presence.Store {
		return presence.NewRedis(client, newPrefix(), "node-1")
	})
}

func TestRedisClusterStoreContract(t *testing.T) {
	client := redistest.StartCluster(t, 3).Client(t)
	storetest.RunStoreContract(t, func(*testing.T) presence.Store {
		return presence.NewRedis(client, newPrefix(), "node-1")
	})
}

func member(id string) presence.Member {
	return presence.Member{UserID: id, Info: `{"name":"` + id + `"}`}
}

// Two nodes share a channel; one dies. RemoveNode on the survivor's side
// reports exactly the users who had no socket elsewhere and leaves nothing
// of the dead node behind.
func TestRedisRemoveNode(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client()
	ctx := context.Background()
	prefix := newPrefix()
	alive := presence.NewRedis(client, prefix, "alive")
	dead := presence.NewRedis(client, prefix, "dead")

	mustJoin := func(s *presence.Redis, socket, user string) {
		t.Helper()
		if _, err := s.Join(ctx, "app", "presence-room", socket, member(user), 0); err != nil {
			t.Fatal(err)
		}
	}
	mustJoin(alive, "1.1", "ann")
	mustJoin(dead, "2.1", "ann") // ann also on the dead node: stays
	mustJoin(dead, "2.2", "bob") // bob only there: departs
	mustJoin(dead, "2.3", "bob")
	if _, err := dead.Join(ctx, "app", "presence-other", "2.2", member("bob"), 0); err != nil {
		t.Fatal(err)
	}

	departed, err := alive.RemoveNode(ctx, "dead")
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(departed, func(i, j int) bool { return departed[i].Channel < departed[j].Channel })
	want := []presence.Departure{{App: "app", Channel: "presence-other", UserID: "bob"}, {App: "app", Channel: "presence-room", UserID: "bob"}}
	if fmt.Sprint(departed) != fmt.Sprint(want) {
		t.Fatalf("departed %v, want %v", departed, want)
	}
	members, _ := alive.Members(ctx, "app", "presence-room")
	if len(members) != 1 || members[0].UserID != "ann" {
		t.Fatalf("members after removal %v, want ann only", members)
	}
	if keys := srv.Keys(prefix + ":node:dead:*"); len(keys) != 0 {
		t.Fatalf("dead node's keys left: %v", keys)
	}
	if keys := srv.Keys(prefix + ":presence:{app:presence-other}:*"); len(keys) != 0 {
		t.Fatalf("empty channel's keys left: %v", keys)
	}
}

// After Redis lost its data, Restore puts the node's memberships back; after
// an outage in which leaves failed, it removes the stale ones.
func TestRedisRestore(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client()
	ctx := context.Background()
	prefix := newPrefix()
	s := presence.NewRedis(client, prefix, "n1")
	local := []presence.Entry{
		{App: "app", Channel: "presence-room", SocketID: "1.1", Member: member("ann")},
		{App: "app", Channel: "presence-room", SocketID: "1.2", Member: member("ann")},
		{App: "app", Channel: "presence-room", SocketID: "1.3", Member: member("bob")},
	}
	for _, e := range local {
		if _, err := s.Join(ctx, e.App, e.Channel, e.SocketID, e.Member, 0); err != nil {
			t.Fatal(err)
		}
	}
	// A socket that closed while Redis was unreachable is still in Redis.
	if _, err := s.Join(ctx, "app", "presence-room", "1.4", member("cid"), 0); err != nil {
		t.Fatal(err)
	}

	joined, departed, err := s.Restore(ctx, local)
	if err != nil {
		t.Fatal(err)
	}
	if len(joined) != 0 || len(departed) != 1 || departed[0].UserID != "cid" {
		t.Fatalf("restore with data intact: joined %v departed %v, want cid departed only", joined, departed)
	}

	srv.Restart()
	joined, departed, err = s.Restore(ctx, local)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, e := range joined {
		ids = append(ids, e.Member.UserID)
	}
	sort.Strings(ids)
	if fmt.Sprint(ids) != "[ann bob]" || len(departed) != 0 {
		t.Fatalf("restore after data loss: joined %v departed %v, want ann and bob joined", ids, departed)
	}
	if n, _ := s.Count(ctx, "app", "presence-room"); n != 2 {
		t.Fatalf("count after restore %d, want 2", n)
	}
}
