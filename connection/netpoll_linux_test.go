package connection

import (
	"net"
	"syscall"
	"testing"
	"time"
)

// TestStalledSparesSlowReaders: the write-timeout sweep closes a peer that
// takes nothing, but not one that reads slowly, although its socket stays
// full and the kernel does not report it writable.
func TestStalledSparesSlowReaders(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	_ = peer.(*net.TCPConn).SetReadBuffer(4096)
	served, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	fd, err := detachFD(served)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_SNDBUF, 16<<10)

	// Fill the socket, as a writer does before it parks.
	tr := &tcpTransport{fd: fd}
	chunk := make([]byte, 4096)
	for {
		if _, errno := tr.write(chunk); errno == syscall.EAGAIN {
			break
		} else if errno != 0 {
			t.Fatal(errno)
		}
	}
	start := time.Now()
	tr.stalledSince.Store(start.UnixNano())
	l := &pollLoop{conns: map[uint64]*tcpTransport{1: tr}}
	const timeout = 10 * time.Second
	at := func(d time.Duration) time.Time { return start.Add(d) }

	if got := l.stalled(at(time.Second), timeout); len(got) != 0 {
		t.Fatal("stalled one second into the stall")
	}
	// The peer reads a little: the socket is still full for the writer,
	// but its unsent bytes go down.
	before, _ := tr.unsent()
	buf := make([]byte, 8192)
	for deadline := time.Now().Add(5 * time.Second); ; {
		_ = peer.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = peer.Read(buf)
		if now, _ := tr.unsent(); now < before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the peer read, and the socket's %d unsent bytes did not go down", before)
		}
	}
	// The sweep at 9 s sees that it read.
	if got := l.stalled(at(9*time.Second), timeout); len(got) != 0 {
		t.Fatal("stalled before the timeout")
	}
	if got := l.stalled(at(15*time.Second), timeout); len(got) != 0 {
		t.Fatal("a peer that read 6 s ago counted as stalled")
	}
	// It reads no more: stalled once the timeout passes from the sweep
	// that saw it read.
	if got := l.stalled(at(18*time.Second), timeout); len(got) != 0 {
		t.Fatal("stalled less than the timeout after it last read")
	}
	if got := l.stalled(at(20*time.Second), timeout); len(got) != 1 {
		t.Fatal("not stalled the timeout after it last read")
	}
}
