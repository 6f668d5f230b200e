//go:build linux

package connection

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/quaver-dev/quaver/protocol"
)

// The netpoll transport serves plain-TCP WebSockets without a goroutine per
// connection. A few poll loops wait on epoll instances (themselves parked in
// the Go runtime's poller, so waiting costs no thread), read each ready
// socket once, and parse frames with a frameReader. Messages go to a short
// inbox drained by a goroutine that lives only while there is something to
// process, so a connection's messages are handled in order and a slow
// handler (Redis) never holds up the loop. Writes are the writer pool's
// non-blocking writes; a full socket waits for EPOLLOUT instead of a
// goroutine. An idle connection is a socket, an epoll entry and a few
// hundred bytes.

// inboxPause is how many unprocessed messages a connection may have before
// its socket stops being read, so a flood pushes back on the client (TCP
// flow control) instead of growing memory.
const inboxPause = 256

// poller owns the poll loops.
type poller struct {
	loops        []*pollLoop
	next         atomic.Uint32
	ids          atomic.Uint64
	writeTimeout time.Duration
}

type pollLoop struct {
	epfd int
	file *os.File // epfd in the Go runtime's poller

	mu    sync.Mutex // guards conns
	conns map[uint64]*tcpTransport
}

func newPoller(loops int, writeTimeout time.Duration) (*poller, error) {
	p := &poller{writeTimeout: writeTimeout}
	for range max(loops, 1) {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err == nil {
			err = syscall.SetNonblock(epfd, true)
		}
		if err != nil {
			p.close()
			return nil, err
		}
		p.loops = append(p.loops, &pollLoop{epfd: epfd, file: os.NewFile(uintptr(epfd), "epoll"), conns: map[uint64]*tcpTransport{}})
	}
	return p, nil
}

func (p *poller) close() {
	for _, l := range p.loops {
		_ = l.file.Close()
	}
}

// run serves the loops until ctx ends.
func (p *poller) run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, l := range p.loops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.run(ctx, p.writeTimeout)
		}()
	}
	wg.Wait()
}

// add registers a transport with a loop, which starts reading it.
func (p *poller) add(t *tcpTransport) error {
	l := p.loops[p.next.Add(1)%uint32(len(p.loops))]
	t.loop = l
	t.id = p.ids.Add(1)
	l.mu.Lock()
	l.conns[t.id] = t
	l.mu.Unlock()
	t.fdMu.Lock()
	defer t.fdMu.Unlock()
	t.interest = syscall.EPOLLIN | syscall.EPOLLRDHUP
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, t.fd, t.event()); err != nil {
		l.remove(t.id)
		return err
	}
	return nil
}

func (l *pollLoop) remove(id uint64) {
	l.mu.Lock()
	delete(l.conns, id)
	l.mu.Unlock()
}

func (l *pollLoop) lookup(id uint64) *tcpTransport {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.conns[id]
}

// run waits for socket events and dispatches them. Once a second it also
// closes connections whose peer stopped reading for longer than the write
// timeout.
func (l *pollLoop) run(ctx context.Context, writeTimeout time.Duration) {
	raw, err := l.file.SyscallConn()
	if err != nil {
		return
	}
	stop := context.AfterFunc(ctx, func() { _ = l.file.SetReadDeadline(time.Now()) })
	defer stop()
	events := make([]syscall.EpollEvent, 128)
	scratch := make([]byte, 32<<10)
	nextSweep := time.Now().Add(time.Second)
	// The wait ends at the next sweep: the deadline changes once a second,
	// not on every wake-up.
	_ = l.file.SetReadDeadline(nextSweep)
	for ctx.Err() == nil {
		n := 0
		err := raw.Read(func(fd uintptr) bool {
			var werr error
			n, werr = syscall.EpollWait(int(fd), events, 0)
			return n > 0 || (werr != nil && werr != syscall.EINTR)
		})
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			return
		}
		for _, ev := range events[:max(n, 0)] {
			t := l.lookup(uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32)
			if t == nil {
				continue // closed after the event was queued
			}
			if ev.Events&syscall.EPOLLOUT != 0 {
				t.writable()
			}
			if ev.Events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
				t.readable(scratch)
			}
		}
		if now := time.Now(); !now.Before(nextSweep) {
			l.sweepStalled(now, writeTimeout)
			nextSweep = now.Add(time.Second)
			if ctx.Err() == nil { // shutdown's deadline (now) stands
				_ = l.file.SetReadDeadline(nextSweep)
			}
		}
	}
}

// sweepStalled closes connections whose socket has taken nothing for longer
// than timeout: the peer is gone or stopped reading. A peer that reads,
// however slowly, is not stalled: the kernel lets the writer know only
// once much of the socket's buffer is free, so progress is read from the
// socket's unsent bytes at each sweep.
func (l *pollLoop) sweepStalled(now time.Time, timeout time.Duration) {
	for _, t := range l.stalled(now, timeout) {
		t.conn.noteStalled(timeout)
		t.peerGone("write timeout")
	}
}

