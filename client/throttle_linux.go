//go:build linux

package client

import (
	"syscall"
	"time"
)

// Throttle limits the reading of connection i to bytesPerSecond, as a
// client on a slow network reads; 0 stops reading it altogether, as a
// frozen tab does. What the connection does not read stays in the kernel's
// buffers and then in the server's queue for it. Throttle may be called
// from any goroutine, OnFrame included, and again to change the limit.
func (f *Fleet) Throttle(i int, bytesPerSecond float64) {
	if c := f.conn(i); c != nil {
		c.throttle.set(true, bytesPerSecond, time.Now())
	}
}

// Unthrottle lets connection i read as fast as it can again.
func (f *Fleet) Unthrottle(i int) {
	if c := f.conn(i); c != nil {
		c.throttle.set(false, 0, time.Now())
	}
}

// conn returns connection i, or nil once the fleet is closed.
func (f *Fleet) conn(i int) *fleetConn {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i < 0 || i >= len(f.conns) {
		return nil
	}
	return f.conns[i]
}

// arm puts a connection in the reader's epoll set, or takes it out while
// its throttle forbids reading.
func (r *fleetReader) arm(c *fleetConn, on bool) {
	if !on {
		_ = syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
		return
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(c.fd)}
	_ = syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev)
}

// setSocketOptions applies a connection's socket options before connect.
func setSocketOptions(fd int, o FleetDialOptions) {
	if o.ReceiveBuffer > 0 {
		_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, o.ReceiveBuffer)
	}
	if o.MaxSegment > 0 {
		_ = syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, o.MaxSegment)
	}
}
