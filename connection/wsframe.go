package connection

import (
	"encoding/binary"
	"unicode/utf8"
)

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// WebSocket close codes used when a client breaks the protocol.
const (
	closeNormal          = 1000
	closeProtocolError   = 1002
	closeInvalidPayload  = 1007
	closeMessageTooLarge = 1009
)

// frameError ends a connection with a WebSocket close code.
type frameError struct {
	code   uint16
	reason string
}

func (e *frameError) Error() string { return e.reason }

var (
	errUnmasked        = &frameError{closeProtocolError, "client frames must be masked"}
	errReservedBits    = &frameError{closeProtocolError, "reserved bits set without an extension"}
	errCompressedFrame = &frameError{closeProtocolError, "only the first frame of a data message may be compressed"}
	errBadOpcode       = &frameError{closeProtocolError, "unknown opcode"}
	errControlFrame    = &frameError{closeProtocolError, "control frames must be final and at most 125 bytes"}
	errContinuation    = &frameError{closeProtocolError, "continuation without a message, or a message inside a message"}
	errTooLarge        = &frameError{closeMessageTooLarge, "message too large"}
	errInvalidUTF8     = &frameError{closeInvalidPayload, "text message is not valid UTF-8"}
	errBadClosePayload = &frameError{closeProtocolError, "malformed close frame"}
)

// frameSink receives what a frameReader assembles. Message payloads are
// only valid during the call.
type frameSink interface {
	message(opcode byte, payload []byte)
	control(opcode byte, payload []byte)
}

// frameReader assembles client WebSocket messages from the bytes read off
// a socket, in whatever pieces they arrive: it keeps an incomplete frame
// and the fragments of an unfinished message between calls. It validates
// what RFC 6455 requires of a client (masking, reserved bits, control frame
// rules, fragmentation order, UTF-8 text) and the size limit. With
// permessage-deflate negotiated, RSV1 on a message's first frame marks it
// compressed (RFC 7692); it is inflated, within the size limit, before it
// is delivered.
type frameReader struct {
	maxMessage   int
	deflate      bool   // permessage-deflate was negotiated
	partial      []byte // the start of a frame that has not fully arrived
	fragments    []byte // payload of an unfinished fragmented message
	fragOp       byte   // its opcode, 0 when none is in progress
	fragDeflated bool   // the unfinished message is compressed
}

// feed consumes data and hands every complete message and control frame to
// sink, in order. An error means the connection must be closed with its code.
func (r *frameReader) feed(data []byte, sink frameSink) error {
	if len(r.partial) > 0 {
		r.partial = append(r.partial, data...)
		data = r.partial
	}
	for {
		n, err := r.next(data, sink)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		data = data[n:]
	}
	if len(data) == 0 {
		r.partial = r.partial[:0]
		if cap(r.partial) > 4096 {
			r.partial = nil
		}
		return nil
	}
	if len(r.partial) > 0 && &data[0] == &r.partial[0] {
		return nil // the incomplete frame already sits at the start of partial
	}
	r.partial = append(r.partial[:0], data...)
	return nil
}

