package protocol

import (
	"bytes"
	"encoding/json"
	"strconv"
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

// ParseToken reads a token from event data, reporting false when the data
// does not follow the convention.
func ParseToken(data string) (*Token, bool) {
	var t struct {
		Stream json.RawMessage `json:"stream"`
		Seq    *int64          `json:"seq"`
		Delta  string          `json:"delta"`
		Done   bool            `json:"done"`
		// A number of milliseconds; anything else is ignored.
		RequestedAt json.RawMessage `json:"requested_at"`
	}
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

// MergeTokens returns one token event carrying a followed by b, two
// consecutive token events of one stream: the deltas concatenated, b's seq
// and done. A slow client gets the same text in one frame instead of two.
// Fields a producer added beyond the convention are not carried over.
func MergeTokens(a, b *Frame) *Frame {
	ta, tb := a.Token, b.Token
	tok := &Token{Stream: ta.Stream, Seq: tb.Seq, Delta: ta.Delta + tb.Delta, Done: tb.Done, Whole: ta.Whole}
	f := NewFrame(a.Event, a.Channel, TokenData(tok.Stream, tok.Seq, tok.Delta, tok.Whole, tok.Done), DataString, a.UserID)
	f.Token = tok
	// The merged event is as late as its oldest part.
	f.Ingested, f.Source = a.Ingested, a.Source
	return f
}
