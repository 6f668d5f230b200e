package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/protocol"
)

func TestSplitSlow(t *testing.T) {
	fast, slow := splitSlow(500, 100)
	if len(fast) != 400 || len(slow) != 100 || slow[0] != 4 || slow[1] != 9 || slow[99] != 499 {
		t.Fatalf("500 streams, 100 slow: %d fast, slow %v", len(fast), slow)
	}
	if fast, slow := splitSlow(10, 0); len(fast) != 10 || len(slow) != 0 {
		t.Fatalf("none slow: %v %v", fast, slow)
	}
	if fast, slow := splitSlow(3, 3); len(fast) != 0 || len(slow) != 3 {
		t.Fatalf("all slow: %v %v", fast, slow)
	}
}

func TestTokenPayload(t *testing.T) {
	data, delta := tokenPayload(7, 1234, 60)
	tok, ok := protocol.ParseToken(data)
	if !ok || tok.Stream != "7" || tok.Seq != 1234 || len(tok.Delta) != delta {
		t.Fatalf("%s: token %+v, delta %d", data, tok, delta)
	}
	if len(data) != 60 {
		t.Fatalf("%s is %d bytes, want 60", data, len(data))
	}
	var v struct{ T int64 }
	if err := json.Unmarshal([]byte(data), &v); err != nil || time.Since(time.Unix(0, v.T)) > time.Minute {
		t.Fatalf("%s: t %d, %v", data, v.T, err)
	}
}

// A slow subscriber's frames as the server writes them: tokens one by one,
// then one merged event (no "t"), whose latency is its oldest token's, and
// the close.
func TestSlowSubscriberTally(t *testing.T) {
	sub := &slowSubscriber{}
	sub.lastSeq.Store(-1)
	sub.closeCode.Store(-1)
	s := &slowFleet{sentAt: [][]atomic.Int64{make([]atomic.Int64, 10)}, subs: []*slowSubscriber{sub}}
	frame := func(seq int64) *protocol.Frame {
		data, _ := tokenPayload(0, seq, 60)
		f := protocol.NewFrame("token", "bench-stream-0", data, protocol.DataString, "")
		f.Token, _ = protocol.ParseToken(data)
		s.sentAt[0][seq].Store(time.Now().Add(-time.Second).UnixNano())
		return f
	}
	var want int64
	for seq := range int64(2) {
		f := frame(seq)
		want += int64(len(f.Token.Delta))
		s.onFrame(sub, f.JSON)
	}
	m := protocol.NewTokenMerge(frame(2))
	for seq := int64(3); seq < 6; seq++ {
		f := frame(seq)
		m.Add(f, m.Growth(f))
	}
	merged := m.Frame()
	want += int64(len(merged.Token.Delta))
	s.onFrame(sub, merged.JSON)
	s.onFrame(sub, protocol.ErrorFrame(4100, "too slow", "").JSON)
	s.onClose(sub, 4100)

	r := s.result([]int64{want}, []int64{5})
	if sub.frames != 3 || r.Merged != 1 || sub.deltaBytes != want || sub.lastSeq.Load() != 5 || sub.outOfOrder != 0 {
		t.Fatalf("frames %d, merged %d, delta bytes %d (want %d), last seq %d, out of order %d",
			sub.frames, r.Merged, sub.deltaBytes, want, sub.lastSeq.Load(), sub.outOfOrder)
	}
	if r.Latency.P99 < 900 || r.Closed4100 != 1 || r.Error4100 != 1 || r.Complete != 0 {
		t.Fatalf("result %+v: want the merged event a second late, one 4100 close with its error, none complete (closed)", r)
	}
	sub.closeCode.Store(-1)
	if r := s.result([]int64{want}, []int64{5}); r.Complete != 1 {
		t.Fatalf("an open subscriber with every token: %+v", r)
	}
}

func TestReadServerCounters(t *testing.T) {
	body := "# HELP quaver_tokens_coalesced_total x\n# TYPE quaver_tokens_coalesced_total counter\n" +
		"quaver_tokens_coalesced_total{app=\"a\"} 5\nquaver_tokens_coalesced_total{app=\"b\"} 7\n" +
		"quaver_slow_consumer_closes_total{app=\"a\"} 2\ngo_goroutines 12\n"
	quaver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(body)) }))
	defer quaver.Close()
	c, err := readServerCounters(context.Background(), []string{quaver.URL, quaver.URL + "/"})
	if err != nil || c.TokensCoalesced != 24 || c.SlowConsumerCloses != 4 {
		t.Fatalf("counters %+v, %v; want 24 and 4 over two nodes", c, err)
	}
	if d := c.since(&ServerCounters{TokensCoalesced: 4, quaver: true}); d == nil || d.TokensCoalesced != 20 || d.SlowConsumerCloses != 4 {
		t.Fatalf("since: %+v", d)
	}
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("go_goroutines 3\n")) }))
	defer other.Close()
	c, err = readServerCounters(context.Background(), []string{other.URL})
	if err != nil || c.since(c) != nil {
		t.Fatalf("a server without Quaver's metrics: %+v, %v", c, err)
	}
}
