package connection

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/klauspost/compress/flate"
	"github.com/quaver-dev/quaver/protocol"
)

func TestAcceptsDeflate(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   bool
	}{
		{"Chromium and Firefox", []string{"permessage-deflate; client_max_window_bits"}, true},
		{"bare", []string{"permessage-deflate"}, true},
		{"name in another case", []string{"PerMessage-Deflate"}, true},
		{"no context takeover asked", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, true},
		{"client window limited", []string{"permessage-deflate; client_max_window_bits=10"}, true},
		{"quoted value", []string{`permessage-deflate; client_max_window_bits="12"`}, true},
		{"server window of 15 bits", []string{"permessage-deflate; server_max_window_bits=15"}, true},
		{"spaces everywhere", []string{" permessage-deflate ;  client_max_window_bits = 9 "}, true},
		{"smaller server window declined", []string{"permessage-deflate; server_max_window_bits=10"}, false},
		{"second offer taken", []string{"permessage-deflate; server_max_window_bits=10, permessage-deflate; client_max_window_bits"}, true},
		{"in a second header line", []string{"x-webkit-deflate-frame", "permessage-deflate"}, true},
		{"server window without value", []string{"permessage-deflate; server_max_window_bits"}, false},
		{"window out of range", []string{"permessage-deflate; client_max_window_bits=16"}, false},
		{"window not a number", []string{"permessage-deflate; client_max_window_bits=x"}, false},
		{"value on a flag", []string{"permessage-deflate; server_no_context_takeover=1"}, false},
		{"parameter twice", []string{"permessage-deflate; client_no_context_takeover; client_no_context_takeover"}, false},
		{"unknown parameter", []string{"permessage-deflate; mystery"}, false},
		{"other extension", []string{"x-webkit-deflate-frame"}, false},
		{"prefix of the name", []string{"permessage-deflate-2"}, false},
		{"none", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.values {
				h.Add("Sec-WebSocket-Extensions", v)
			}
			if got := acceptsDeflate(h); got != tt.want {
				t.Fatalf("acceptsDeflate(%q) = %v, want %v", tt.values, got, tt.want)
			}
		})
	}
}

// deflateRaw compresses p as a permessage-deflate sender does: a sync
// flush, without its 00 00 ff ff tail.
func deflateRaw(t testing.TB, p []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.DefaultCompression)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(p)
	_ = w.Flush()
	return bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// compressedFrame is clientFrame with RSV1 set.
func compressedFrame(fin bool, opcode byte, payload []byte) []byte {
	f := clientFrame(fin, opcode, payload)
	f[0] |= rsv1
	return f
}

// inflateServerFrame reads one server frame and returns its opcode and
// payload, inflated when RSV1 is set, as a client would.
func inflateServerFrame(t testing.TB, frame []byte) (byte, bool, []byte) {
	t.Helper()
	if frame[0]&0x80 == 0 {
		t.Fatalf("frame not final: % x", frame[:2])
	}
	length, head := int(frame[1]&0x7f), 2
	switch length {
	case 126:
		length, head = int(frame[2])<<8|int(frame[3]), 4
	case 127:
		length, head = int(frame[6])<<24|int(frame[7])<<16|int(frame[8])<<8|int(frame[9]), 10
	}
	if len(frame) != head+length {
		t.Fatalf("frame of %d bytes declares %d", len(frame), head+length)
	}
	payload := frame[head:]
	compressed := frame[0]&rsv1 != 0
	if compressed {
		out, err := io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(payload), strings.NewReader(flateTail))))
		if err != nil {
			t.Fatalf("inflate: %v", err)
		}
		payload = out
	}
	return frame[0] & 0x0f, compressed, payload
}

