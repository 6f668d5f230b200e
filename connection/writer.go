package connection

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/quaver-dev/quaver/protocol"
)

// writerPool writes every WebSocket connection's queued frames from a few
// long-lived goroutines instead of one goroutine per connection and wake.
// Its writes never block: they are non-blocking write(2)s on the socket. A
// socket whose kernel buffer is full (a slow reader) waits aside, so one
// slow client never holds up the others: a poll loop's socket until epoll
// reports room (EPOLLOUT), a TLS socket in a goroutine of its own. This
// keeps a broadcast to thousands of connections close to the cost of the
// system calls themselves, and an idle connection costs no goroutine at
// all.
type writerPool struct {
	mu      sync.Mutex // guards queue, head and stop
	ready   *sync.Cond
	queue   []poolWriter
	head    int
	stop    bool
	timeout time.Duration
}

func newWriterPool(writeTimeout time.Duration) *writerPool {
	p := &writerPool{timeout: writeTimeout}
	p.ready = sync.NewCond(&p.mu)
	return p
}

// poolWriter is a transport the pool writes for. writeSome writes a few
// batches without blocking and either reschedules itself, parks until its
// socket has room, or finds its outbox empty.
type poolWriter interface {
	writeSome(p *writerPool, b *writeBatch)
}

// schedule queues a transport whose outbox has frames.
func (p *writerPool) schedule(t poolWriter) {
	p.mu.Lock()
	p.queue = append(p.queue, t)
	p.mu.Unlock()
	p.ready.Signal()
}

func (p *writerPool) next() poolWriter {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.head == len(p.queue) && !p.stop {
		p.ready.Wait()
	}
	if p.stop && p.head == len(p.queue) {
		return nil
	}
	t := p.queue[p.head]
	p.queue[p.head] = nil
	p.head++
	if p.head == len(p.queue) {
		p.queue, p.head = p.queue[:0], 0
	} else if p.head > 4096 && p.head > len(p.queue)/2 {
		p.queue = append(p.queue[:0], p.queue[p.head:]...)
		p.head = 0
	}
	return t
}

// run writes for queued transports until ctx ends, with workers goroutines.
func (p *writerPool) run(ctx context.Context, workers int) {
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.stop = true
		p.mu.Unlock()
		p.ready.Broadcast()
	})
	defer stop()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := newWriteBatch()
			for n := 1; ; n++ {
				t := p.next()
				if t == nil {
					return
				}
				t.writeSome(p, b)
				// Non-blocking writes never park the worker, so without this
				// it would hold its CPU for a whole time slice: incoming
				// requests would wait, and frames that arrive meanwhile could
				// not join the next write to the same socket.
				if n%yieldEvery == 0 {
					runtime.Gosched()
				}
			}
		}()
	}
	wg.Wait()
}

// writeBatch is a worker's reusable scratch space, including the state of
// its non-blocking writes, so that a write allocates nothing.
type writeBatch struct {
	frames []*protocol.Frame
	buf    []byte

	out      []byte // being written by write
	written  int
	writeErr error
	write    func(fd uintptr) bool
}

// gather takes c's next queued frames (up to maxBatch bytes) and frames
// them into b.buf in the encoding enc. It returns nil with the close to
// send when the outbox is drained.
func (b *writeBatch) gather(c *Conn, enc encoding) ([]byte, *Closing) {
	frames, closing := c.Take(b.frames[:0], maxBatch)
	if len(frames) == 0 {
		return nil, closing
	}
	b.frames = frames
	buf := b.buf[:0]
	for _, f := range frames {
		buf = enc.appendFrame(buf, f)
	}
	clear(frames)
	if cap(buf) <= 4*maxBatch { // one huge frame is not kept around
		b.buf = buf
	}
	return buf, nil
}

func newWriteBatch() *writeBatch {
	b := &writeBatch{}
	b.write = b.writeFD
	return b
}

// maxBatch bounds the bytes gathered into one write.
const maxBatch = 64 << 10

// yieldEvery is how many connections a worker writes to between yields.
const yieldEvery = 16

