//go:build linux

package client

import (
	"bufio"
	"context"
	"encoding/binary"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeServer accepts one WebSocket, sends connection_established, then
// whatever serve writes. It stands for a server that pushes as fast as the
// socket takes, so the fleet's reading alone decides the pace.
func fakeServer(t *testing.T, serve func(conn net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		req, err := http.ReadRequest(bufio.NewReader(conn))
		if err != nil {
			return
		}
		accept := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
			req.Header.Get("Sec-WebSocket-Key") + "\r\n\r\n" // the fleet does not check it
		_, _ = conn.Write([]byte(accept))
		_, _ = conn.Write(serverFrame(1, []byte(`{"event":"pusher:connection_established","data":"{\"socket_id\":\"1.1\",\"activity_timeout\":30}"}`)))
		serve(conn)
	}()
	return "ws://" + ln.Addr().String()
}

// serverFrame frames payload as a server does (unmasked).
func serverFrame(opcode byte, payload []byte) []byte {
	b := []byte{0x80 | opcode}
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n < 1<<16:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 127), uint64(n))
	}
	return append(b, payload...)
}

func runFleet(t *testing.T) *Fleet {
	t.Helper()
	f, err := NewFleet(1)
	if err != nil {
		t.Fatal(err)
	}
	f.Start()
	t.Cleanup(f.Close)
	return f
}

// A throttled connection reads at its rate however fast the server sends;
// a stopped one reads nothing, and once unthrottled it reads everything
// that waited, in order, then the close code.
func TestFleetThrottle(t *testing.T) {
	const frame = 1000
	payload := []byte(strings.Repeat("x", frame-4))
	const total = 400 // frames: 400 kB, far more than the kernels buffer
	url := fakeServer(t, func(conn net.Conn) {
		for range total {
			if _, err := conn.Write(serverFrame(1, payload)); err != nil {
				return
			}
		}
		_, _ = conn.Write(serverFrame(8, []byte{0x10, 0x04})) // 4100
	})
	f := runFleet(t)
	var bytes, frames atomic.Int64
	closed := make(chan int, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	opts := SlowReaderSocket
	opts.OnFrame = func(raw []byte) { frames.Add(1); bytes.Add(int64(len(raw) + 4)) }
	opts.OnClose = func(code int) { closed <- code }
	id, _, err := f.DialWith(ctx, url, "key", opts)
	if err != nil {
		t.Fatal(err)
	}
	f.Throttle(id, 20_000)
	time.Sleep(200 * time.Millisecond) // a burst's worth may have gone before the limit
	start, before := time.Now(), bytes.Load()
	time.Sleep(time.Second)
	rate := float64(bytes.Load()-before) / time.Since(start).Seconds()
	t.Logf("throttled read rate %.0f B/s", rate)
	if rate < 12_000 || rate > 28_000 {
		t.Fatalf("read %.0f B/s throttled to 20,000 B/s", rate)
	}

	f.Throttle(id, 0)
	time.Sleep(100 * time.Millisecond) // what was being read lands
	stopped := bytes.Load()
	time.Sleep(500 * time.Millisecond)
	if got := bytes.Load(); got != stopped {
		t.Fatalf("a stopped connection read %d bytes", got-stopped)
	}

	f.Unthrottle(id)
	select {
	case code := <-closed:
		if code != 4100 {
			t.Fatalf("close code %d, want 4100", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("not closed after unthrottling; %d of %d frames read", frames.Load(), total)
	}
	if n := frames.Load(); n != total {
		t.Fatalf("%d frames read, want %d", n, total)
	}
}