func TestDeflaterFrames(t *testing.T) {
	long := strings.Repeat(`{"stream":"s","seq":1,"delta":"token"}`, 40)
	d := newDeflater(512)
	tests := []struct {
		name           string
		payload        string
		wantCompressed bool
	}{
		{"below the threshold", `{"event":"pusher:pong","data":{}}`, false},
		{"at the threshold, compressible", strings.Repeat("a", 512), true},
		{"long JSON", long, true},
		{"incompressible stays as it is", string(randomBytes(2000)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, opcode := range []byte{opText, opBinary} {
				frame := d.frame(nil, opcode, []byte(tt.payload))
				gotOp, compressed, payload := inflateServerFrame(t, frame)
				if gotOp != opcode || compressed != tt.wantCompressed || string(payload) != tt.payload {
					t.Fatalf("opcode %d compressed %v payload %d bytes; want %d %v %d", gotOp, compressed, len(payload), opcode, tt.wantCompressed, len(tt.payload))
				}
				if compressed && len(frame) >= len(tt.payload) {
					t.Fatalf("compressed frame of %d bytes for %d bytes", len(frame), len(tt.payload))
				}
			}
		})
	}
	t.Run("threshold 0 compresses short frames", func(t *testing.T) {
		_, compressed, payload := inflateServerFrame(t, newDeflater(0).frame(nil, opText, []byte(`{"event":"a","data":"aaaaaaaaaaaaaaaaaaaaaaaa"}`)))
		if !compressed || string(payload) != `{"event":"a","data":"aaaaaaaaaaaaaaaaaaaaaaaa"}` {
			t.Fatalf("compressed %v, payload %s", compressed, payload)
		}
	})
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// TestEncodingFrames: each encoding writes the frame a client of that
// encoding reads back as the same Pusher message, and caches it on the
// frame so the next recipient gets the very same bytes.
func TestEncodingFrames(t *testing.T) {
	d := newDeflater(0)
	f := protocol.NewFrame("token", "private-ai", protocol.TokenData(`"s"`, 3, strings.Repeat(" hello", 100), false, false), protocol.DataString, "")
	for _, enc := range []encoding{{}, {msgpack: true}, {deflate: d}, {msgpack: true, deflate: d}} {
		t.Run(fmt.Sprintf("msgpack=%v deflate=%v", enc.msgpack, enc.deflate != nil), func(t *testing.T) {
			first := enc.appendFrame(nil, f)
			opcode, compressed, payload := inflateServerFrame(t, first)
			if compressed != (enc.deflate != nil) {
				t.Fatalf("compressed %v", compressed)
			}
			if enc.msgpack {
				e, err := protocol.ReadMsgpack(payload)
				if opcode != opBinary || err != nil || string(e.Event) != f.Event || string(e.Channel) != f.Channel || string(e.Data) != f.Data || e.DataKind != protocol.DataString {
					t.Fatalf("opcode %d, read %+v, %v", opcode, e, err)
				}
			} else if opcode != opText || !bytes.Equal(payload, f.JSON) {
				t.Fatalf("opcode %d, payload %s", opcode, payload)
			}
			if again := enc.appendFrame([]byte("x"), f); !bytes.Equal(again[1:], first) {
				t.Fatal("a second recipient got different bytes")
			}
			allocs := testing.AllocsPerRun(100, func() { _ = enc.appendFrame(first[:0], f) })
			if allocs != 0 {
				t.Fatalf("%v allocations per recipient", allocs)
			}
		})
	}
}

func TestFrameReaderDeflate(t *testing.T) {
	hello := []byte(`{"event":"client-hello","channel":"private-a","data":{"text":"hello hello hello"}}`)
	z := deflateRaw(t, hello)
	bomb := deflateRaw(t, bytes.Repeat([]byte{' '}, 5000))
	tests := []struct {
		name    string
		deflate bool
		input   []byte
		want    []string
		err     *frameError
	}{
		{"compressed text", true, compressedFrame(true, opText, z), []string{"msg 1 " + string(hello)}, nil},
		{"compressed binary", true, compressedFrame(true, opBinary, deflateRaw(t, []byte{0x81, 0xa1, 'x', 0xc0})), []string{"msg 2 \x81\xa1x\xc0"}, nil},
		{"uncompressed beside compressed", true, cat(clientFrame(true, opText, []byte("plain")), compressedFrame(true, opText, z)),
			[]string{"msg 1 plain", "msg 1 " + string(hello)}, nil},
		{"compressed in fragments with a ping between", true, cat(
			compressedFrame(false, opText, z[:5]), clientFrame(true, opPing, []byte("p")),
			clientFrame(false, opContinuation, z[5:9]), clientFrame(true, opContinuation, z[9:])),
			[]string{`ctl 9 "p"`, "msg 1 " + string(hello)}, nil},
		{"empty compressed message", true, compressedFrame(true, opText, deflateRaw(t, nil)), []string{"msg 1 "}, nil},
		{"RSV1 without deflate", false, compressedFrame(true, opText, z), nil, errReservedBits},
		{"RSV2 with deflate", true, func() []byte { f := clientFrame(true, opText, []byte("a")); f[0] |= 0x20; return f }(), nil, errReservedBits},
		{"RSV1 and RSV3", true, func() []byte { f := compressedFrame(true, opText, z); f[0] |= 0x10; return f }(), nil, errReservedBits},
		{"RSV1 on a continuation", true, cat(compressedFrame(false, opText, z[:5]), compressedFrame(true, opContinuation, z[5:])), nil, errCompressedFrame},
		{"RSV1 on a ping", true, compressedFrame(true, opPing, nil), nil, errCompressedFrame},
		{"RSV1 on a close", true, compressedFrame(true, opClose, nil), nil, errCompressedFrame},
		{"inflates past the limit", true, compressedFrame(true, opText, bomb), nil, errTooLarge},
		{"not deflate data", true, compressedFrame(true, opText, []byte{0xff, 0xff, 0xff}), nil, errInflate},
		{"inflates to invalid UTF-8", true, compressedFrame(true, opText, deflateRaw(t, []byte{0xff, 0xfe})), nil, errInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFeed(t, func() *frameReader { return &frameReader{maxMessage: 1000, deflate: tt.deflate} }, tt.input, tt.want, tt.err)
		})
	}
}