// next parses one frame at the start of data. It returns the bytes consumed,
// 0 when data holds no complete frame.
func (r *frameReader) next(data []byte, sink frameSink) (int, error) {
	if len(data) < 2 {
		return 0, nil
	}
	b0, b1 := data[0], data[1]
	fin, opcode := b0&0x80 != 0, b0&0x0f
	compressed := b0&rsv1 != 0 && r.deflate
	if b0&0x70 != 0 && (b0&0x70 != rsv1 || !r.deflate) {
		return 0, errReservedBits
	}
	if compressed && (opcode == opContinuation || opcode >= opClose) {
		return 0, errCompressedFrame
	}
	if b1&0x80 == 0 {
		return 0, errUnmasked
	}
	length, head := uint64(b1&0x7f), 2
	switch length {
	case 126:
		if len(data) < 4 {
			return 0, nil
		}
		length, head = uint64(binary.BigEndian.Uint16(data[2:])), 4
	case 127:
		if len(data) < 10 {
			return 0, nil
		}
		length, head = binary.BigEndian.Uint64(data[2:]), 10
	}
	control := opcode >= opClose
	if control && (!fin || length > 125) {
		return 0, errControlFrame
	}
	if length > uint64(r.maxMessage) || !control && uint64(len(r.fragments))+length > uint64(r.maxMessage) {
		return 0, errTooLarge
	}
	total := head + 4 + int(length)
	if len(data) < total {
		return 0, nil
	}
	var mask [4]byte
	copy(mask[:], data[head:head+4])
	payload := data[head+4 : total]
	unmask(payload, mask)

	switch {
	case control:
		if opcode > opPong {
			return 0, errBadOpcode
		}
		if opcode == opClose {
			if err := checkClose(payload); err != nil {
				return 0, err
			}
		}
		sink.control(opcode, payload)
	case opcode == opContinuation:
		if r.fragOp == 0 {
			return 0, errContinuation
		}
		r.fragments = append(r.fragments, payload...)
		if fin {
			return total, r.deliver(r.fragOp, r.fragments, r.fragDeflated, sink)
		}
	case opcode == opText || opcode == opBinary:
		if r.fragOp != 0 {
			return 0, errContinuation
		}
		if fin {
			return total, r.deliver(opcode, payload, compressed, sink)
		}
		r.fragOp, r.fragDeflated = opcode, compressed
		r.fragments = append(r.fragments[:0], payload...)
	default:
		return 0, errBadOpcode
	}
	return total, nil
}

func (r *frameReader) deliver(opcode byte, payload []byte, compressed bool, sink frameSink) error {
	var err error
	if compressed {
		err = inflate(payload, r.maxMessage, func(message []byte) error { return deliverMessage(opcode, message, sink) })
	} else {
		err = deliverMessage(opcode, payload, sink)
	}
	if err != nil {
		return err
	}
	if r.fragOp != 0 {
		r.fragOp, r.fragDeflated = 0, false
		r.fragments = r.fragments[:0]
		if cap(r.fragments) > 4096 {
			r.fragments = nil
		}
	}
	return nil
}

func deliverMessage(opcode byte, payload []byte, sink frameSink) error {
	if opcode == opText && !utf8.Valid(payload) {
		return errInvalidUTF8
	}
	sink.message(opcode, payload)
	return nil
}

// checkClose validates a close frame's payload: empty, or a code and a UTF-8
// reason.
func checkClose(p []byte) error {
	if len(p) == 0 {
		return nil
	}
	if len(p) == 1 || !utf8.Valid(p[2:]) {
		return errBadClosePayload
	}
	switch code := binary.BigEndian.Uint16(p); {
	case code < 1000, code >= 1004 && code <= 1006, code >= 1015 && code < 3000, code >= 5000:
		return errBadClosePayload
	}
	return nil
}

func unmask(p []byte, mask [4]byte) {
	// Eight bytes at a time, then the rest.
	if len(p) >= 8 {
		m := uint64(binary.LittleEndian.Uint32(mask[:]))
		m |= m << 32
		for len(p) >= 8 {
			binary.LittleEndian.PutUint64(p, binary.LittleEndian.Uint64(p)^m)
			p = p[8:]
		}
	}
	for i := range p {
		p[i] ^= mask[i&3]
	}
}

// appendControlFrame appends an unmasked control frame (close, pong).
func appendControlFrame(dst []byte, opcode byte, payload []byte) []byte {
	dst = append(dst, 0x80|opcode, byte(len(payload)))
	return append(dst, payload...)
}

// closePayload is a close frame's payload: the code and a reason cut to fit
// the 125-byte limit on a valid UTF-8 boundary.
func closePayload(code uint16, reason string) []byte {
	p := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(reason)), code)
	for len(reason) > 123 {
		_, size := utf8.DecodeLastRuneInString(reason)
		reason = reason[:len(reason)-size]
	}
	return append(p, reason...)
}
