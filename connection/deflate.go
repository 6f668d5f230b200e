package connection

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/klauspost/compress/flate"
	"github.com/quaver-dev/quaver/protocol"
)

// permessage-deflate (RFC 7692) without context takeover in either
// direction: every message is compressed on its own, so a compressed frame
// is the same bytes for every recipient and is made once per broadcast, as
// the uncompressed one is; and no connection keeps a compression window,
// which would cost each idle connection tens of kilobytes.

// deflateResponse is the extension the server agrees to. RFC 7692 lets a
// server ask for client_no_context_takeover even when the client did not
// offer it (section 7.1.1.2); browsers accept it.
const deflateResponse = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// acceptsDeflate reports whether the handshake offers permessage-deflate in
// a form the server can accept: the first offer that names it with known,
// well-formed parameters, and without asking the server for a window
// smaller than deflate's 32 KiB. Offers are read from every
// Sec-WebSocket-Extensions header, in order.
func acceptsDeflate(h http.Header) bool {
	for _, value := range h.Values("Sec-WebSocket-Extensions") {
		for _, offer := range strings.Split(value, ",") {
			if deflateOfferAcceptable(offer) {
				return true
			}
		}
	}
	return false
}

// deflateOfferAcceptable checks one offer: "permessage-deflate" followed by
// "; parameter[=value]" parts (RFC 7692 section 7.1).
func deflateOfferAcceptable(offer string) bool {
	parts := strings.Split(offer, ";")
	if !strings.EqualFold(strings.TrimSpace(parts[0]), "permessage-deflate") {
		return false
	}
	seen := map[string]bool{}
	for _, p := range parts[1:] {
		name, value, hasValue := strings.Cut(strings.TrimSpace(p), "=")
		name = strings.ToLower(strings.TrimSpace(name))
		if seen[name] {
			return false // a parameter given twice makes the offer invalid
		}
		seen[name] = true
		value = strings.TrimSpace(value)
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		switch name {
		case "server_no_context_takeover", "client_no_context_takeover":
			if hasValue {
				return false
			}
		case "server_max_window_bits":
			// A smaller window than 15 bits would need a compressor of its
			// own; decline such an offer rather than break it.
			if bits, ok := windowBits(value); !hasValue || !ok || bits != 15 {
				return false
			}
		case "client_max_window_bits":
			// The client may be told a limit; it needs none from us.
			if _, ok := windowBits(value); hasValue && !ok {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func windowBits(v string) (int, bool) {
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 8 && n <= 15 && v[0] != '+' && v[0] != '0'
}

// deflateLevel is the level gws uses for the few frames it compresses
// itself (handshake refusals on TLS). The frames the writer pool sends are
// compressed by deflater, which uses klauspost's stateless deflate.
const deflateLevel = flate.BestSpeed

// deflater compresses outbound frames for connections that negotiated
// permessage-deflate. One is shared by every connection of an endpoint.
// It uses stateless deflate: without a compressor to reset per message it
// is faster than any level of a flate.Writer on Pusher-sized messages, and
// compresses them nearly as well (BenchmarkDeflateChoices).
type deflater struct {
	// threshold is the payload size below which frames are sent as they
	// are: a message of a few dozen bytes does not shrink on its own.
	threshold int

	// The encoders for Frame.Encoded, bound once: a method value made per
	// call would allocate per recipient.
	jsonFrame    func(*protocol.Frame) []byte
	msgpackFrame func(*protocol.Frame) []byte
}

func newDeflater(threshold int) *deflater {
	d := &deflater{threshold: threshold}
	d.jsonFrame = func(f *protocol.Frame) []byte { return d.frame(nil, opText, f.JSON) }
	d.msgpackFrame = func(f *protocol.Frame) []byte {
		return d.frame(nil, opBinary, protocol.AppendFrameMsgpack(make([]byte, 0, msgpackSizeHint(f)), f))
	}
	return d
}

// deflateBuffers holds the buffers compressed payloads are written to.
var deflateBuffers sync.Pool // *appendWriter

// appendWriter is an io.Writer that appends to a slice.
type appendWriter struct{ out []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.out = append(w.out, p...)
	return len(p), nil
}

// frame appends a final data frame with payload to dst, compressed (RSV1
// set) when the payload reaches the threshold and compressing shrinks it.
func (d *deflater) frame(dst []byte, opcode byte, payload []byte) []byte {
	if len(payload) < d.threshold || len(payload) == 0 {
		return appendDataFrame(dst, opcode, payload)
	}
	w, _ := deflateBuffers.Get().(*appendWriter)
	if w == nil {
		w = &appendWriter{}
	}
	w.out = w.out[:0]
	// Not the end of the stream: the output ends with an empty stored
	// block, 00 00 ff ff, which the sender removes and the receiver
	// appends back (RFC 7692 section 7.2.1).
	err := flate.StatelessDeflate(w, payload, false, nil)
	compressed := w.out
	if n := len(compressed); n >= 4 && string(compressed[n-4:]) == "\x00\x00\xff\xff" {
		compressed = compressed[:n-4]
	}
	if err == nil && len(compressed) < len(payload) {
		dst = appendDataFrame(dst, opcode|rsv1, compressed)
	} else {
		dst = appendDataFrame(dst, opcode, payload)
	}
	if cap(w.out) <= 64<<10 {
		deflateBuffers.Put(w)
	}
	return dst
}

// rsv1 marks a compressed message in its first frame's opcode byte.
const rsv1 = 0x40

// flateTail ends a compressed message for the decompressor: the empty
// stored block the sender removed, then a final empty block, so the
// stream ends cleanly.
const flateTail = "\x00\x00\xff\xff\x01\x00\x00\xff\xff"

var errInflate = &frameError{closeInvalidPayload, "invalid compressed message"}

// inflaters holds decompressors for inbound compressed messages; each is
// reset per message (no context takeover).
var inflaters sync.Pool // *inflater

type inflater struct {
	src tailReader
	r   io.ReadCloser
	out []byte
}

// inflate decompresses one message's payload and calls deliver with the
// result, which is only valid during the call. A result over limit bytes is
// errTooLarge; a stream that is not valid deflate data is errInflate.
func inflate(payload []byte, limit int, deliver func([]byte) error) error {
	in, _ := inflaters.Get().(*inflater)
	if in == nil {
		in = &inflater{}
		in.r = flate.NewReader(&in.src)
	}
	in.src = tailReader{payload: payload, tail: flateTail}
	if err := in.r.(flate.Resetter).Reset(&in.src, nil); err != nil {
		return errInflate
	}
	out := in.out[:0]
	for {
		if len(out) == cap(out) {
			out = append(out, 0)[:len(out)]
		}
		n, err := in.r.Read(out[len(out):min(cap(out), limit+1)])
		out = out[:len(out)+n]
		if len(out) > limit {
			return errTooLarge
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return errInflate
		}
	}
	err := deliver(out)
	if cap(out) <= 64<<10 {
		in.out = out[:0]
		in.src = tailReader{}
		inflaters.Put(in)
	}
	return err
}

// tailReader reads payload, then tail; it is an io.ByteReader, so the
// decompressor reads it without a buffer of its own.
type tailReader struct {
	payload []byte
	tail    string
}

func (t *tailReader) Read(p []byte) (int, error) {
	if len(t.payload) > 0 {
		n := copy(p, t.payload)
		t.payload = t.payload[n:]
		return n, nil
	}
	if len(t.tail) > 0 {
		n := copy(p, t.tail)
		t.tail = t.tail[n:]
		return n, nil
	}
	return 0, io.EOF
}

func (t *tailReader) ReadByte() (byte, error) {
	if len(t.payload) > 0 {
		c := t.payload[0]
		t.payload = t.payload[1:]
		return c, nil
	}
	if len(t.tail) > 0 {
		c := t.tail[0]
		t.tail = t.tail[1:]
		return c, nil
	}
	return 0, io.EOF
}
