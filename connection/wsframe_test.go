package connection

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/quaver-dev/quaver/client"
)

// clientFrame builds a masked frame as a browser sends it.
func clientFrame(fin bool, opcode byte, payload []byte) []byte {
	b0 := opcode
	if fin {
		b0 |= 0x80
	}
	return client.AppendMaskedFrame(nil, b0, payload, [4]byte{0x12, 0x34, 0x56, 0x78})
}

// checkFeed feeds input to a new reader whole and in chunks of 1, 3 and 7
// bytes: each time it must deliver want and keep nothing over, or fail
// with wantErr.
func checkFeed(t *testing.T, newReader func() *frameReader, input []byte, want []string, wantErr *frameError) {
	t.Helper()
	for _, chunk := range []int{len(input), 1, 3, 7} {
		r := newReader()
		sink := &recording{}
		var err error
		for i := 0; i < len(input) && err == nil; i += chunk {
			err = r.feed(append([]byte(nil), input[i:min(i+chunk, len(input))]...), sink)
		}
		if wantErr != nil {
			var fe *frameError
			if !errors.As(err, &fe) || fe != wantErr {
				t.Fatalf("chunks of %d: error %v, want %v", chunk, err, wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("chunks of %d: %v", chunk, err)
		}
		if fmt.Sprint(sink.got) != fmt.Sprint(want) {
			t.Fatalf("chunks of %d: got %q, want %q", chunk, sink.got, want)
		}
		if len(r.partial) != 0 {
			t.Fatalf("chunks of %d: %d bytes left over", chunk, len(r.partial))
		}
	}
}

// recording is a frameSink that keeps copies of what it got.
type recording struct{ got []string }

func (r *recording) message(op byte, p []byte) {
	r.got = append(r.got, fmt.Sprintf("msg %d %s", op, p))
}
func (r *recording) control(op byte, p []byte) {
	r.got = append(r.got, fmt.Sprintf("ctl %d %q", op, p))
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

func TestFrameReader(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 70000)
	tests := []struct {
		name  string
		input []byte
		want  []string
		err   *frameError
	}{
		{"text", clientFrame(true, opText, []byte(`{"event":"pusher:ping"}`)), []string{`msg 1 {"event":"pusher:ping"}`}, nil},
		{"two in one read", cat(clientFrame(true, opText, []byte("a")), clientFrame(true, opText, []byte("b"))), []string{"msg 1 a", "msg 1 b"}, nil},
		{"16-bit length", clientFrame(true, opText, bytes.Repeat([]byte("y"), 300)), []string{"msg 1 " + string(bytes.Repeat([]byte("y"), 300))}, nil},
		{"64-bit length", clientFrame(true, opBinary, big), []string{"msg 2 " + string(big)}, nil},
		{"fragmented with a ping between", cat(
			clientFrame(false, opText, []byte("hel")), clientFrame(true, opPing, []byte("p")),
			clientFrame(false, opContinuation, []byte("lo ")), clientFrame(true, opContinuation, []byte("you"))),
			[]string{`ctl 9 "p"`, "msg 1 hello you"}, nil},
		{"close with code", clientFrame(true, opClose, closePayload(1000, "bye")), []string{`ctl 8 "\x03\xe8bye"`}, nil},
		{"empty close", clientFrame(true, opClose, nil), []string{`ctl 8 ""`}, nil},
		{"unmasked", []byte{0x81, 0x01, 'a'}, nil, errUnmasked},
		{"reserved bit", func() []byte { f := clientFrame(true, opText, []byte("a")); f[0] |= 0x40; return f }(), nil, errReservedBits},
		{"unknown opcode", clientFrame(true, 0x3, []byte("a")), nil, errBadOpcode},
		{"unknown control opcode", clientFrame(true, 0xB, nil), nil, errBadOpcode},
		{"fragmented control", clientFrame(false, opPing, nil), nil, errControlFrame},
		{"long control", clientFrame(true, opPing, bytes.Repeat([]byte("p"), 126)), nil, errControlFrame},
		{"continuation first", clientFrame(true, opContinuation, []byte("a")), nil, errContinuation},
		{"message inside a message", cat(clientFrame(false, opText, []byte("a")), clientFrame(true, opText, []byte("b"))), nil, errContinuation},
		{"too large", clientFrame(true, opText, bytes.Repeat([]byte("z"), 1001)), nil, errTooLarge},
		{"too large in fragments", cat(clientFrame(false, opText, bytes.Repeat([]byte("z"), 600)), clientFrame(true, opContinuation, bytes.Repeat([]byte("z"), 600))), nil, errTooLarge},
		{"invalid UTF-8", clientFrame(true, opText, []byte{0xff, 0xfe}), nil, errInvalidUTF8},
		{"binary may be anything", clientFrame(true, opBinary, []byte{0xff}), []string{"msg 2 \xff"}, nil},
		{"close with a reserved code", clientFrame(true, opClose, closePayload(1005, "")), nil, errBadClosePayload},
		{"close with one byte", clientFrame(true, opClose, []byte{3}), nil, errBadClosePayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			limit := 1000
			if tt.name == "64-bit length" {
				limit = 100000
			}
			checkFeed(t, func() *frameReader { return &frameReader{maxMessage: limit} }, tt.input, tt.want, tt.err)
		})
	}
}

func TestClosePayloadFitsControlFrame(t *testing.T) {
	p := closePayload(4009, string(bytes.Repeat([]byte("é"), 100)))
	if len(p) > 125 || checkClose(p) != nil {
		t.Fatalf("close payload of %d bytes, valid=%v", len(p), checkClose(p) == nil)
	}
}

// FuzzFrameReader feeds arbitrary bytes in arbitrary pieces: the reader
// never panics, and frames built from the input are read back whole.
func FuzzFrameReader(f *testing.F) {
	f.Add([]byte(`{"event":"pusher:ping","data":{}}`), uint8(3), uint8(5))
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4, 'h', 'e', 'l', 'l', 'o'}, uint8(1), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, chunk, fragments uint8) {
		step := int(chunk%16) + 1
		// Arbitrary bytes: no panic, whatever the outcome.
		r := &frameReader{maxMessage: 1 << 16}
		for i := 0; i < len(data); i += step {
			if r.feed(append([]byte(nil), data[i:min(i+step, len(data))]...), &recording{}) != nil {
				break
			}
		}
		// The same bytes as a binary message in fragments: read back exactly.
		n := int(fragments%4) + 1
		var stream []byte
		size := (len(data) + n - 1) / n
		for i := 0; i < n; i++ {
			part := data[min(i*size, len(data)):min((i+1)*size, len(data))]
			op := byte(opContinuation)
			if i == 0 {
				op = opBinary
			}
			stream = append(stream, clientFrame(i == n-1, op, part)...)
		}
		r = &frameReader{maxMessage: 1 << 16}
		sink := &recording{}
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
