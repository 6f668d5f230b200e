//go:build linux

package connection

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/metrics"
	"github.com/quaver-dev/quaver/protocol"
)

// socketPair returns two connected Unix stream sockets: the server end, as
// a net.Conn with a descriptor for non-blocking writes, and the peer's.
func socketPair(tb testing.TB) (server, peer net.Conn) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		tb.Fatal(err)
	}
	conns := make([]net.Conn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f)
		_ = f.Close()
		if err != nil {
			tb.Fatal(err)
		}
		conns[i] = c
	}
	tb.Cleanup(func() { _ = conns[0].Close(); _ = conns[1].Close() })
	return conns[0], conns[1]
}

// maxPairs bounds the socket pairs one benchmark opens: both ends live in
// this process, and the usual limit of 20000 open files must hold them.
// Beyond it, connections share sockets two by two; each still makes its
// own write(2), so the path measured is the same.
const maxPairs = 8000

// benchmarkBroadcastToConns broadcasts one frame to n connections through
// the real send path (Registry.Broadcast, Conn.Send, the outbox, the writer
// pool, WebSocket framing, non-blocking write(2) on a socket watched by a
// poll loop) and counts an op done when every peer has read the frame.
// The connections use enc, and the frame carries data. With measured, the
// hub keeps metrics and the frame is a timed token, so that every delivery
// is observed as in production.
func benchmarkBroadcastToConns(b *testing.B, n int, enc encoding, data string, measured bool) {
	h := newHarness(b, func(_ *apps.App, o *Options) {
		if measured {
			o.Metrics = metrics.New()
		}
	})
	pool := newWriterPool(time.Second)
	loops, err := newPoller(1, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { pool.run(ctx, 1); done <- struct{}{} }()
	go func() { loops.run(ctx); done <- struct{}{} }()
	b.Cleanup(func() { cancel(); <-done; <-done; loops.close() })

	var received atomic.Int64 // bytes read by all peers
	servers := make([]net.Conn, min(n, maxPairs))
	for i := range servers {
		server, peer := socketPair(b)
		servers[i] = server
		go func() {
			buf := make([]byte, 4096)
			for {
				m, err := peer.Read(buf)
				received.Add(int64(m))
				if err != nil {
					if err != io.EOF && !isClosed(err) {
						b.Error(err)
					}
					return
				}
			}
		}()
	}
	fds := make([]int, len(servers))
	for i, s := range servers {
		if fds[i], err = detachFD(s); err != nil {
			b.Fatal(err)
		}
	}
	for i := range n {
		t := &tcpTransport{fd: fds[i%len(fds)], writers: pool, enc: enc, frames: frameReader{maxMessage: 1 << 16}}
		if i >= len(fds) { // a shared socket is watched once
			t.fd, _ = syscall.Dup(fds[i%len(fds)])
		}
		c, failure := h.hub.Admit(h.app, t)
		if failure != nil {
			b.Fatal(failure)
		}
		t.conn = c
		c.Open()
		if err := loops.add(t); err != nil {
			b.Fatal(err)
		}
		subscribe(b, c, "my-channel", "")
	}
	f := protocol.NewFrame("order-shipped", "my-channel", data, protocol.DataString, "")
	if measured {
		f.Token = &protocol.Token{Stream: `"s"`, Seq: 1, First: true}
		f.Ingested, f.Source = time.Now().UnixNano(), protocol.SourceStream
	}
	frameBytes := int64(len(enc.appendFrame(nil, f)))
	// Wait for the handshake frames, whose size varies with the socket id.
	base := int64(0)
	eventually(b, "the handshakes are read", func() bool {
		now := received.Load()
		settled := now == base && now > 0
		base = now
		return settled
	})
	b.ReportAllocs()
	b.ResetTimer()
	ops := int64(0)
	for b.Loop() {
		if sent := h.registry.Broadcast(testAppID, "my-channel", f, ""); sent != n {
			b.Fatalf("sent to %d of %d", sent, n)
		}
		ops++
		for want := base + ops*int64(n)*frameBytes; received.Load() < want; {
			time.Sleep(50 * time.Microsecond)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(ops)/float64(n), "ns/conn")
}

func isClosed(err error) bool {
	ne, ok := err.(*net.OpError)
	return ok && ne.Err.Error() == "use of closed network connection"
}

const orderData = `{"order":{"id":1,"total":"9.99"}}`

func BenchmarkBroadcastToConns1k(b *testing.B) {
	benchmarkBroadcastToConns(b, 1_000, encoding{}, orderData, false)
}

// With the delivery metrics a production node keeps: latency, time to
// first token and token gaps observed for every delivery.
func BenchmarkBroadcastToConns1kMeasured(b *testing.B) {
	benchmarkBroadcastToConns(b, 1_000, encoding{}, orderData, true)
}

func BenchmarkBroadcastToConns10k(b *testing.B) {
	benchmarkBroadcastToConns(b, 10_000, encoding{}, orderData, false)
}

func BenchmarkBroadcastToConns1kMsgpack(b *testing.B) {
	benchmarkBroadcastToConns(b, 1_000, encoding{msgpack: true}, orderData, false)
}

// The deflate benchmarks send a 2 KiB event, which is compressed.
func BenchmarkBroadcastToConns1kDeflate(b *testing.B) {
	benchmarkBroadcastToConns(b, 1_000, encoding{deflate: newDeflater(512)}, largeOrderData(), false)
}

func BenchmarkBroadcastToConns1kMsgpackDeflate(b *testing.B) {
	benchmarkBroadcastToConns(b, 1_000, encoding{msgpack: true, deflate: newDeflater(512)}, largeOrderData(), false)
}

func largeOrderData() string {
	var s strings.Builder
	s.WriteString(`{"order":{"id":1,"items":[`)
	for i := range 30 {
		if i > 0 {
			s.WriteByte(',')
		}
		fmt.Fprintf(&s, `{"sku":"SKU-%04d","name":"Item number %d","qty":%d,"price":"%d.99"}`, i, i, i%3+1, i+5)
	}
	s.WriteString(`],"total":"123.45"}}`)
	return s.String()
}
