package client

import (
	"encoding/json"
	"testing"

	"github.com/quaver-dev/quaver/protocol"
)

// TestMsgpackEventMatchesJSON: a server message in MessagePack becomes the
// Event its JSON form becomes.
func TestMsgpackEventMatchesJSON(t *testing.T) {
	frames := []*protocol.Frame{
		protocol.NewFrame("token", "private-ai", `{"stream":"s","seq":1,"delta":"Hi \"you\""}`, protocol.DataString, ""),
		protocol.NewFrame("client-typing", "presence-room", `{"typing":true}`, protocol.DataRaw, "u1"),
		protocol.NewFrame(protocol.EventCacheMiss, "cache-x", "", protocol.DataNone, ""),
		protocol.ErrorFrame(4001, "nope", ""),
	}
	for _, f := range frames {
		t.Run(f.Event, func(t *testing.T) {
			got, err := decodeMsgpack(protocol.AppendFrameMsgpack(nil, f))
			if err != nil {
				t.Fatal(err)
			}
			var want struct {
				Event, Channel string
				Data           json.RawMessage
				UserID         string `json:"user_id"`
			}
			if err := json.Unmarshal(f.JSON, &want); err != nil {
				t.Fatal(err)
			}
			if got.Event != want.Event || got.Channel != want.Channel || string(got.Data) != string(want.Data) || got.UserID != want.UserID {
				t.Fatalf("MessagePack gives %+v, JSON %+v", got, want)
			}
		})
	}
}

// TestEncodeMsgpack: what Send encodes decodes, on the server, to the
// Message the JSON Send would have produced.
func TestEncodeMsgpack(t *testing.T) {
	tests := []struct {
		name string
		data any
		want string // Message.Data as JSON
	}{
		{"object", map[string]any{"channel": "a", "auth": ""}, `{"auth":"","channel":"a"}`},
		{"string", "hello \"you\"", `"hello \"you\""`},
		{"raw JSON", json.RawMessage(`[1,2]`), `[1,2]`},
		{"raw JSON string", json.RawMessage(`"x\u00e9"`), `"xé"`},
		{"nil", nil, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := encodeMsgpack("client-e", "private-c", tt.data)
			if err != nil {
				t.Fatal(err)
			}
			m, err := protocol.DecodeMsgpack(b)
			if err != nil || m.Event != "client-e" || m.Channel != "private-c" || string(m.Data) != tt.want {
				t.Fatalf("decoded %s %s %s (%v), want data %s", m.Event, m.Channel, m.Data, err, tt.want)
			}
		})
	}
	if _, err := encodeMsgpack("e", "", func() {}); err == nil {
		t.Fatal("unmarshalable data encoded")
	}
}
