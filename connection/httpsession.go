package connection

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quaver-dev/quaver/protocol"
)

// slotHTTPFallback is the Frame encoding slot holding a frame's JSON text
// quoted as a JSON string, the element form of an "a[...]" line, so that a
// broadcast quotes it once for every HTTP session.
const slotHTTPFallback = protocol.MaxEncodings - 1

// rolloverChars is pusher-js's MAX_BUFFER_LENGTH: once a streaming
// response has delivered more than this many characters (UTF-16 code
// units) and the client has processed them all, it aborts the response and
// continues the session with a new request.
const rolloverChars = 256 * 1024

// maxLine bounds the frames taken into one "a[...]" line, and maxPoll the
// frames one poll answer carries.
const (
	maxLine = 64 << 10
	maxPoll = 256 << 10
)

// pongAfter is how long the receive side must have been silent for a
// client ping ([] on xhr_send) to be answered at once with "h". A streaming
// client also answers every "h" with [], which must not be answered again.
const pongAfter = 500 * time.Millisecond

// httpSession is one pusher-js HTTP fallback session: a Transport whose
// frames go out on whichever receive request is attached. At most one is:
// a newer request replaces the older (a poll is answered with "h", a
// stream that the client rolled over is let go). While none is attached,
// frames wait in the connection's outbox; after SessionTimeout without one
// the session ends as a dropped WebSocket would.
type httpSession struct {
	fallback *HTTPFallback
	id       string
	name     string
	conn     *Conn

	// lastWrite is when the receive side last wrote (Unix nanoseconds).
	lastWrite atomic.Int64

	mu       sync.Mutex // guards the fields below; taken after writeMu
	receiver *receiver
	done     bool
	expiry   *time.Timer
	// generation counts detaches, so a stale expiry timer does nothing.
	generation uint64

	// writeMu is held by the receiver taking from the outbox and writing,
	// so frames leave in order even while requests overlap.
	writeMu sync.Mutex
	// carry holds frames taken from the outbox whose write failed; the
	// next receive request sends them first. Guarded by writeMu.
	carry []*protocol.Frame
}

// receiver is one attached receive request.
type receiver struct {
	wake chan struct{} // the outbox has frames
	pong chan struct{} // the client pinged
	stop chan struct{} // closed when replaced or when the session ends
}

func (s *httpSession) Name() string { return s.name }

// finishes marks httpSession as a finisher: it reports its end once the
// close line was written, or when the session is dropped.
func (s *httpSession) finishes() {}

// Wake tells the attached receive request that the outbox has frames. With
// none attached the frames wait; the next request takes them.
func (s *httpSession) Wake() {
	s.mu.Lock()
	r := s.receiver
	if r == nil && !s.done {
		// Nobody writes now: the next push or close wakes again, so that a
		// close is noticed. A polling client's next poll, due at once,
		// carries it; a client that is gone must not hold the server's
		// shutdown for SessionTimeout.
		if s.conn.out.release() {
			s.expireAfterLocked(min(closeGrace, s.fallback.opts.SessionTimeout))
		}
	}
	s.mu.Unlock()
	if r != nil {
		signal(r.wake)
	}
}

// closeGrace is how long a closed session waits for a request to carry its
// close.
const closeGrace = time.Second

// release gives up the writer's claim on the outbox without taking
// anything, so that the next push or close asks for a writer again. It
// reports whether the connection is closing.
func (o *outbox) release() (closing bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writing = false
	return o.closing != nil
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// ping handles a client ping: activity, and an "h" soon if the receive
// side has been quiet, which pusher-js takes as the pong.
func (s *httpSession) ping() {
	s.conn.Touch()
	if time.Since(time.Unix(0, s.lastWrite.Load())) < pongAfter {
		return
	}
	s.mu.Lock()
	r := s.receiver
	s.mu.Unlock()
	if r != nil {
		signal(r.pong)
	}
}

// attach makes r the session's receive request, replacing any older one.
// It returns nil if the session has ended.
func (s *httpSession) attach() *receiver {
	r := &receiver{wake: make(chan struct{}, 1), pong: make(chan struct{}, 1), stop: make(chan struct{})}
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return nil
	}
	old := s.receiver
	s.receiver = r
	if s.expiry != nil {
		s.expiry.Stop()
		s.expiry = nil
	}
	s.mu.Unlock()
	if old != nil {
		close(old.stop)
	}
	// A receive request is the client's sign of life, like a pong.
	s.conn.Touch()
	return r
}

