package client

import (
	"sync"
	"sync/atomic"
	"time"
)

// FleetDialOptions configure one Fleet connection (Fleet.DialWith).
type FleetDialOptions struct {
	// OnFrame receives the connection's text frames, in order, on a reader
	// goroutine; the slice is only valid during the call.
	OnFrame func(raw []byte)
	// OnClose, when set, is called once when the connection ends, on a
	// reader goroutine, with the close code the server sent: 1005 for a
	// close frame without a code, 0 when the socket ended without a close
	// frame. It is not called for connections Fleet.Close ends.
	OnClose func(code int)
	// ReceiveBuffer, when positive, sets SO_RCVBUF before connecting (Linux
	// doubles it and keeps at least about 2 KiB). The kernel then holds
	// little of what the connection has not read, so a reader that stops
	// or slows down pushes back on the server quickly.
	ReceiveBuffer int
	// MaxSegment, when positive, sets TCP_MAXSEG before connecting. Over
	// loopback segments are 64 KiB and the server's kernel then buffers
	// megabytes for a socket that is not read; 1460, what an Ethernet path
	// gives, brings that down to tens of KiB, as for a real remote client.
	MaxSegment int
}

// SlowReaderSocket is ReceiveBuffer and MaxSegment for a connection that
// should stand for a slow remote client: the server's and the client's
// kernels then buffer only some 50-70 KiB between them over loopback.
var SlowReaderSocket = FleetDialOptions{ReceiveBuffer: 4096, MaxSegment: 1460}

// readThrottle limits how fast a fleet connection is read: a token bucket
// of bytes, or a full stop. The reader asks it how much it may read before
// each read(2) and tells it what it read. When nothing may be read, the
// connection leaves its reader's epoll set (arm(false)) until the bucket
// has refilled (a timer) or the limit changes (arm(true)); arm is called
// under the throttle's lock, so leaving and rejoining never cross.
type readThrottle struct {
	// on mirrors limited, so that the reader of a connection that was never
	// throttled (every fast subscriber of a bench) skips the lock and the
	// clock on each read.
	on atomic.Bool

	mu      sync.Mutex // guards every field below
	limited bool
	rate    float64 // bytes per second; 0 with limited: stopped
	tokens  float64
	last    time.Time
	parked  bool
	closed  bool
	timer   *time.Timer
	arm     func(on bool)
}

// throttleBurst is the most a throttled connection reads at once: a fifth
// of a second's worth, and at least minThrottleRead.
func throttleBurst(rate float64) float64 { return max(rate/5, minThrottleRead) }

// minThrottleRead is how much a parked connection waits to be allowed
// before it is read again, so that a slow reader takes segments rather
// than single bytes.
const minThrottleRead = 512

// set changes the limit: rate bytes per second when limited (a full stop
// with rate 0), none when not. A parked connection that may read again
// rejoins the epoll set at once.
func (t *readThrottle) set(limited bool, rate float64, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.limited, t.rate = limited, max(rate, 0)
	t.on.Store(limited)
	t.tokens, t.last = min(t.tokens, throttleBurst(t.rate)), now
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
	if t.parked && !t.closed && (!limited || t.rate > 0) {
		t.parked = false
		t.arm(true)
	}
}

// refillLocked adds the bytes earned since the last look.
func (t *readThrottle) refillLocked(now time.Time) {
	if el := now.Sub(t.last); el > 0 {
		t.tokens = min(t.tokens+t.rate*el.Seconds(), throttleBurst(t.rate))
	}
	t.last = now
}

// allowance returns how many bytes the reader may read now (up to max),
// or 0 when it must not read; the connection is then parked.
func (t *readThrottle) allowance(max int, now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.limited {
		return max
	}
	t.refillLocked(now)
	if t.rate > 0 && t.tokens >= 1 {
		return min(max, int(t.tokens))
	}
	t.parkLocked()
	return 0
}

// spent takes n read bytes from the bucket, parking the connection when
// the bucket is empty or reading has stopped.
func (t *readThrottle) spent(n int, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.limited {
		return
	}
	t.refillLocked(now)
	t.tokens -= float64(n)
	if t.rate <= 0 || t.tokens < 1 {
		t.parkLocked()
	}
}

// parkLocked takes the connection out of the epoll set and, under a rate,
// starts the timer that puts it back once minThrottleRead bytes are
// allowed (a burst is never smaller).
func (t *readThrottle) parkLocked() {
	if t.closed {
		return
	}
	if !t.parked {
		t.parked = true
		t.arm(false)
	}
	if t.rate <= 0 || t.timer != nil {
		return
	}
	need := minThrottleRead - t.tokens
	wait := time.Duration(need / t.rate * float64(time.Second))
	t.timer = time.AfterFunc(max(wait, time.Millisecond), t.fire)
}

func (t *readThrottle) fire() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.timer = nil
	// A timer that fired as set stopped it finds the new limit.
	if t.parked && !t.closed && (!t.limited || t.rate > 0) {
		t.parked = false
		t.arm(true)
	}
}

// close stops the timer for good: the connection has ended.
func (t *readThrottle) close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	if t.timer != nil {
		t.timer.Stop()
		t.timer = nil
	}
}
