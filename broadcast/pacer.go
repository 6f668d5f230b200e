package broadcast

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/protocol"
)

// local delivers f to this node's subscribers of its channel: through the
// pacer when the channel's rule paces tokens, at once otherwise. rule is the
// channel's rule when the caller has it; when nil it is looked up in
// Options.Apps (events from other nodes, and events published without one,
// such as member_added), so that every event of a paced channel keeps its
// place behind the tokens queued before it.
func (p *Publisher) local(app string, f *protocol.Frame, except string, rule *apps.ChannelRule) {
	if rule == nil && p.apps != nil {
		if a, err := p.apps.ByID(context.Background(), app); err == nil {
			rule = a.Rule(f.Channel)
		}
	}
	if rule.Paced() {
		p.pacer.send(app, rule, f, except)
		return
	}
	p.registry.Broadcast(app, f.Channel, f, except)
}

// MaxPacedBytes bounds what one channel's pacing queue holds (the frames'
// Size). A burst beyond it is released at once: pacing never drops an
// event, and never lets a queue grow without bound.
const MaxPacedBytes = 1 << 20

const paceShards = 32

// pacer releases the frames of paced channels to local subscribers at the
// cadence their rule sets (apps.ChannelRule.PaceTokens, PaceChars).
//
// Each channel with frames waiting has a lane: a queue in publish order
// (with each frame's except socket id), the earliest time its next token
// may go, and one timer armed for that time. A token goes when the lane's
// budget allows: each released token costs the lane 1/PaceTokens seconds,
// or its delta's characters over PaceChars seconds, whichever is longer,
// before the next token may follow. A token arriving at an idle lane goes
// at once; a burst is spread evenly, and a token that had to wait goes on
// its schedule, so timer lateness does not slow the cadence. Frames that
// are not tokens cost nothing: they go as soon as they reach the head.
//
// A lane is dropped once its queue is empty and its budget is whole again
// (the last token's cost has elapsed); a lane left empty but still owing is
// a few words with no timer, removed when next used or by the sweep that
// runs as lanes are added. No goroutine runs per channel: a timer's
// callback, or the publisher that finds the lane ready, delivers. One
// goroutine at a time delivers a lane's frames (busy), outside the lock, so
// the order per channel is exactly publish order.
type pacer struct {
	clock   clock
	deliver func(app string, f *protocol.Frame, except string)
	seed    maphash.Seed
	shards  [paceShards]paceShard
}

type paceShard struct {
	mu      sync.Mutex // guards lanes and every lane in it
	lanes   map[paceKey]*lane
	sweepAt int // sweep idle lanes when the map reaches this size
}

type paceKey struct{ app, channel string }

type pacedFrame struct {
	f      *protocol.Frame
	except string
}

// lane is one channel's pacing state.
type lane struct {
	key        paceKey
	tokens     int // PaceTokens
	chars      int // PaceChars
	queue      []pacedFrame
	bytes      int          // Size of the queued frames
	next       time.Time    // earliest release of the next token
	onSchedule bool         // the queued tokens waited: release them on schedule
	busy       bool         // a goroutine is delivering this lane's frames
	flush      bool         // the queue went past MaxPacedBytes: release it all
	timer      stopper      // armed while the head token waits; nil otherwise
	gen        uint64       // identifies the armed timer
	out        []pacedFrame // reused by drain
}

// clock is time for the pacer; tests replace it.
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) stopper
}

type stopper interface{ Stop() bool }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }

func newPacer(deliver func(app string, f *protocol.Frame, except string)) *pacer {
	p := &pacer{clock: realClock{}, deliver: deliver, seed: maphash.MakeSeed()}
	for i := range p.shards {
		p.shards[i].lanes = make(map[paceKey]*lane)
		p.shards[i].sweepAt = minSweep
	}
	return p
}

// minSweep is the lane count below which a shard is never swept.
const minSweep = 64

func (p *pacer) shard(k paceKey) *paceShard {
	var h maphash.Hash
	h.SetSeed(p.seed)
	h.WriteString(k.app)
	h.WriteString(k.channel)
	return &p.shards[h.Sum64()%paceShards]
}