// detach lets go of r; if it was still attached, the session expires
// unless another request attaches within SessionTimeout.
func (s *httpSession) detach(r *receiver) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.receiver != r || s.done {
		return
	}
	s.receiver = nil
	s.expireAfterLocked(s.fallback.opts.SessionTimeout)
}

// expireAfterLocked (re)arms the expiry of the detached session. s.mu is
// held.
func (s *httpSession) expireAfterLocked(d time.Duration) {
	if s.expiry != nil {
		s.expiry.Stop()
	}
	s.generation++
	gen := s.generation
	s.expiry = time.AfterFunc(d, func() { s.expire(gen) })
}

func (s *httpSession) expire(gen uint64) {
	s.mu.Lock()
	stale := s.generation != gen || s.receiver != nil
	s.mu.Unlock()
	if !stale {
		s.end("http session expired")
	}
}

// end ends the session once: it forgets it, stops the attached request
// (if that is the caller, it stops by itself anyway), closes the
// connection as a dropped transport unless it was closed already, and
// reports the transport's end.
func (s *httpSession) end(reason string) {
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		return
	}
	s.done = true
	r := s.receiver
	s.receiver = nil
	if s.expiry != nil {
		s.expiry.Stop()
		s.expiry = nil
	}
	s.mu.Unlock()
	if r != nil {
		close(r.stop)
	}
	s.fallback.remove(s)
	s.conn.TransportClosed(reason)
	s.conn.TransportEnded()
}

// current reports whether r is still the attached request.
func (s *httpSession) current(r *receiver) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.receiver == r
}

// flushResult says why flush returned.
type flushResult uint8

const (
	flushIdle   flushResult = iota // the outbox is empty
	flushFull                      // this response carries no more for now
	flushClosed                    // the close line went out; the session is over
	flushFailed                    // the response is gone or replaced
)

// flush writes what the outbox holds as "a[...]" lines, or the close.
// A streaming response stops at pusher-js's roll-over size unless overdue;
// a poll answer stops at maxPoll.
func (s *httpSession) flush(r *receiver, out *lineWriter, streaming, overdue bool) flushResult {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	for {
		if !s.current(r) || out.failed() {
			return flushFailed
		}
		if streaming && !overdue && out.chars > rolloverChars {
			return flushFull
		}
		if !streaming && out.bytes >= maxPoll {
			return flushFull
		}
		frames := s.carry
		s.carry = nil
		var closing *Closing
		if len(frames) == 0 {
			frames, closing = s.conn.Take(nil, maxLine)
		}
		if len(frames) == 0 {
			if closing == nil {
				return flushIdle
			}
			_ = out.write(appendCloseLine(nil, closing))
			s.end(closing.Reason)
			return flushClosed
		}
		if err := out.write(appendArrayLine(nil, frames)); err != nil {
			s.carry = frames
			return flushFailed
		}
		s.lastWrite.Store(time.Now().UnixNano())
	}
}

// serve runs one receive request: a stream kept open, or a poll answered
// once there is something to say.
func (s *httpSession) serve(w http.ResponseWriter, req *http.Request, streaming, opened bool) {
	r := s.attach()
	if r == nil {
		// The session ended between lookup and attach; the client
		// reconnects on a closed response.
		refuseHTTP(w, protocol.ErrShuttingDown)
		return
	}
	defer s.detach(r)
	if s.fallback.hub.debug && !opened {
		s.conn.logger().Debug("http session continued", "streaming", streaming)
	}
	streamHeaders(w)
	w.WriteHeader(http.StatusOK)
	out := newLineWriter(w, s.fallback.hub.opts.WriteTimeout)
	if opened {
		_ = out.write([]byte("o\n"))
	} else {
		_ = out.flush()
	}
	s.lastWrite.Store(time.Now().UnixNano())
	if streaming {
		s.stream(req, r, out)
	} else {
		s.poll(req, r, out)
	}
}

// stream writes frames as they come and "h" after Heartbeat of silence,
// until the client leaves, replaces the request or the session ends.
func (s *httpSession) stream(req *http.Request, r *receiver, out *lineWriter) {
	o := &s.fallback.opts
	heartbeat := time.NewTimer(o.Heartbeat)
	defer heartbeat.Stop()
	var grace <-chan time.Time
	overdue := false
	for {
		written := out.bytes
		switch s.flush(r, out, true, overdue) {
		case flushClosed, flushFailed:
			return
		case flushFull:
			// pusher-js aborts this response now and continues on a new
			// one; writing more here would be lost.
			if grace == nil {
				grace = time.After(o.RolloverGrace)
			}
		}
		if out.bytes != written {
			heartbeat.Reset(o.Heartbeat)
		}
		select {
		case <-r.wake:
		case <-r.pong:
			if !s.heartbeat(out, heartbeat, o.Heartbeat, grace) {
				return
			}
		case <-heartbeat.C:
			if !s.heartbeat(out, heartbeat, o.Heartbeat, grace) {
				return
			}
		case <-grace:
			// The client did not roll over (a proxy holding bytes back?):
			// go on writing here rather than stall.
			overdue = true
			grace = nil
		case <-r.stop:
			return
		case <-req.Context().Done():
			return
		}
	}
}

