package protocol

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/tinylib/msgp/msgp"
)

// The MessagePack encoding carries the same Pusher messages as the JSON
// text, for clients that negotiate it (see README, "Compact framing"). A
// message is one MessagePack map with string keys:
//
//	event    str  always
//	channel  str  when the message has a channel
//	data     str  the event's data as a string: what JSON clients receive
//	              as a JSON string (most server events, token events)
//	         bin  a JSON value in UTF-8: what JSON clients receive as that
//	              value, unquoted (client events, pusher:error, ...)
//	user_id  str  when the message carries a user id
//
// Absent keys have no value; nil is read as absent. Readers skip keys they
// do not know. Server frames are encoded in the order above.

// SubprotocolMsgpack is the WebSocket subprotocol that asks for the
// MessagePack encoding; the query parameter format=msgpack does the same
// for clients that cannot set subprotocols.
const SubprotocolMsgpack = "pusher.msgpack"

// Msgpack key names.
const (
	msgpackEvent   = "event"
	msgpackChannel = "channel"
	msgpackData    = "data"
	msgpackUserID  = "user_id"
)

// AppendFrameMsgpack appends the MessagePack form of f to dst.
func AppendFrameMsgpack(dst []byte, f *Frame) []byte {
	return AppendMsgpack(dst, f.Event, f.Channel, f.Data, f.Kind, f.UserID)
}

// AppendMsgpack appends one MessagePack message to dst. data is sent as a
// str with DataString, as a bin (JSON text) with DataRaw, and not at all
// with DataNone; empty channel and userID are left out.
func AppendMsgpack(dst []byte, event, channel, data string, kind DataKind, userID string) []byte {
	n := uint32(1)
	if channel != "" {
		n++
	}
	if kind != DataNone {
		n++
	}
	if userID != "" {
		n++
	}
	dst = msgp.AppendMapHeader(dst, n)
	dst = msgp.AppendString(dst, msgpackEvent)
	dst = msgp.AppendString(dst, event)
	if channel != "" {
		dst = msgp.AppendString(dst, msgpackChannel)
		dst = msgp.AppendString(dst, channel)
	}
	switch kind {
	case DataString:
		dst = msgp.AppendString(dst, msgpackData)
		dst = msgp.AppendString(dst, data)
	case DataRaw:
		dst = msgp.AppendString(dst, msgpackData)
		dst = append(msgp.AppendBytesHeader(dst, uint32(len(data))), data...)
	}
	if userID != "" {
		dst = msgp.AppendString(dst, msgpackUserID)
		dst = msgp.AppendString(dst, userID)
	}
	return dst
}

// Envelope is one MessagePack message as read, before it is interpreted as
// a client message (DecodeMsgpack) or a server event (the Go client). Its
// byte slices alias the input.
type Envelope struct {
	Event   []byte
	Channel []byte
	UserID  []byte
	// Data and DataKind: DataString for a str, DataRaw for a bin (JSON
	// text, not validated here), DataNone when absent or nil.
	Data     []byte
	DataKind DataKind
}

// ReadMsgpack reads one MessagePack message: a map whose known keys hold
// strings (data may also be a bin) and whose other keys are skipped. Bytes
// after the map are an error.
func ReadMsgpack(b []byte) (Envelope, error) {
	var e Envelope
	n, b, err := msgp.ReadMapHeaderBytes(b)
	if err != nil {
		return Envelope{}, ErrMalformed
	}
	for range n {
		var key []byte
		if key, b, err = msgp.ReadStringZC(b); err != nil {
			return Envelope{}, ErrMalformed
		}
		if msgp.NextType(b) == msgp.NilType {
			if b, err = msgp.ReadNilBytes(b); err != nil {
				return Envelope{}, ErrMalformed
			}
			continue
		}
		switch string(key) {
		case msgpackEvent:
			e.Event, b, err = msgp.ReadStringZC(b)
		case msgpackChannel:
			e.Channel, b, err = msgp.ReadStringZC(b)
		case msgpackUserID:
			e.UserID, b, err = msgp.ReadStringZC(b)
		case msgpackData:
			if msgp.NextType(b) == msgp.BinType {
				e.Data, b, err = msgp.ReadBytesZC(b)
				e.DataKind = DataRaw
			} else {
				e.Data, b, err = msgp.ReadStringZC(b)
				e.DataKind = DataString
			}
		default:
			b, err = msgp.Skip(b)
		}
		if err != nil {
			return Envelope{}, ErrMalformed
		}
	}
	if len(b) != 0 {
		return Envelope{}, ErrMalformed
	}
	return e, nil
}

// DecodeMsgpack parses one client message sent in MessagePack into the
// Message the JSON form of the same message decodes to: a str data becomes
// a JSON string, a bin data must be valid JSON and is taken as it is.
// Strings must be valid UTF-8, as they are in JSON text. The returned Data
// may alias b.
func DecodeMsgpack(b []byte) (Message, error) {
	e, err := ReadMsgpack(b)
	if err != nil || len(e.Event) == 0 || !utf8.Valid(e.Event) || !utf8.Valid(e.Channel) {
		return Message{}, ErrMalformed
	}
	m := Message{Event: string(e.Event), Channel: string(e.Channel)}
	switch e.DataKind {
	case DataString:
		if !utf8.Valid(e.Data) {
			return Message{}, ErrMalformed
		}
		m.Data = AppendQuoted(make([]byte, 0, len(e.Data)+len(e.Data)/8+2), string(e.Data))
	case DataRaw:
		if !json.Valid(e.Data) {
			return Message{}, ErrMalformed
		}
		m.Data = e.Data
	}
	return m, nil
}