// send queues f on its channel's lane and delivers whatever is due.
func (p *pacer) send(app string, rule *apps.ChannelRule, f *protocol.Frame, except string) {
	k := paceKey{app, f.Channel}
	sh := p.shard(k)
	sh.mu.Lock()
	l := sh.lanes[k]
	if l == nil && f.Token == nil { // nothing waits and it costs nothing
		sh.mu.Unlock()
		p.deliver(app, f, except)
		return
	}
	if l == nil {
		if len(sh.lanes) >= sh.sweepAt {
			sh.sweep(p.clock.Now())
		}
		l = &lane{key: k, tokens: rule.PaceTokens, chars: rule.PaceChars}
		sh.lanes[k] = l
	}
	l.queue = append(l.queue, pacedFrame{f, except})
	l.bytes += f.Size()
	if l.bytes > MaxPacedBytes {
		l.flush = true
	}
	// Busy: the delivering goroutine takes this frame in turn. A timer
	// armed: the head token waits, and this frame behind it.
	if l.busy || l.timer != nil && !l.flush {
		sh.mu.Unlock()
		return
	}
	p.drain(sh, l)
}

// fire runs when a lane's timer expires.
func (p *pacer) fire(sh *paceShard, l *lane, gen uint64) {
	sh.mu.Lock()
	if l.gen != gen || l.timer == nil || sh.lanes[l.key] != l {
		sh.mu.Unlock()
		return
	}
	l.timer = nil
	if l.busy { // the delivering goroutine re-arms when it is done
		sh.mu.Unlock()
		return
	}
	p.drain(sh, l)
}

// drain delivers the lane's due frames in order, then arms the timer for
// the next token or drops the lane. It is called with sh.mu held and
// returns with it released.
func (p *pacer) drain(sh *paceShard, l *lane) {
	l.busy = true
	if l.timer != nil { // a flush overtakes the wait
		l.timer.Stop()
		l.timer = nil
		l.gen++
	}
	now := p.clock.Now()
	for n := l.due(now); n > 0; n = l.due(now) {
		out := append(l.out[:0], l.queue[:n]...)
		clear(l.queue[:n])
		l.queue = l.queue[n:]
		for _, pf := range out {
			l.bytes -= pf.f.Size()
		}
		if len(l.queue) == 0 {
			l.queue, l.flush, l.onSchedule = nil, false, false
		}
		sh.mu.Unlock()
		for _, pf := range out {
			p.deliver(l.key.app, pf.f, pf.except)
		}
		clear(out)
		sh.mu.Lock()
		l.out = out[:0]
		now = p.clock.Now()
	}
	l.busy = false
	switch {
	case len(l.queue) > 0:
		l.onSchedule = true
		l.gen++
		gen := l.gen
		l.timer = p.clock.AfterFunc(l.next.Sub(now), func() { p.fire(sh, l, gen) })
	case !l.next.After(now):
		delete(sh.lanes, l.key)
	}
	sh.mu.Unlock()
}

// due returns how many frames at the head of the queue may go now, and
// charges the lane for the tokens among them.
func (l *lane) due(now time.Time) int {
	n := 0
	for ; n < len(l.queue); n++ {
		tok := l.queue[n].f.Token
		if l.flush || tok == nil {
			continue
		}
		if now.Before(l.next) {
			break
		}
		cost := l.cost(tok)
		base := now
		// A token that waited goes on its schedule, unless the timer was so
		// late that keeping it would let tokens out in a clump.
		if l.onSchedule && now.Sub(l.next) < cost {
			base = l.next
		}
		l.next = base.Add(cost)
	}
	return n
}

// cost is the pause a released token imposes before the next one.
func (l *lane) cost(t *protocol.Token) time.Duration {
	var d time.Duration
	if l.tokens > 0 {
		d = time.Second / time.Duration(l.tokens)
	}
	if l.chars > 0 {
		d = max(d, time.Duration(utf8.RuneCountInString(t.Delta))*time.Second/time.Duration(l.chars))
	}
	return d
}

// sweep drops the lanes that are idle: nothing queued and the budget whole.
func (sh *paceShard) sweep(now time.Time) {
	for k, l := range sh.lanes {
		if len(l.queue) == 0 && !l.busy && !l.next.After(now) {
			delete(sh.lanes, k)
		}
	}
	sh.sweepAt = max(minSweep, 2*len(sh.lanes))
}
