package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
)

// ErrMalformed reports a client message that is not a Pusher envelope.
var ErrMalformed = errors.New("protocol: malformed message")

// Message is a decoded client-to-server message.
type Message struct {
	Event   string          `json:"event"`
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
}

// Decode parses one client message. The returned Data aliases b, so callers
// that keep it past the read callback must copy it.
func Decode(b []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(b, &m); err != nil {
		return Message{}, ErrMalformed
	}
	if m.Event == "" {
		return Message{}, ErrMalformed
	}
	return m, nil
}

// SubscribeData is the data of pusher:subscribe. Resume is Quaver's extension
// for token streams: a client that knows the last seq it has seen asks for
// what follows it only.
type SubscribeData struct {
	Channel     string  `json:"channel"`
	Auth        string  `json:"auth"`
	ChannelData *string `json:"channel_data"`
	Resume      *Resume `json:"resume"`
}

// Resume asks a token-stream channel for the events after Seq of Stream.
type Resume struct {
	// Stream is the stream id as JSON, compared with Token.Stream.
	Stream json.RawMessage `json:"stream"`
	Seq    int64           `json:"seq"`
}

// StreamID returns the stream id in the form Token.Stream has.
func (r *Resume) StreamID() string { return string(bytes.TrimSpace(r.Stream)) }

// SigninData is the data of pusher:signin.
type SigninData struct {
	Auth     string `json:"auth"`
	UserData string `json:"user_data"`
}

// DecodeData unmarshals a message's data into v. pusher-js sends an object;
// other clients send the same object as a JSON string, which is accepted too.
func DecodeData(data json.RawMessage, v any) error {
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '"' {
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			return ErrMalformed
		}
		data = []byte(s)
	}
	if len(data) == 0 || data[0] != '{' {
		return ErrMalformed
	}
	if err := json.Unmarshal(data, v); err != nil {
		return ErrMalformed
	}
	return nil
}
