package presence_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/quaver-dev/quaver/presence"
	"github.com/quaver-dev/quaver/presence/storetest"
)

func TestMemoryStoreContract(t *testing.T) {
	storetest.RunStoreContract(t, func(*testing.T) presence.Store { return presence.NewMemory() })
}

// BenchmarkJoinLeave joins and leaves one socket of one of 100 users in a
// channel that already holds 100 users.
func BenchmarkJoinLeave(b *testing.B) {
	s := presence.NewMemory()
	ctx := context.Background()
	for i := range 100 {
		if _, err := s.Join(ctx, "app", "presence-room", "base."+strconv.Itoa(i), presence.Member{UserID: "u" + strconv.Itoa(i), Info: `{"name":"x"}`}, 0); err != nil {
			b.Fatal(err)
		}
	}
	members := make([]presence.Member, 100)
	for i := range members {
		members[i] = presence.Member{UserID: "u" + strconv.Itoa(i), Info: `{"name":"x"}`}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m := members[i%len(members)]
		i++
		if _, err := s.Join(ctx, "app", "presence-room", "1.1", m, 0); err != nil {
			b.Fatal(err)
		}
		if _, _, err := s.Leave(ctx, "app", "presence-room", "1.1"); err != nil {
			b.Fatal(err)
		}
	}
}
