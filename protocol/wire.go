package protocol

import (
	"encoding/binary"
	"errors"
)

// ErrBadWire reports a frame payload that UnmarshalFrame cannot read.
var ErrBadWire = errors.New("protocol: malformed frame payload")

const wireVersion = 1

// Flags in the wire form. Bits 4-5 hold the frame's Source. A reader
// ignores flags it does not know, so a node may add one without breaking
// older nodes during a rolling upgrade; what follows a flag's field is
// appended after the fields older nodes read.
const (
	wireHasToken = 1 << iota
	wireTokenDone
	wireTokenFirst
	wireTokenRequested // the token's RequestedAt follows its delta
	wireSourceShift    = 4
	wireSourceMask     = 3 << wireSourceShift
)

// MarshalFrame encodes f, and the socket id to exclude from delivery, into
// the compact form that crosses nodes and sits in caches and history.
func MarshalFrame(f *Frame, except string) []byte {
	n := 16 + len(f.Event) + len(f.Channel) + len(f.Data) + len(f.UserID) + len(except)
	if f.Token != nil {
		n += 16 + len(f.Token.Stream) + len(f.Token.Delta)
	}
	b := make([]byte, 0, n+5*binary.MaxVarintLen64)
	flags := byte(f.Source) << wireSourceShift & wireSourceMask
	if t := f.Token; t != nil {
		flags |= wireHasToken
		if t.Done {
			flags |= wireTokenDone
		}
		if t.First {
			flags |= wireTokenFirst
		}
		if t.RequestedAt != 0 {
			flags |= wireTokenRequested
		}
	}
	b = append(b, wireVersion, byte(f.Kind), flags)
	b = binary.AppendVarint(b, f.Ingested)
	for _, s := range [...]string{f.Event, f.Channel, f.Data, f.UserID, except} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	if f.Token != nil {
		b = binary.AppendVarint(b, f.Token.Seq)
		for _, s := range [...]string{f.Token.Stream, f.Token.Delta} {
			b = binary.AppendUvarint(b, uint64(len(s)))
			b = append(b, s...)
		}
		if f.Token.RequestedAt != 0 {
			b = binary.AppendVarint(b, f.Token.RequestedAt)
		}
	}
	return b
}

// UnmarshalFrame decodes what MarshalFrame encoded and rebuilds the frame's
// JSON text.
func UnmarshalFrame(b []byte) (f *Frame, except string, err error) {
	r := wireReader{b: b}
	if r.byte() != wireVersion {
		return nil, "", ErrBadWire
	}
	kind := DataKind(r.byte())
	flags := r.byte()
	ingested := r.varint()
	var s [5]string
	for i := range s {
		s[i] = r.string()
	}
	var tok *Token
	if flags&wireHasToken != 0 {
		tok = &Token{Seq: r.varint(), Done: flags&wireTokenDone != 0, First: flags&wireTokenFirst != 0}
		tok.Stream = r.string()
		tok.Delta = r.string()
		if flags&wireTokenRequested != 0 {
			tok.RequestedAt = r.varint()
		}
	}
	if r.err || kind > DataRaw {
		return nil, "", ErrBadWire
	}
	f = NewFrame(s[0], s[1], s[2], kind, s[3])
	f.Token = tok
	f.Ingested = ingested
	f.Source = Source(flags & wireSourceMask >> wireSourceShift)
	return f, s[4], nil
}

type wireReader struct {
	b   []byte
	err bool
}

func (r *wireReader) byte() byte {
	if len(r.b) == 0 {
		r.err = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *wireReader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wireReader) string() string {
	l, n := binary.Uvarint(r.b)
	if n <= 0 || l > uint64(len(r.b)-n) {
		r.err = true
		return ""
	}
	s := string(r.b[n : n+int(l)])
	r.b = r.b[n+int(l):]
	return s
}
