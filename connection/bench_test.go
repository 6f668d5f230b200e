package connection

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/quaver-dev/quaver/protocol"
)

// drainTransport drains its outbox on Wake in a goroutine, like the
// WebSocket transport, and discards the frames, counting them.
type drainTransport struct {
	conn    *Conn
	written *atomic.Int64
	batch   sync.Pool
}

func (t *drainTransport) Name() string { return "bench" }
func (t *drainTransport) Abort()       {}
func (t *drainTransport) Wake()        { go t.flush() }

func (t *drainTransport) flush() {
	b, _ := t.batch.Get().(*[]*protocol.Frame)
	if b == nil {
		b = new([]*protocol.Frame)
	}
	defer t.batch.Put(b)
	for {
		frames, _ := t.conn.Take((*b)[:0], 64<<10)
		if len(frames) == 0 {
			return
		}
		t.written.Add(int64(len(frames)))
		clear(frames)
		*b = frames
	}
}

func benchmarkBroadcastToConns(b *testing.B, n int) {
	h := newHarness(b)
	var written atomic.Int64
	for range n {
		tr := &drainTransport{written: &written}
		c, failure := h.hub.Admit(h.app, tr)
		if failure != nil {
			b.Fatal(failure)
		}
		tr.conn = c
		c.Open()
		subscribe(b, c, "my-channel", "")
	}
	eventually(b, "the handshakes are written", func() bool { return written.Load() == int64(2*n) })
	f := protocol.NewFrame("order-shipped", "my-channel", `{"order":{"id":1,"total":"9.99"}}`, protocol.DataString, "")
	b.ReportAllocs()
	b.ResetTimer()
	ops := int64(0)
	for b.Loop() {
		if sent := h.registry.Broadcast(testAppID, "my-channel", f, ""); sent != n {
			b.Fatalf("sent to %d of %d", sent, n)
		}
		ops++
		// Let the writers keep up, as they would between real events; the
		// wait is part of the cost of delivering.
		want := int64(2*n) + ops*int64(n)
		for written.Load() < want {
			if h.hub.total() != n {
				b.Fatal("a connection was closed")
			}
			runtime.Gosched()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ops)/float64(n), "ns/conn")
}

func BenchmarkBroadcastToConns1k(b *testing.B)  { benchmarkBroadcastToConns(b, 1_000) }
func BenchmarkBroadcastToConns10k(b *testing.B) { benchmarkBroadcastToConns(b, 10_000) }
