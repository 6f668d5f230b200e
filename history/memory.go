package history

import (
	"context"
	"sync"
	"time"

	"github.com/quaver-dev/quaver/protocol"
)

// Memory is the single-node Store.
type Memory struct {
	mu       sync.Mutex // guards channels and records
	channels map[channelKey]*channelState
	records  int
}

type channelKey struct{ app, channel string }

type channelState struct {
	streams []*memStream // oldest first
	recent  []*protocol.Frame
	expires time.Time
}

// memStream is a stream as the store keeps it: its text grows in place
// (Stream.Text stays empty), so a token costs its own bytes rather than a
// copy of everything before it; Streams hands out copies.
type memStream struct {
	Stream
	text    []byte
	expires time.Time
}

// NewMemory returns an empty store.
func NewMemory() *Memory {
	return &Memory{channels: make(map[channelKey]*channelState)}
}

// Record implements Store.
func (m *Memory) Record(_ context.Context, entries ...Entry) error {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range entries {
		m.recordLocked(now, e)
	}
	return nil
}

func (m *Memory) recordLocked(now time.Time, e Entry) {
	if m.records++; m.records%1024 == 0 {
		m.sweepLocked(now)
	}
	f, rule := e.Frame, e.Rule
	k := channelKey{e.App, f.Channel}
	st := m.channels[k]
	if st == nil {
		st = &channelState{}
		m.channels[k] = st
	}
	until := now.Add(rule.Retain)
	st.expires = until
	if rule.Tokens && f.Token != nil {
		recordToken(st, f, until)
	}
	if rule.History > 0 {
		st.recent = append(st.recent, f)
		if over := len(st.recent) - rule.History; over > 0 {
			st.recent = append(st.recent[:0], st.recent[over:]...)
		}
	}
}

func recordToken(st *channelState, f *protocol.Frame, until time.Time) {
	tok := f.Token
	var s *memStream
	for _, c := range st.streams {
		if c.ID == tok.Stream {
			s = c
			break
		}
	}
	if s == nil {
		s = &memStream{Stream: Stream{ID: tok.Stream, Event: f.Event, Seq: tok.Seq - 1}}
		tok.First = true
		st.streams = append(st.streams, s)
		if len(st.streams) > MaxStreams {
			st.streams = append(st.streams[:0], st.streams[1:]...)
		}
	}
	if tok.Seq <= s.Seq {
		return // a repeat
	}
	if len(s.text)+len(tok.Delta) <= MaxStreamText {
		s.text = append(s.text, tok.Delta...)
	}
	s.Seq = tok.Seq
	s.Done = s.Done || tok.Done
	s.Marks = append(s.Marks, Mark{Seq: tok.Seq, End: len(s.text)})
	s.expires = until
}

// Streams implements Store.
func (m *Memory) Streams(_ context.Context, app, channel string) ([]Stream, error) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.live(now, channelKey{app, channel})
	if st == nil {
		return nil, nil
	}
	out := make([]Stream, 0, len(st.streams))
	for _, s := range st.streams {
		c := s.Stream
		c.Text = string(s.text)
		// Marks are only ever appended to: the first n stay as they are,
		// so the copy shares them, capped so that an append cannot reach
		// into it.
		c.Marks = s.Marks[:len(s.Marks):len(s.Marks)]
		out = append(out, c)
	}
	return out, nil
}

// Recent implements Store.
func (m *Memory) Recent(_ context.Context, app, channel string, n int) ([]*protocol.Frame, error) {
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.live(now, channelKey{app, channel})
	if st == nil {
		return nil, nil
	}
	from := max(len(st.recent)-n, 0)
	return append([]*protocol.Frame(nil), st.recent[from:]...), nil
}

// live returns the channel's state without what has expired.
func (m *Memory) live(now time.Time, k channelKey) *channelState {
	st := m.channels[k]
	if st == nil {
		return nil
	}
	if now.After(st.expires) {
		delete(m.channels, k)
		return nil
	}
	kept := st.streams[:0]
	for _, s := range st.streams {
		if !now.After(s.expires) {
			kept = append(kept, s)
		}
	}
	clear(st.streams[len(kept):])
	st.streams = kept
	return st
}

func (m *Memory) sweepLocked(now time.Time) {
	for k := range m.channels {
		m.live(now, k)
	}
}
