package protocol

import (
	"strconv"
	"sync/atomic"
)

// DataKind says how a frame's data is carried in JSON.
type DataKind uint8

const (
	// DataNone omits the data field.
	DataNone DataKind = iota
	// DataString embeds Data as a JSON string: the Pusher convention for
	// server events, whose data is itself (usually) JSON, "double encoded".
	DataString
	// DataRaw embeds Data verbatim; it must be a valid JSON value. Client
	// events are relayed this way, exactly as the sender wrote them.
	DataRaw
)

// MaxEncodings is the number of per-transport encodings a Frame can cache.
const MaxEncodings = 8

// Frame is one server-to-client message. It is built once per published
// event and shared, immutable, by every recipient on this node; transports
// cache their wire form on it with Encoded, so a broadcast to ten thousand
// WebSocket clients frames the bytes once.
type Frame struct {
	Event   string
	Channel string
	Data    string
	Kind    DataKind
	UserID  string

	// JSON is the Pusher text form, computed when the frame is built.
	JSON []byte

	// Token is set for token-stream events (see Token); nil otherwise.
	Token *Token

	// Ingested is when the event entered the server (Unix nanoseconds), for
	// ingest-to-socket latency; zero when unknown.
	Ingested int64
	// Source is where the event came from, for the latency metrics.
	Source Source

	encoded [MaxEncodings]atomic.Pointer[[]byte]
	written atomic.Bool
}

// Source is how an event entered the server.
type Source uint8

// The sources of events.
const (
	SourceServer      Source = iota // made by the server (member_added, ...)
	SourceAPI                       // the HTTP API
	SourceStream                    // a Redis Stream ingest entry
	SourceClientEvent               // a client event
)

// String names the source as the metrics label it.
func (s Source) String() string {
	switch s {
	case SourceAPI:
		return "api"
	case SourceStream:
		return "redis_stream"
	case SourceClientEvent:
		return "client_event"
	}
	return "server"
}

// FirstWrite reports true once per frame: for the first recipient whose
// transport writes it on this node. Time to first token is measured there.
func (f *Frame) FirstWrite() bool {
	return !f.written.Load() && f.written.CompareAndSwap(false, true)
}

// NewFrame builds a frame and its JSON text.
func NewFrame(event, channel, data string, kind DataKind, userID string) *Frame {
	f := &Frame{Event: event, Channel: channel, Data: data, Kind: kind, UserID: userID}
	f.JSON = AppendFrameJSON(make([]byte, 0, 40+len(event)+len(channel)+len(data)+len(data)/8+len(userID)), f)
	return f
}

// AppendFrameJSON appends the Pusher JSON text of f's fields to dst.
func AppendFrameJSON(dst []byte, f *Frame) []byte {
	dst = append(dst, `{"event":`...)
	dst = AppendQuoted(dst, f.Event)
	if f.Channel != "" {
		dst = append(dst, `,"channel":`...)
		dst = AppendQuoted(dst, f.Channel)
	}
	switch f.Kind {
	case DataString:
		dst = append(dst, `,"data":`...)
		dst = AppendQuoted(dst, f.Data)
	case DataRaw:
		dst = append(dst, `,"data":`...)
		dst = append(dst, f.Data...)
	}
	if f.UserID != "" {
		dst = append(dst, `,"user_id":`...)
		dst = AppendQuoted(dst, f.UserID)
	}
	return append(dst, '}')
}

// Encoded returns the frame's encoding in the given slot, computing it with
// encode on first use. Concurrent first calls may both encode; one result
// wins and both are equivalent, which is cheaper than a lock on the hot path.
func (f *Frame) Encoded(slot int, encode func(*Frame) []byte) []byte {
	if p := f.encoded[slot].Load(); p != nil {
		return *p
	}
	b := encode(f)
	f.encoded[slot].CompareAndSwap(nil, &b)
	return b
}

// Size is the frame's size for outbox accounting: its JSON text length.
func (f *Frame) Size() int {
	if f.JSON != nil {
		return len(f.JSON)
	}
	for i := range f.encoded { // a wire frame has its one encoding
		if p := f.encoded[i].Load(); p != nil {
			return len(*p)
		}
	}
	return 0
}

// ErrorFrame builds a pusher:error frame. Code 0 is sent as null, which
// Pusher uses for non-fatal errors after the handshake.
func ErrorFrame(code int, message, channel string) *Frame {
	data := make([]byte, 0, 32+len(message))
	data = append(data, `{"code":`...)
	if code == 0 {
		data = append(data, "null"...)
	} else {
		data = strconv.AppendInt(data, int64(code), 10)
	}
	data = append(data, `,"message":`...)
	data = AppendQuoted(data, message)
	data = append(data, '}')
	return NewFrame(EventError, channel, string(data), DataRaw, "")
}

// NewWireFrame returns a frame without Pusher text whose wire form for the
// transport encoding in slot is already known (a WebSocket control frame,
// say). It travels through outboxes in order with ordinary frames, and its
// wire bytes count against their limits: a client that pings and never
// reads fills its outbox with pongs like any slow consumer.
func NewWireFrame(slot int, wire []byte) *Frame {
	f := &Frame{}
	f.encoded[slot].Store(&wire)
	return f
}

// Wire returns the preset wire form of a frame made by NewWireFrame, or nil.
func (f *Frame) Wire(slot int) []byte {
	if f.JSON != nil {
		return nil
	}
	if p := f.encoded[slot].Load(); p != nil {
		return *p
	}
	return nil
}
