package protocol

import (
	"bytes"
	"strconv"
	"unicode/utf8"

	"github.com/goccy/go-json"
)

// Token is the AI token-stream convention carried in an event's data:
//
//	{"stream": id, "seq": n, "delta": "text"}   a piece of the stream's text
//	{"stream": id, "seq": n, "done": true}      the stream is complete
//	{"stream": id, "seq": n, "text": "..."}     the whole text up to seq
//
// The last form is what Quaver sends a subscriber who arrives while the
// stream runs (or comes back): a client replaces its text with it, appends
// each later delta, and ignores any seq it has already seen. The server
// parses tokens only on channels configured for them. A producer may add
// "requested_at" (Unix milliseconds, when the user asked) to the first
// token, for the time-to-first-token metric.
type Token struct {
	// Stream is the stream id as JSON (a string with its quotes, or a
	// number), so it is sent back exactly as the producer wrote it.
	Stream string
	Seq    int64
	Delta  string
	Done   bool
	// Whole marks the "text" form: Delta then holds the whole text up to
	// Seq.
	Whole bool
	// First marks the token that opened its stream (set by the history
	// store when it records it), for time-to-first-token.
	First bool
	// RequestedAt is when the user asked for the stream (Unix
	// milliseconds), if the producer said so with "requested_at".
	RequestedAt int64
}

// tokenJSON is the convention's fields as event data carries them.
type tokenJSON struct {
	Stream json.RawMessage `json:"stream"`
	Seq    *int64          `json:"seq"`
	Delta  string          `json:"delta"`
	Done   bool            `json:"done"`
	// A number of milliseconds; anything else is ignored.
	RequestedAt json.RawMessage `json:"requested_at"`
}

// ParseToken reads a token from event data, reporting false when the data
// does not follow the convention. It runs for every event on a token
// channel, so it decodes with goccy/go-json, which reads JSON as
// encoding/json does (FuzzParseToken holds it to that) at a fifth of the
// cost.
func ParseToken(data string) (*Token, bool) {
	var t tokenJSON
	if json.Unmarshal([]byte(data), &t) != nil || t.Seq == nil || len(t.Stream) == 0 {
		return nil, false
	}
	id := bytes.TrimSpace(t.Stream)
	if id[0] != '"' && (id[0] < '0' || id[0] > '9') && id[0] != '-' {
		return nil, false
	}
	tok := &Token{Stream: string(id), Seq: *t.Seq, Delta: t.Delta, Done: t.Done}
	if ms, err := strconv.ParseFloat(string(t.RequestedAt), 64); err == nil && ms > 0 {
		tok.RequestedAt = int64(ms)
	}
	return tok, true
}

// TokenData builds token event data: a delta (piece of text) or, with
// whole, the whole text so far; done marks the end of the stream.
func TokenData(stream string, seq int64, text string, whole, done bool) string {
	b := make([]byte, 0, 48+len(stream)+len(text)+len(text)/8)
	b = append(b, `{"stream":`...)
	b = append(b, stream...)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, seq, 10)
	if whole {
		b = append(b, `,"text":`...)
		b = AppendQuoted(b, text)
	} else if text != "" || !done {
		b = append(b, `,"delta":`...)
		b = AppendQuoted(b, text)
	}
	if done {
		b = append(b, `,"done":true`...)
	}
	return string(append(b, '}'))
}

// NewTokenFrame builds the event that carries tok, in the convention's
// data, with tok attached.
func NewTokenFrame(event, channel, userID string, tok *Token) *Frame {
	f := NewFrame(event, channel, TokenData(tok.Stream, tok.Seq, tok.Delta, tok.Whole, tok.Done), DataString, userID)
	f.Token = tok
	return f
}

// TokenMerge grows one token event out of consecutive token events of a
// stream, for a client that has fallen behind: the deltas joined, the latest
// seq and done. Add costs only the added delta and Frame builds the event
// once, because merging each token into a new frame would copy the whole
// text so far every time, quadratic over a long stall.
type TokenMerge struct {
	first *Frame // the event the others join: channel, event, stream, times
	delta []byte
	seq   int64
	done  bool
	size  int
}

// NewTokenMerge starts a merge at token event a.
func NewTokenMerge(a *Frame) *TokenMerge {
	t := a.Token
	delta := make([]byte, 0, 2*len(t.Delta)+64)
	return &TokenMerge{first: a, delta: append(delta, t.Delta...), seq: t.Seq, done: t.Done, size: a.Size()}
}

// Growth is how many bytes the event's JSON grows by when b, the stream's
// next token event, is added.
func (m *TokenMerge) Growth(b *Frame) int {
	t := b.Token
	grow := deltaWireLen(t.Delta) + decimalLen(t.Seq) - decimalLen(m.seq)
	if t.Done && !m.done {
		grow += len(`,\"done\":true`)
	}
	return grow
}

// Add appends b, the stream's next token event; grow is Growth(b), which
// the caller has measured against its limits already.
func (m *TokenMerge) Add(b *Frame, grow int) {
	m.size += grow
	m.delta = append(m.delta, b.Token.Delta...)
	m.seq, m.done = b.Token.Seq, b.Token.Done
}

// Seq and Done are those of the last token added.
func (m *TokenMerge) Seq() int64 { return m.seq }
func (m *TokenMerge) Done() bool { return m.done }

// DeltaLen is the length of the joined deltas.
func (m *TokenMerge) DeltaLen() int { return len(m.delta) }

// Size is the JSON size of the merged event, as Frame builds it (a done
// token with no text anywhere may come out a few bytes smaller).
func (m *TokenMerge) Size() int { return m.size }

// Frame builds the merged event. Fields a producer added beyond the
// convention are not carried over.
func (m *TokenMerge) Frame() *Frame {
	a := m.first
	f := NewTokenFrame(a.Event, a.Channel, a.UserID, &Token{Stream: a.Token.Stream, Seq: m.seq, Delta: string(m.delta), Done: m.done, Whole: a.Token.Whole})
	// The merged event is as late as its oldest part.
	f.Ingested, f.Source = a.Ingested, a.Source
	return f
}

// deltaWireLen is how many bytes text takes in an event frame's JSON as a
// token's delta: quoted once in the data, and the data quoted again in the
// frame (AppendQuoted twice, without the quotes).
func deltaWireLen(text string) int {
	n := 0
	for i := 0; i < len(text); {
		b := text[i]
		if b < utf8.RuneSelf {
			switch {
			case safeASCII[b]:
				n++
			case b == '"' || b == '\\':
				n += 4 // \\\" or \\\\
			case b == '\n' || b == '\r' || b == '\t':
				n += 3 // \\n
			default:
				n += 7 // \\u00XX
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if (r == utf8.RuneError && size == 1) || r == '\u2028' || r == '\u2029' {
			n += 7 // \\ufffd, \\u2028
		} else {
			n += size
		}
		i += size
	}
	return n
}

func decimalLen(n int64) int {
	var buf [20]byte
	return len(strconv.AppendInt(buf[:0], n, 10))
}
