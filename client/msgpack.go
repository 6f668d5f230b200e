package client

import (
	"encoding/json"

	"github.com/quaver-dev/quaver/protocol"
)

// decodeMsgpack reads a server message in the MessagePack encoding into
// the Event its JSON form gives: str data becomes a JSON string, bin data
// (a JSON value) is kept as it is. The event owns its bytes.
func decodeMsgpack(b []byte) (Event, error) {
	env, err := protocol.ReadMsgpack(b)
	if err != nil {
		return Event{}, err
	}
	e := Event{Event: string(env.Event), Channel: string(env.Channel), UserID: string(env.UserID)}
	switch env.DataKind {
	case protocol.DataString:
		e.Data = protocol.AppendQuoted(nil, string(env.Data))
	case protocol.DataRaw:
		e.Data = append(json.RawMessage(nil), env.Data...)
	}
	return e, nil
}

// encodeMsgpack encodes a client message: data as a str when it marshals
// to a JSON string, as its JSON text in a bin otherwise, and left out when
// nil.
func encodeMsgpack(event, channel string, data any) ([]byte, error) {
	if data == nil {
		return protocol.AppendMsgpack(nil, event, channel, "", protocol.DataNone, ""), nil
	}
	raw, ok := data.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(data); err != nil {
			return nil, err
		}
	}
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return protocol.AppendMsgpack(nil, event, channel, s, protocol.DataString, ""), nil
	}
	return protocol.AppendMsgpack(nil, event, channel, string(raw), protocol.DataRaw, ""), nil
}
