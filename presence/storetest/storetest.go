// Package storetest is the contract every presence.Store must meet. The
// memory store runs it in its tests; the Redis store runs the same
// function against a real Redis, so both decide member_added and
// member_removed alike.
//
// It imports presence and the standard library (testing included, which is
// why it is a package of its own rather than a _test file).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/quaver-dev/quaver/presence"
)

// RunStoreContract runs the contract as subtests of t. newStore must return
// an empty store for each call; it may register cleanups on the t it gets.
func RunStoreContract(t *testing.T, newStore func(t *testing.T) presence.Store) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, s presence.Store)
	}{
		{"FirstAndLastAcrossSocketsOfOneUser", testFirstAndLast},
		{"DoubleJoinIsNoOp", testDoubleJoin},
		{"LeaveUnknownSocket", testLeaveUnknown},
		{"MembersAreDistinctUsers", testMembersDistinct},
		{"CountsPerChannelAndApp", testCounts},
		{"EmptyChannel", testEmptyChannel},
		{"LimitRefusesNewUsersOnly", testLimit},
		{"NoLimit", testNoLimit},
		{"RejoinAfterLeaving", testRejoin},
		{"Concurrent", testConcurrent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, newStore(t)) })
	}
}

const app, room = "app", "presence-room"

func join(t *testing.T, s presence.Store, channel, socket, user string, limit int) bool {
	t.Helper()
	first, err := s.Join(t.Context(), app, channel, socket, presence.Member{UserID: user, Info: `{"name":"` + user + `"}`}, limit)
	if err != nil {
		t.Fatalf("Join(%s, %s as %s): %v", channel, socket, user, err)
	}
	return first
}

func leave(t *testing.T, s presence.Store, channel, socket string) (presence.Member, bool) {
	t.Helper()
	m, last, err := s.Leave(t.Context(), app, channel, socket)
	if err != nil {
		t.Fatalf("Leave(%s, %s): %v", channel, socket, err)
	}
	return m, last
}

func count(t *testing.T, s presence.Store, a, channel string) int {
	t.Helper()
	n, err := s.Count(t.Context(), a, channel)
	if err != nil {
		t.Fatalf("Count(%s, %s): %v", a, channel, err)
	}
	return n
}

// userIDs returns the sorted user ids of the channel's members; the store
// may list them in any order.
func userIDs(t *testing.T, s presence.Store, a, channel string) []string {
	t.Helper()
	members, err := s.Members(t.Context(), a, channel)
	if err != nil {
		t.Fatalf("Members(%s, %s): %v", a, channel, err)
	}
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.UserID
	}
	slices.Sort(ids)
	return ids
}

func testFirstAndLast(t *testing.T, s presence.Store) {
	steps := []struct {
		name, op, socket, user string
		want                   bool // first for joins, last for leaves
		wantCount              int
	}{
		{"alice's first socket", "join", "1.1", "alice", true, 1},
		{"alice's second socket", "join", "1.2", "alice", false, 1},
		{"bob", "join", "2.1", "bob", true, 2},
		{"alice's third socket", "join", "1.3", "alice", false, 2},
		{"alice leaves one socket", "leave", "1.2", "alice", false, 2},
		{"alice leaves another", "leave", "1.1", "alice", false, 2},
		{"alice's last socket", "leave", "1.3", "alice", true, 1},
		{"bob's only socket", "leave", "2.1", "bob", true, 0},
	}
	for _, st := range steps {
		var got bool
		if st.op == "join" {
			got = join(t, s, room, st.socket, st.user, 0)
		} else {
			var m presence.Member
			m, got = leave(t, s, room, st.socket)
			if m.UserID != st.user || m.Info != `{"name":"`+st.user+`"}` {
				t.Fatalf("%s: Leave returned member %+v, want %s", st.name, m, st.user)
			}
		}
		if got != st.want {
			t.Fatalf("%s: %s reported %v, want %v", st.name, st.op, got, st.want)
		}
		if n := count(t, s, app, room); n != st.wantCount {
			t.Fatalf("%s: Count = %d, want %d", st.name, n, st.wantCount)
		}
	}
}