// stalled returns the connections whose peer has taken nothing for longer
// than timeout, as of now.
func (l *pollLoop) stalled(now time.Time, timeout time.Duration) []*tcpTransport {
	var stalled []*tcpTransport
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, t := range l.conns {
		since := t.stalledSince.Load()
		if since == 0 {
			continue
		}
		unsent, ok := t.unsent()
		w := &t.watch
		switch {
		case w.since != since: // a new stall
			*w = stallWatch{since: since, unsent: unsent, progress: since}
		case ok && unsent < w.unsent:
			w.unsent, w.progress = unsent, now.UnixNano()
		}
		if now.UnixNano()-w.progress > int64(timeout) {
			stalled = append(stalled, t)
		}
	}
	return stalled
}

// stallWatch is what the sweep last saw of a stalled socket; only the poll
// loop uses it.
type stallWatch struct {
	since    int64 // the stall it watches (tcpTransport.stalledSince)
	unsent   int   // bytes in the socket's send queue
	progress int64 // when the peer last took bytes (Unix nanoseconds)
}

// tcpTransport is one WebSocket on a plain TCP socket, served by a poll
// loop. It satisfies Transport and the writer pool's writer.
type tcpTransport struct {
	conn    *Conn
	loop    *pollLoop
	id      uint64
	writers *writerPool

	fdMu     sync.Mutex // guards fd validity (closed) and interest; held for each system call on fd
	fd       int
	closed   bool
	interest uint32

	// frames is used by the poll loop only.
	frames frameReader
	// enc is how frames are written, as negotiated in the handshake.
	enc encoding

	// pending is what a write left unwritten when the socket was full; the
	// active writer (there is one at a time) owns it.
	pending      []byte
	stalledSince atomic.Int64 // Unix nanoseconds the socket has been full since; 0 if not
	watch        stallWatch

	inbox inbox
}

func (t *tcpTransport) Name() string { return "ws" }
func (t *tcpTransport) Wake()        { t.writers.schedule(t) }
func (t *tcpTransport) finishes()    {}

func (t *tcpTransport) event() *syscall.EpollEvent {
	return &syscall.EpollEvent{Events: t.interest, Fd: int32(uint32(t.id)), Pad: int32(uint32(t.id >> 32))}
}

// setInterest changes the socket events the loop waits for.
func (t *tcpTransport) setInterest(add, remove uint32) {
	t.fdMu.Lock()
	defer t.fdMu.Unlock()
	if t.closed {
		return
	}
	next := t.interest&^remove | add
	if next == t.interest {
		return
	}
	t.interest = next
	_ = syscall.EpollCtl(t.loop.epfd, syscall.EPOLL_CTL_MOD, t.fd, t.event())
}

// readable reads what the socket has and parses it; it runs on the loop.
func (t *tcpTransport) readable(scratch []byte) {
	t.fdMu.Lock()
	if t.closed {
		t.fdMu.Unlock()
		return
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_READ, uintptr(t.fd), uintptr(unsafe.Pointer(&scratch[0])), uintptr(len(scratch)))
	t.fdMu.Unlock()
	switch {
	case errno == syscall.EAGAIN || errno == syscall.EINTR:
		return
	case errno != 0:
		t.peerGone("read failed: " + errno.Error())
		return
	case n == 0:
		t.peerGone("the client closed the connection")
		return
	}
	if err := t.frames.feed(scratch[:n], t); err != nil {
		var fe *frameError
		if errors.As(err, &fe) {
			go t.conn.closeProtocol(fe.code, fe.reason) // see peerGone
		}
		t.setInterest(0, syscall.EPOLLIN)
	}
}

// message is the frameReader's hand-off of a complete message.
func (t *tcpTransport) message(opcode byte, payload []byte) {
	if t.inbox.push(opcode, payload, t) >= inboxPause {
		t.setInterest(0, syscall.EPOLLIN)
	}
}

// control handles ping, pong and close frames from the client.
func (t *tcpTransport) control(opcode byte, payload []byte) {
	switch opcode {
	case opPing:
		t.conn.Touch()
		t.conn.enqueue(protocol.NewWireFrame(slotWebSocket, appendControlFrame(nil, opPong, payload)))
	case opPong:
		t.conn.Touch()
	case opClose:
		code := uint16(closeNormal)
		if len(payload) >= 2 {
			code = binary.BigEndian.Uint16(payload)
		}
		go t.conn.closeProtocol(code, "") // see peerGone
		t.setInterest(0, syscall.EPOLLIN)
	}
}

// peerGone ends the connection after the peer closed or vanished. The
// cleanup (leaving channels, presence and its member_removed, through
// Redis when there is one) runs on its own goroutine: the poll loop and
// the writers, which call this, must never wait on Redis.
func (t *tcpTransport) peerGone(reason string) {
	t.shutdown()
	go t.conn.TransportClosed(reason)
}

// writable resumes a writer that waited for room in the socket.
func (t *tcpTransport) writable() {
	t.setInterest(0, syscall.EPOLLOUT)
	t.writers.schedule(t)
}