// batchesPerTurn is how many writes a connection gets before the worker
// moves on, so one busy connection cannot starve the rest.
const batchesPerTurn = 4

// writeSome writes a few batches without blocking, then requeues the
// transport if frames remain; a full socket moves it to a blocking writer.
func (t *wsTransport) writeSome(p *writerPool, b *writeBatch) {
	for range batchesPerTurn {
		buf, closing := b.gather(t.conn, t.enc)
		if buf == nil {
			if closing != nil {
				go t.sendClose(closing)
			}
			return
		}
		n, err := t.tryWrite(buf, b)
		switch {
		case err == nil:
			continue
		case errors.Is(err, syscall.EAGAIN):
			rest := append([]byte(nil), buf[n:]...)
			go t.flushBlocking(rest, p.timeout)
			return
		default:
			t.fail(err)
			return
		}
	}
	p.schedule(t)
}

// tryWrite writes buf with non-blocking write(2) calls on the socket until
// it is written or the kernel buffer is full (EAGAIN). Sockets without a
// file descriptor (TLS) report EAGAIN at once, which sends them to the
// blocking writer.
func (t *wsTransport) tryWrite(buf []byte, b *writeBatch) (int, error) {
	if t.raw == nil {
		return 0, syscall.EAGAIN
	}
	b.out, b.written, b.writeErr = buf, 0, nil
	err := t.raw.Write(b.write)
	n, werr := b.written, b.writeErr
	b.out = nil
	if err != nil {
		return n, err
	}
	return n, werr
}

// flushBlocking writes rest and then keeps draining the outbox with
// ordinary blocking writes under a deadline, in the connection's own
// goroutine, until the outbox is empty.
func (t *wsTransport) flushBlocking(rest []byte, timeout time.Duration) {
	b := newWriteBatch()
	for buf := rest; ; {
		if err := t.writeDeadlined(buf, timeout); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.conn.noteStalled(timeout)
			}
			t.fail(err)
			return
		}
		var closing *Closing
		if buf, closing = b.gather(t.conn, t.enc); buf == nil {
			_ = t.net.SetWriteDeadline(time.Time{})
			if closing != nil {
				t.sendClose(closing)
			}
			return
		}
	}
}

// blockingChunk is the most one blocking write sends under one deadline
// (a TLS record's worth): a peer that reads slowly but steadily renews the
// deadline with each chunk it takes, and only one that takes less than
// this in the write timeout is cut. A timed-out write cannot be resumed
// (crypto/tls refuses every write after one), so the deadline must not
// span a whole batch.
const blockingChunk = 16 << 10

// writeDeadlined writes buf in blockingChunk pieces, each under timeout.
func (t *wsTransport) writeDeadlined(buf []byte, timeout time.Duration) error {
	return writeChunked(t.net, t.net, buf, timeout)
}

// writeChunked writes buf to w in blockingChunk pieces, setting d's write
// deadline to timeout from the start of each: the blocking writes of TLS
// WebSockets and of HTTP fallback responses.
func writeChunked(w io.Writer, d interface{ SetWriteDeadline(time.Time) error }, buf []byte, timeout time.Duration) error {
	for len(buf) > 0 {
		chunk := buf[:min(len(buf), blockingChunk)]
		_ = d.SetWriteDeadline(time.Now().Add(timeout))
		if _, err := w.Write(chunk); err != nil {
			return err
		}
		buf = buf[len(chunk):]
	}
	return nil
}

// sendClose sends the WebSocket close frame; gws then closes the socket.
func (t *wsTransport) sendClose(c *Closing) {
	_ = t.net.SetWriteDeadline(time.Now().Add(time.Second))
	_ = t.socket.WriteClose(uint16(c.Code), []byte(c.Reason))
}

// fail ends the connection after a failed write; as in peerGone, the
// cleanup must not hold up the writer that calls it.
func (t *wsTransport) fail(err error) {
	_ = t.net.Close()
	go t.conn.TransportClosed("write failed: " + err.Error())
}

// rawConn returns the socket's file descriptor access, or nil when the
// connection has none (TLS).
func rawConn(c net.Conn) syscall.RawConn {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}