// heartbeat writes "h" unless the response awaits its roll-over, and
// re-arms the timer. It reports whether the response is still usable.
func (s *httpSession) heartbeat(out *lineWriter, t *time.Timer, every time.Duration, rollover <-chan time.Time) bool {
	t.Reset(every)
	if rollover != nil {
		return true
	}
	if out.write([]byte("h\n")) != nil {
		return false
	}
	s.lastWrite.Store(time.Now().UnixNano())
	return true
}

// poll answers with what the outbox holds, or holds the request until
// something comes; a poll held for Heartbeat, replaced by a newer poll or
// asked for a pong is answered with "h". The first poll of a session is
// answered at once.
func (s *httpSession) poll(req *http.Request, r *receiver, out *lineWriter) {
	hold := time.NewTimer(s.fallback.opts.Heartbeat)
	defer hold.Stop()
	for {
		switch s.flush(r, out, false, false) {
		case flushClosed, flushFailed, flushFull:
			return
		}
		if out.bytes > 0 {
			return
		}
		select {
		case <-r.wake:
			continue
		case <-r.pong:
		case <-hold.C:
		case <-r.stop:
		case <-req.Context().Done():
			return
		}
		_ = out.write([]byte("h\n"))
		s.lastWrite.Store(time.Now().UnixNano())
		return
	}
}

// lineWriter writes and flushes lines of one response, counting what it
// has sent in bytes and in the UTF-16 code units pusher-js counts.
type lineWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	bytes   int
	chars   int
	err     error
}

func newLineWriter(w http.ResponseWriter, timeout time.Duration) *lineWriter {
	return &lineWriter{w: w, rc: http.NewResponseController(w), timeout: timeout}
}

func (l *lineWriter) failed() bool { return l.err != nil }

// write sends b and flushes it to the client, under a deadline per
// blockingChunk as TLS WebSocket writes are, so that a client that reads
// slowly but steadily is not cut.
func (l *lineWriter) write(b []byte) error {
	if l.err != nil {
		return l.err
	}
	if err := writeChunked(l.w, l.rc, b, l.timeout); err != nil {
		l.err = err
		return err
	}
	l.bytes += len(b)
	l.chars += utf16Length(b)
	return l.flush()
}

func (l *lineWriter) flush() error {
	if err := l.rc.Flush(); err != nil {
		l.err = err
	}
	return l.err
}

// utf16Length returns the length of valid UTF-8 text in UTF-16 code
// units, as JavaScript's String.length counts it: one per character, two
// for characters outside the Basic Multilingual Plane.
func utf16Length(b []byte) int {
	n := 0
	for _, c := range b {
		if c&0xC0 != 0x80 {
			n++
		}
		if c >= 0xF0 {
			n++
		}
	}
	return n
}

// appendArrayLine appends an "a[...]" line: each frame's JSON text as a
// JSON string, which pusher-js hands to its decoder.
func appendArrayLine(dst []byte, frames []*protocol.Frame) []byte {
	dst = append(dst, "a["...)
	first := true
	for _, f := range frames {
		if f.JSON == nil {
			continue // a transport-specific frame (a WebSocket pong)
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, f.Encoded(slotHTTPFallback, quoteFrame)...)
	}
	return append(dst, "]\n"...)
}

// quoteFrame quotes a frame's JSON text as a JSON string. Invalid UTF-8
// becomes U+FFFD, so that the line is valid UTF-8 and its length in
// UTF-16 units is what the client counts.
func quoteFrame(f *protocol.Frame) []byte {
	return protocol.AppendQuoted(make([]byte, 0, len(f.JSON)+len(f.JSON)/8+2), string(f.JSON))
}

// appendCloseLine appends a `c[code,"reason"]` line.
func appendCloseLine(dst []byte, c *Closing) []byte {
	dst = append(dst, "c["...)
	dst = strconv.AppendInt(dst, int64(c.Code), 10)
	dst = append(dst, ',')
	dst = protocol.AppendQuoted(dst, c.Reason)
	return append(dst, "]\n"...)
}