func testDoubleJoin(t *testing.T, s presence.Store) {
	if !join(t, s, room, "1.1", "alice", 0) {
		t.Fatal("first join did not report first")
	}
	if join(t, s, room, "1.1", "alice", 0) {
		t.Fatal("joining twice with one socket reported first again")
	}
	if n := count(t, s, app, room); n != 1 {
		t.Fatalf("Count = %d after a double join, want 1", n)
	}
	// The second join recorded nothing, so one leave removes the user.
	if _, last := leave(t, s, room, "1.1"); !last {
		t.Fatal("one leave after a double join did not report last")
	}
	if n := count(t, s, app, room); n != 0 {
		t.Fatalf("Count = %d, want 0", n)
	}
}

func testLeaveUnknown(t *testing.T, s presence.Store) {
	join(t, s, room, "1.1", "alice", 0)
	tests := []struct{ name, channel, socket string }{
		{"unknown socket", room, "9.9"},
		{"unknown channel", "presence-nowhere", "1.1"},
	}
	for _, tt := range tests {
		m, last := leave(t, s, tt.channel, tt.socket)
		if last || m != (presence.Member{}) {
			t.Fatalf("%s: Leave = %+v, %v; want zero member, false", tt.name, m, last)
		}
	}
	if _, last := leave(t, s, room, "1.1"); !last {
		t.Fatal("alice's socket was disturbed by the unknown leaves")
	}
	if m, last := leave(t, s, room, "1.1"); last || m != (presence.Member{}) {
		t.Fatalf("leaving twice = %+v, %v; want zero member, false", m, last)
	}
}

func testMembersDistinct(t *testing.T, s presence.Store) {
	join(t, s, room, "1.1", "alice", 0)
	join(t, s, room, "1.2", "alice", 0)
	join(t, s, room, "2.1", "bob", 0)
	join(t, s, room, "3.1", "carol", 0)
	join(t, s, room, "3.2", "carol", 0)
	if got, want := userIDs(t, s, app, room), []string{"alice", "bob", "carol"}; !slices.Equal(got, want) {
		t.Fatalf("Members = %v, want %v", got, want)
	}
	members, err := s.Members(t.Context(), app, room)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if m.Info != `{"name":"`+m.UserID+`"}` {
			t.Fatalf("member %s has info %q", m.UserID, m.Info)
		}
	}
	leave(t, s, room, "1.1")
	if got, want := userIDs(t, s, app, room), []string{"alice", "bob", "carol"}; !slices.Equal(got, want) {
		t.Fatalf("after alice left one socket Members = %v, want %v", got, want)
	}
	leave(t, s, room, "1.2")
	if got, want := userIDs(t, s, app, room), []string{"bob", "carol"}; !slices.Equal(got, want) {
		t.Fatalf("after alice left Members = %v, want %v", got, want)
	}
}

func testCounts(t *testing.T, s presence.Store) {
	join(t, s, "presence-a", "1.1", "alice", 0)
	join(t, s, "presence-a", "1.2", "alice", 0)
	join(t, s, "presence-a", "2.1", "bob", 0)
	join(t, s, "presence-b", "1.1", "alice", 0)
	if _, err := s.Join(t.Context(), "other-app", "presence-a", "1.1", presence.Member{UserID: "zed"}, 0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		app, channel string
		want         int
	}{
		{app, "presence-a", 2},
		{app, "presence-b", 1},
		{"other-app", "presence-a", 1},
		{app, "presence-c", 0},
	}
	for _, tt := range tests {
		if n := count(t, s, tt.app, tt.channel); n != tt.want {
			t.Errorf("Count(%s, %s) = %d, want %d", tt.app, tt.channel, n, tt.want)
		}
	}
	if got := userIDs(t, s, "other-app", "presence-a"); !slices.Equal(got, []string{"zed"}) {
		t.Errorf("other app's members = %v", got)
	}
	// Leaving one channel does not touch the same socket elsewhere.
	if _, last := leave(t, s, "presence-b", "1.1"); !last {
		t.Error("leaving presence-b did not report last")
	}
	if n := count(t, s, app, "presence-a"); n != 2 {
		t.Errorf("presence-a Count = %d after leaving presence-b, want 2", n)
	}
}

func testEmptyChannel(t *testing.T, s presence.Store) {
	if n := count(t, s, app, room); n != 0 {
		t.Fatalf("Count = %d", n)
	}
	if ids := userIDs(t, s, app, room); len(ids) != 0 {
		t.Fatalf("Members = %v", ids)
	}
	join(t, s, room, "1.1", "alice", 0)
	leave(t, s, room, "1.1")
	if n, ids := count(t, s, app, room), userIDs(t, s, app, room); n != 0 || len(ids) != 0 {
		t.Fatalf("after everyone left: Count %d, Members %v", n, ids)
	}
}

