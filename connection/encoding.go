package connection

import (
	"net/http"
	"strings"

	"github.com/quaver-dev/quaver/protocol"
)

// Frame encoding slots (protocol.Frame.Encoded) of the WebSocket
// transports; the HTTP fallback has slotHTTPFallback. Each holds a
// complete WebSocket frame, made once per Pusher frame and shared by every
// connection that uses the encoding.
const (
	// slotWebSocket holds the preset wire form of control frames
	// (protocol.NewWireFrame): pongs.
	slotWebSocket = 0
	// slotMsgpack: a binary frame holding the MessagePack form.
	slotMsgpack = 1
	// slotDeflateJSON: a text frame, compressed when it reaches the
	// deflate threshold.
	slotDeflateJSON = 2
	// slotDeflateMsgpack: a binary MessagePack frame, compressed likewise.
	slotDeflateMsgpack = 3
)

// encoding is how one WebSocket connection's Pusher messages go on the
// wire: JSON text or MessagePack binary messages, compressed with
// permessage-deflate when it was negotiated.
type encoding struct {
	msgpack bool
	deflate *deflater // nil without permessage-deflate
}

// appendFrame appends f as a complete WebSocket frame. Every form but plain
// JSON is encoded once per frame and cached on it, so a broadcast to many
// connections copies bytes and allocates nothing per recipient.
func (e encoding) appendFrame(dst []byte, f *protocol.Frame) []byte {
	if wire := f.Wire(slotWebSocket); wire != nil {
		return append(dst, wire...)
	}
	switch {
	case e.deflate == nil && !e.msgpack:
		return appendTextFrame(dst, f.JSON)
	case e.deflate == nil:
		return append(dst, f.Encoded(slotMsgpack, msgpackFrame)...)
	case !e.msgpack:
		return append(dst, f.Encoded(slotDeflateJSON, e.deflate.jsonFrame)...)
	default:
		return append(dst, f.Encoded(slotDeflateMsgpack, e.deflate.msgpackFrame)...)
	}
}

func msgpackFrame(f *protocol.Frame) []byte {
	payload := protocol.AppendFrameMsgpack(make([]byte, 0, msgpackSizeHint(f)), f)
	return appendDataFrame(make([]byte, 0, len(payload)+10), opBinary, payload)
}

// msgpackSizeHint is an upper bound of f's MessagePack size.
func msgpackSizeHint(f *protocol.Frame) int {
	return 48 + len(f.Event) + len(f.Channel) + len(f.Data) + len(f.UserID)
}

// negotiateEncoding reads what a handshake asks for: MessagePack through
// the subprotocol (which is then answered) or format=msgpack in the query,
// and permessage-deflate when the endpoint offers it.
func negotiateEncoding(r *http.Request, d *deflater) (e encoding, subprotocol string) {
	if headerHasToken(r.Header, "Sec-WebSocket-Protocol", protocol.SubprotocolMsgpack) {
		e.msgpack, subprotocol = true, protocol.SubprotocolMsgpack
	} else if strings.EqualFold(r.URL.Query().Get("format"), "msgpack") {
		e.msgpack = true
	}
	if d != nil && acceptsDeflate(r.Header) {
		e.deflate = d
	}
	return e, subprotocol
}

// appendDataFrame appends an unmasked, final WebSocket frame; b0 is the
// opcode, with rsv1 for a compressed payload.
func appendDataFrame(dst []byte, b0 byte, payload []byte) []byte {
	b0 |= 0x80
	n := len(payload)
	switch {
	case n < 126:
		dst = append(dst, b0, byte(n))
	case n < 1<<16:
		dst = append(dst, b0, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, 127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, payload...)
}

// appendTextFrame appends an unmasked, final WebSocket text frame.
func appendTextFrame(dst, payload []byte) []byte { return appendDataFrame(dst, opText, payload) }
