package history

import (
	"context"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/protocol"
)

// Bounds that keep a channel's history small whatever producers do.
const (
	// MaxStreams is how many streams a channel keeps; older ones go first.
	MaxStreams = 16
	// MaxStreamText bounds a stream's text in bytes. A longer stream keeps
	// streaming live, but its history keeps only the first MaxStreamText
	// bytes: a late subscriber gets those and then the live tokens, without
	// the text between.
	MaxStreamText = 1 << 20
)

// Store keeps channel history. Implementations are safe for concurrent use.
type Store interface {
	// Record takes events published on channels with rules, in order: a
	// token (Frame.Token set) extends its stream; with Rule.History, every
	// event joins the channel's last events. Tokens whose seq is not above
	// the stream's last (repeats from an at-least-once producer) are
	// ignored. A token that opens its stream is marked Token.First. Giving
	// many entries at once lets the Redis store record them in one round
	// trip.
	Record(ctx context.Context, entries ...Entry) error
	// Streams returns the channel's retained token streams, oldest first.
	Streams(ctx context.Context, app, channel string) ([]Stream, error)
	// Recent returns up to n of the channel's last events, oldest first.
	Recent(ctx context.Context, app, channel string, n int) ([]*protocol.Frame, error)
}

// Entry is one event to record.
type Entry struct {
	App   string
	Rule  *apps.ChannelRule
	Frame *protocol.Frame
}

// Stream is one token stream's state.
type Stream struct {
	// ID is the stream id as JSON, as the producer wrote it.
	ID string
	// Event is the name of the stream's token events.
	Event string
	Text  string
	Seq   int64
	Done  bool
	// Marks record, for each token, the length of Text after it.
	Marks []Mark
}

// Mark is the text length after the token with sequence number Seq.
type Mark struct {
	Seq int64
	End int
}

// After returns the text that followed the token with sequence number seq,
// or false when the stream does not know that token (the client must take
// the whole text instead).
func (s Stream) After(seq int64) (string, bool) {
	if seq < 0 {
		return s.Text, true
	}
	for i := len(s.Marks) - 1; i >= 0; i-- {
		if s.Marks[i].Seq == seq {
			return s.Text[s.Marks[i].End:], true
		}
		if s.Marks[i].Seq < seq {
			break
		}
	}
	return "", false
}

// Snapshot is the event a new subscriber gets for the stream: the whole
// text so far, or, after a resume from seq, what followed it.
func (s Stream) Snapshot(channel string, resume *protocol.Resume) *protocol.Frame {
	tok := &protocol.Token{Stream: s.ID, Seq: s.Seq, Delta: s.Text, Done: s.Done, Whole: true}
	if resume != nil && resume.StreamID() == s.ID {
		if rest, ok := s.After(resume.Seq); ok {
			tok.Delta, tok.Whole = rest, false
		}
	}
	return protocol.NewTokenFrame(s.Event, channel, "", tok)
}