func testLimit(t *testing.T, s presence.Store) {
	const limit = 2
	join(t, s, room, "1.1", "alice", limit)
	join(t, s, room, "2.1", "bob", limit)
	_, err := s.Join(t.Context(), app, room, "3.1", presence.Member{UserID: "carol"}, limit)
	if !errors.Is(err, presence.ErrFull) {
		t.Fatalf("third user joined a channel limited to 2: err = %v", err)
	}
	if n := count(t, s, app, room); n != limit {
		t.Fatalf("Count = %d after a refused join, want %d", n, limit)
	}
	// An existing user may add sockets to a full channel.
	if first, err := s.Join(t.Context(), app, room, "1.2", presence.Member{UserID: "alice"}, limit); err != nil || first {
		t.Fatalf("alice's second socket in a full channel: first=%v err=%v", first, err)
	}
	// The refused socket is not in the channel.
	if m, last := leave(t, s, room, "3.1"); last || m.UserID != "" {
		t.Fatalf("refused socket left as %+v, last=%v", m, last)
	}
	// Room again once a user leaves.
	leave(t, s, room, "2.1")
	if !join(t, s, room, "3.1", "carol", limit) {
		t.Fatal("carol could not join after bob left")
	}
	if got := userIDs(t, s, app, room); !slices.Equal(got, []string{"alice", "carol"}) {
		t.Fatalf("Members = %v", got)
	}
}

func testNoLimit(t *testing.T, s presence.Store) {
	for _, limit := range []int{0, -1} {
		ch := fmt.Sprintf("presence-unlimited%d", limit)
		for i := range 150 {
			join(t, s, ch, fmt.Sprintf("%d.1", i), fmt.Sprintf("user%d", i), limit)
		}
		if n := count(t, s, app, ch); n != 150 {
			t.Fatalf("limit %d: Count = %d, want 150", limit, n)
		}
	}
}

func testRejoin(t *testing.T, s presence.Store) {
	for round := range 3 {
		if !join(t, s, room, "1.1", "alice", 1) {
			t.Fatalf("round %d: join did not report first", round)
		}
		if _, last := leave(t, s, room, "1.1"); !last {
			t.Fatalf("round %d: leave did not report last", round)
		}
	}
}

// testConcurrent has many sockets of a few users join and leave at once;
// for every user, first and last must each be reported exactly as often
// as the user went from absent to present and back, which with balanced
// joins and leaves means equally often.
func testConcurrent(t *testing.T, s presence.Store) {
	const users, socketsPerUser, rounds = 4, 6, 20
	var mu sync.Mutex
	firsts, lasts := map[string]int{}, map[string]int{}
	var wg sync.WaitGroup
	errs := make(chan error, users*socketsPerUser)
	for u := range users {
		for k := range socketsPerUser {
			wg.Add(1)
			go func() {
				defer wg.Done()
				user := fmt.Sprintf("user%d", u)
				socket := fmt.Sprintf("%d.%d", u, k)
				ctx := context.Background()
				for range rounds {
					first, err := s.Join(ctx, app, room, socket, presence.Member{UserID: user}, 0)
					if err != nil {
						errs <- err
						return
					}
					m, last, err := s.Leave(ctx, app, room, socket)
					if err != nil {
						errs <- err
						return
					}
					if m.UserID != user {
						errs <- fmt.Errorf("socket %s left as %q", socket, m.UserID)
						return
					}
					mu.Lock()
					if first {
						firsts[user]++
					}
					if last {
						lasts[user]++
					}
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for u := range users {
		user := fmt.Sprintf("user%d", u)
		if firsts[user] == 0 || firsts[user] != lasts[user] {
			t.Errorf("%s: %d firsts, %d lasts; want equal and non-zero", user, firsts[user], lasts[user])
		}
	}
	if n := count(t, s, app, room); n != 0 {
		t.Errorf("Count = %d after every socket left", n)
	}
	if ids := userIDs(t, s, app, room); len(ids) != 0 {
		t.Errorf("Members = %s after every socket left", strings.Join(ids, ","))
	}
}