// FuzzFrameReaderDeflate: arbitrary bytes as a compressed message never
// panic and never deliver more than the limit; compressed messages built
// from the input, whole or in fragments, read back exactly.
func FuzzFrameReaderDeflate(f *testing.F) {
	f.Add([]byte(`{"event":"pusher:ping","data":{}}`), uint8(3), uint8(2))
	f.Add([]byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, uint8(1), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, chunk, fragments uint8) {
		step := int(chunk%16) + 1
		const limit = 1 << 12
		// The input as the compressed payload of one message.
		r := &frameReader{maxMessage: limit, deflate: true}
		sink := &recording{}
		err := r.feed(compressedFrame(true, opBinary, data), sink)
		var fe *frameError
		switch {
		case err == nil && (len(sink.got) != 1 || len(sink.got[0]) > len("msg 2 ")+limit):
			t.Fatalf("delivered %d messages, first %d bytes", len(sink.got), len(sink.got[0]))
		case err != nil && (!errors.As(err, &fe) || fe != errInflate && fe != errTooLarge):
			t.Fatalf("error %v", err)
		}
		// The input compressed, in fragments: read back exactly.
		if len(data) > limit {
			return
		}
		z := deflateRaw(t, data)
		n := int(fragments%4) + 1
		size := (len(z) + n - 1) / n
		var stream []byte
		for i := range n {
			part := z[min(i*size, len(z)):min((i+1)*size, len(z))]
			if i == 0 {
				stream = append(stream, compressedFrame(n == 1, opBinary, part)...)
			} else {
				stream = append(stream, clientFrame(i == n-1, opContinuation, part)...)
			}
		}
		r = &frameReader{maxMessage: limit + 64, deflate: true}
		sink = &recording{}
		for i := 0; i < len(stream); i += step {
			if err := r.feed(append([]byte(nil), stream[i:min(i+step, len(stream))]...), sink); err != nil {
				t.Fatalf("valid stream rejected: %v", err)
			}
		}
		if len(sink.got) != 1 || sink.got[0] != "msg 2 "+string(data) {
			t.Fatalf("read back %q", sink.got)
		}
	})
}
