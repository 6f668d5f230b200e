package connection

import (
	"sync"

	"github.com/quaver-dev/quaver/protocol"
)

// outbox is a connection's queue of frames waiting for its transport, counted
// in bytes. Producers (broadcasts, the connection's own replies) push without
// blocking; the transport's single writer takes. When the writer finds the
// queue empty it goes idle, and the next push tells its caller to wake it,
// so an idle connection costs no goroutine.
type outbox struct {
	mu      sync.Mutex // guards every field below
	frames  []queued
	head    int
	bytes   int
	writing bool
	closing *Closing
}

// queued is one frame in an outbox: a frame shared with other connections,
// or, once later tokens of its stream merged into it, this connection's own
// merge, built into a frame when the writer takes it.
type queued struct {
	f     *protocol.Frame
	merge *protocol.TokenMerge
}

func (q queued) size() int {
	if q.merge != nil {
		return q.merge.Size()
	}
	return q.f.Size()
}

type pushResult uint8

const (
	pushed pushResult = iota
	pushedWake
	pushedMerged // coalesced into a queued token event
	pushRefused  // the connection is closing
	pushOverflow
)

// Limits of coalescing: how far back a token looks for its stream's last
// queued event, and how large a merged delta may grow (a client that is
// far behind still gets its text in frames of a reasonable size).
const (
	coalesceScan     = 64
	coalesceMaxDelta = 64 << 10
)

// push queues f unless the outbox is closing or would pass hard bytes.
// Past soft bytes, a token event merges into the queued event of its
// stream instead (see coalesceLocked).
func (o *outbox) push(f *protocol.Frame, soft, hard int) pushResult {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing != nil {
		return pushRefused
	}
	if f.Token != nil && soft > 0 && o.bytes > soft {
		if r, ok := o.coalesceLocked(f, hard); ok {
			return r
		}
	}
	size := f.Size()
	if hard > 0 && o.bytes+size > hard && o.bytes > 0 {
		return pushOverflow
	}
	o.frames = append(o.frames, queued{f: f})
	o.bytes += size
	if o.writing {
		return pushed
	}
	o.writing = true
	return pushedWake
}

// coalesceLocked merges token f into the last queued token event of its
// stream, if nothing but other streams' tokens was queued after it: f then
// goes out earlier than its turn, which only other streams' tokens may
// see. A non-token event stops the search, so events of other kinds keep
// their order relative to tokens. Queued frames are shared with other
// connections and never modified: the first merge into one starts this
// connection's own TokenMerge in its place. Nothing queued is being
// written: the writer takes frames out first.
func (o *outbox) coalesceLocked(f *protocol.Frame, hard int) (pushResult, bool) {
	tok := f.Token
	for i := len(o.frames) - 1; i >= o.head && i >= len(o.frames)-coalesceScan; i-- {
		q := &o.frames[i]
		qt := q.f.Token
		if qt == nil {
			return 0, false
		}
		if qt.Stream != tok.Stream || q.f.Channel != f.Channel {
			continue
		}
		seq, done, deltaLen := qt.Seq, qt.Done, len(qt.Delta)
		if m := q.merge; m != nil {
			seq, done, deltaLen = m.Seq(), m.Done(), m.DeltaLen()
		}
		if done || tok.Seq <= seq || q.f.Event != f.Event || deltaLen+len(tok.Delta) > coalesceMaxDelta {
			return 0, false
		}
		m := q.merge
		if m == nil {
			m = protocol.NewTokenMerge(q.f)
		}
		grow := m.Growth(f)
		if hard > 0 && o.bytes+grow > hard {
			return pushOverflow, true
		}
		m.Add(f, grow)
		q.merge = m
		o.bytes += grow
		return pushedMerged, true
	}
	return 0, false
}

// take moves up to maxBytes of queued frames (at least one frame) into dst.
// With nothing queued it returns the pending close, if any, or marks the
// writer idle and returns nothing. Merged token events are built into
// frames after the lock is let go: building quotes the whole merged text,
// and a broadcast must not wait for that to queue its next frame.
func (o *outbox) take(dst []*protocol.Frame, maxBytes int) ([]*protocol.Frame, *Closing) {
	var spare [4]takenMerge
	o.mu.Lock()
	dst, closing, merges := o.takeLocked(dst, maxBytes, spare[:0])
	o.mu.Unlock()
	for _, t := range merges {
		dst[t.at] = t.merge.Frame()
	}
	return dst, closing
}

// takenMerge is a merged token event taken out of the queue, and where its
// frame goes in take's result.
type takenMerge struct {
	at    int
	merge *protocol.TokenMerge
}

func (o *outbox) takeLocked(dst []*protocol.Frame, maxBytes int, merges []takenMerge) ([]*protocol.Frame, *Closing, []takenMerge) {
	taken := 0
	for o.head < len(o.frames) && (taken == 0 || taken+o.frames[o.head].size() <= maxBytes) {
		q := o.frames[o.head]
		o.frames[o.head] = queued{}
		o.head++
		taken += q.size()
		if q.merge != nil {
			merges = append(merges, takenMerge{len(dst), q.merge})
		}
		dst = append(dst, q.f)
	}
	o.bytes -= taken
	if o.head == len(o.frames) {
		o.frames = o.frames[:0]
		o.head = 0
		if cap(o.frames) > 256 {
			o.frames = nil
		}
	}
	if len(dst) > 0 {
		return dst, nil, merges
	}
	if o.closing != nil {
		c := o.closing
		o.closing = &Closing{} // handed out once; later takes see an empty close
		if c.Code == 0 {
			return nil, nil, nil
		}
		return nil, c, nil
	}
	o.writing = false
	return nil, nil, nil
}

// close records the close to send after the queued frames, preceded by
// last (a pusher:error) unless it is nil; with flush false the queued frames
// are dropped first. It reports whether the writer is idle and must be
// woken to send the close.
func (o *outbox) close(c *Closing, last *protocol.Frame, flush bool) (wake bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing != nil {
		return false
	}
	if !flush {
		o.dropLocked()
	}
	if last != nil {
		o.frames = append(o.frames, queued{f: last})
		o.bytes += last.Size()
	}
	o.closing = c
	if o.writing {
		return false
	}
	o.writing = true
	return true
}

func (o *outbox) dropLocked() {
	clear(o.frames)
	o.frames = nil
	o.head = 0
	o.bytes = 0
}

// pending returns the queued bytes.
func (o *outbox) pending() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.bytes
}
