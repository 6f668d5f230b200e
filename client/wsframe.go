package client

import "encoding/binary"

// AppendMaskedFrame appends one WebSocket frame as a client sends it
// (RFC 6455 §5.2): b0 is the first byte (FIN, RSV bits and opcode), the
// length in its shortest form, and payload masked with mask.
func AppendMaskedFrame(dst []byte, b0 byte, payload []byte, mask [4]byte) []byte {
	dst = append(dst, b0)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n < 1<<16:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = binary.BigEndian.AppendUint64(append(dst, 0x80|127), uint64(n))
	}
	dst = append(dst, mask[:]...)
	for i, b := range payload {
		dst = append(dst, b^mask[i%4])
	}
	return dst
}