// writeSome writes pending bytes, then a few batches of queued frames,
// without blocking. A full socket parks the rest until EPOLLOUT.
func (t *tcpTransport) writeSome(p *writerPool, b *writeBatch) {
	for range batchesPerTurn {
		out := t.pending
		if len(out) == 0 {
			buf, closing := b.gather(t.conn, t.enc)
			if buf == nil {
				if closing != nil {
					t.sendClose(closing)
				}
				return
			}
			out = buf
		}
		n, errno := t.write(out)
		switch {
		case errno == 0 && n == len(out):
			t.pending = nil // a connection that is not behind keeps no buffer
			t.stalledSince.Store(0)
		case errno == 0 || errno == syscall.EAGAIN:
			t.pending = append(t.pending[:0], out[n:]...)
			// The stall clock starts when the socket fills, and again
			// whenever the peer has taken some of it.
			if n > 0 || t.stalledSince.Load() == 0 {
				t.stalledSince.Store(time.Now().UnixNano())
			}
			t.setInterest(syscall.EPOLLOUT, 0)
			return
		default:
			t.peerGone("write failed: " + errno.Error())
			return
		}
	}
	p.schedule(t)
}

// unsent returns the bytes in the socket's send queue (TIOCOUTQ), false if
// the socket is closed.
func (t *tcpTransport) unsent() (int, bool) {
	t.fdMu.Lock()
	defer t.fdMu.Unlock()
	if t.closed {
		return 0, false
	}
	var n int32
	if _, _, errno := syscall.RawSyscall(syscall.SYS_IOCTL, uintptr(t.fd), syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&n))); errno != 0 {
		return 0, false
	}
	return int(n), true
}

// write is one non-blocking write(2), unless the socket is closed.
func (t *tcpTransport) write(p []byte) (int, syscall.Errno) {
	t.fdMu.Lock()
	defer t.fdMu.Unlock()
	if t.closed {
		return 0, syscall.EPIPE
	}
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(t.fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), 0
}

// sendClose writes the close frame, if the socket takes it at once, and
// ends the connection; a peer that is not reading gets no close frame.
func (t *tcpTransport) sendClose(c *Closing) {
	if c.Code != 0 {
		_, _ = t.write(appendControlFrame(nil, opClose, closePayload(uint16(c.Code), c.Reason)))
	}
	t.shutdown()
}

// shutdown closes the socket once and takes the transport out of its loop.
func (t *tcpTransport) shutdown() {
	t.fdMu.Lock()
	if t.closed {
		t.fdMu.Unlock()
		return
	}
	t.closed = true
	if t.loop != nil {
		_ = syscall.EpollCtl(t.loop.epfd, syscall.EPOLL_CTL_DEL, t.fd, nil)
	}
	_ = syscall.Close(t.fd)
	t.fdMu.Unlock()
	if t.loop != nil {
		t.loop.remove(t.id)
	}
	t.stalledSince.Store(0)
	t.conn.TransportEnded()
}

// detachFD takes a socket away from the Go runtime: it returns a duplicate
// descriptor in non-blocking mode and closes the original, which the
// runtime's poller then forgets.
func detachFD(c net.Conn) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, errors.New("connection has no descriptor")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	var dupErr error
	if err := raw.Control(func(orig uintptr) {
		fd, dupErr = syscall.Dup(int(orig))
	}); err != nil {
		return -1, err
	}
	if dupErr != nil {
		return -1, dupErr
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		_ = syscall.Close(fd)
		return -1, err
	}
	_ = c.Close()
	return fd, nil
}

// inbox queues a connection's messages for a processor goroutine that
// exists only while there are messages, so they are handled in order
// without a goroutine per idle connection.
type inbox struct {
	mu      sync.Mutex // guards msgs and running
	msgs    []inboundMessage
	running bool
}

type inboundMessage struct {
	opcode  byte
	payload []byte
}

// push copies a message into the inbox, starts a processor if none runs,
// and returns the number of messages waiting.
func (q *inbox) push(opcode byte, payload []byte, t *tcpTransport) int {
	msg := inboundMessage{opcode: opcode, payload: append([]byte(nil), payload...)}
	q.mu.Lock()
	q.msgs = append(q.msgs, msg)
	n := len(q.msgs)
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if start {
		go q.process(t)
	}
	return n
}

func (q *inbox) process(t *tcpTransport) {
	var batch []inboundMessage
	for {
		q.mu.Lock()
		batch, q.msgs = q.msgs, batch[:0]
		if len(batch) == 0 {
			q.running = false
			q.msgs = nil
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		for i, m := range batch {
			t.conn.receiveWebSocket(m.opcode == opBinary, t.enc.msgpack, m.payload)
			batch[i] = inboundMessage{}
		}
		// A paused socket (flood) is read again once its backlog is gone.
		t.setInterest(syscall.EPOLLIN, 0)
	}
}

// newPollerIfSupported starts poll loops, or returns nil (and gws serves
// every connection) if the system refuses them.
func newPollerIfSupported(loops int, writeTimeout time.Duration, log *slog.Logger) *poller {
	p, err := newPoller(loops, writeTimeout)
	if err != nil {
		log.Warn("poll loops unavailable; serving each connection with its own goroutine", "err", err)
		return nil
	}
	return p
}
