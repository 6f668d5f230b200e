package protocol_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/quaver-dev/quaver/protocol"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name        string
		in          string
		wantEvent   string
		wantChannel string
		wantData    string
		wantErr     bool
	}{
		{"subscribe from pusher-js", `{"event":"pusher:subscribe","data":{"auth":"","channel":"my-channel"}}`, "pusher:subscribe", "", `{"auth":"","channel":"my-channel"}`, false},
		{"ping", `{"event":"pusher:ping","data":{}}`, "pusher:ping", "", `{}`, false},
		{"ping without data", `{"event":"pusher:ping"}`, "pusher:ping", "", ``, false},
		{"client event key order", `{"event":"client-typing","data":{"a":1},"channel":"private-x"}`, "client-typing", "private-x", `{"a":1}`, false},
		{"string data", `{"event":"client-x","channel":"private-x","data":"{\"a\":1}"}`, "client-x", "private-x", `"{\"a\":1}"`, false},
		{"unknown fields ignored", `{"event":"e","user_id":"spoofed","extra":[1]}`, "e", "", ``, false},
		{"whitespace", " {\n\"event\" : \"e\" } ", "e", "", ``, false},
		{"empty", ``, "", "", "", true},
		{"not json", `hello`, "", "", "", true},
		{"truncated", `{"event":"e"`, "", "", "", true},
		{"array", `[{"event":"e"}]`, "", "", "", true},
		{"string", `"e"`, "", "", "", true},
		{"null", `null`, "", "", "", true},
		{"missing event", `{"data":{}}`, "", "", "", true},
		{"empty event", `{"event":""}`, "", "", "", true},
		{"event not a string", `{"event":1}`, "", "", "", true},
		{"channel not a string", `{"event":"e","channel":{}}`, "", "", "", true},
		{"trailing garbage", `{"event":"e"} x`, "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := protocol.Decode([]byte(tt.in))
			if tt.wantErr {
				if !errors.Is(err, protocol.ErrMalformed) {
					t.Fatalf("Decode(%s) = %+v, %v; want ErrMalformed", tt.in, m, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%s): %v", tt.in, err)
			}
			if m.Event != tt.wantEvent || m.Channel != tt.wantChannel || string(m.Data) != tt.wantData {
				t.Fatalf("Decode(%s) = {%q %q %s}", tt.in, m.Event, m.Channel, m.Data)
			}
		})
	}
}

func TestDecodeData(t *testing.T) {
	str := func(s string) *string { return &s }
	tests := []struct {
		name    string
		data    string
		want    protocol.SubscribeData
		wantErr bool
	}{
		{"object", `{"auth":"k:s","channel":"private-x"}`, protocol.SubscribeData{Channel: "private-x", Auth: "k:s"}, false},
		{"object with channel_data", `{"auth":"k:s","channel_data":"{\"user_id\":\"u1\"}","channel":"presence-r"}`, protocol.SubscribeData{Channel: "presence-r", Auth: "k:s", ChannelData: str(`{"user_id":"u1"}`)}, false},
		{"string holding an object", `"{\"auth\":\"\",\"channel\":\"my-channel\"}"`, protocol.SubscribeData{Channel: "my-channel"}, false},
		{"string with spaces", ` "{\"channel\":\"a\"}" `, protocol.SubscribeData{Channel: "a"}, false},
		{"resume", `{"channel":"private-ai","resume":{"stream":"s","seq":5}}`, protocol.SubscribeData{Channel: "private-ai", Resume: &protocol.Resume{Stream: json.RawMessage(`"s"`), Seq: 5}}, false},
		{"empty object", `{}`, protocol.SubscribeData{}, false},
		{"missing", ``, protocol.SubscribeData{}, true},
		{"null", `null`, protocol.SubscribeData{}, true},
		{"number", `42`, protocol.SubscribeData{}, true},
		{"array", `[]`, protocol.SubscribeData{}, true},
		{"string not json", `"my-channel"`, protocol.SubscribeData{}, true},
		{"string holding a number", `"42"`, protocol.SubscribeData{}, true},
		{"string holding garbage", `"{nope"`, protocol.SubscribeData{}, true},
		{"broken string", `"abc`, protocol.SubscribeData{}, true},
		{"wrong field type", `{"channel":1}`, protocol.SubscribeData{}, true},
		{"channel_data not a string", `{"channel":"presence-r","channel_data":{"user_id":1}}`, protocol.SubscribeData{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got protocol.SubscribeData
			err := protocol.DecodeData(json.RawMessage(tt.data), &got)
			if tt.wantErr {
				if !errors.Is(err, protocol.ErrMalformed) {
					t.Fatalf("DecodeData(%s) = %+v, %v; want ErrMalformed", tt.data, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeData(%s): %v", tt.data, err)
			}
			if mustJSON(t, got) != mustJSON(t, tt.want) {
				t.Fatalf("DecodeData(%s) = %s, want %s", tt.data, mustJSON(t, got), mustJSON(t, tt.want))
			}
		})
	}
}

func TestDecodeSignin(t *testing.T) {
	m, err := protocol.Decode([]byte(`{"event":"pusher:signin","data":{"auth":"app-key:f91f","user_data":"{\"id\":\"u1\",\"user_info\":{\"name\":\"Alice\"}}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var d protocol.SigninData
	if err := protocol.DecodeData(m.Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.Auth != "app-key:f91f" || d.UserData != `{"id":"u1","user_info":{"name":"Alice"}}` {
		t.Fatalf("decoded %+v", d)
	}
}

func TestEventNames(t *testing.T) {
	tests := []struct {
		name             string
		client, reserved bool
	}{
		{"client-typing", true, false},
		{"client-", true, false},
		{"Client-x", false, false},
		{"pusher:subscribe", false, true},
		{"pusher_internal:member_added", false, true},
		{"pusher-x", false, false},
		{`App\Events\OrderShipped`, false, false},
		{"", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := protocol.IsClientEvent(tt.name); got != tt.client {
				t.Errorf("IsClientEvent = %v", got)
			}
			if got := protocol.IsReserved(tt.name); got != tt.reserved {
				t.Errorf("IsReserved = %v", got)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"event":"pusher:subscribe","data":{"auth":"","channel":"my-channel"}}`,
		`{"event":"pusher:subscribe","data":{"auth":"k:s","channel_data":"{\"user_id\":\"u1\"}","channel":"presence-r"}}`,
		`{"event":"pusher:subscribe","data":"{\"channel\":\"a\"}"}`,
		`{"event":"pusher:signin","data":{"auth":"k:s","user_data":"{\"id\":\"u1\"}"}}`,
		`{"event":"client-typing","data":{"a":1},"channel":"private-x"}`,
		`{"event":"pusher:ping","data":{}}`,
		`{"event":""}`, `{}`, `[]`, `null`, `"x"`, `{"event":"e","data":"\ud800"}`, "{\"event\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := protocol.Decode(b)
		if err != nil {
			if !errors.Is(err, protocol.ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		if m.Event == "" {
			t.Fatal("decoded a message without an event")
		}
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		if len(m.Data) > 0 && !json.Valid(m.Data) {
			t.Fatalf("data %q is not valid JSON", m.Data)
		}
		// Whatever the data, decoding it into the request types either
		// works or reports ErrMalformed.
		var sub protocol.SubscribeData
		if err := protocol.DecodeData(m.Data, &sub); err != nil && !errors.Is(err, protocol.ErrMalformed) {
			t.Fatalf("DecodeData: %v", err)
		}
		var signin protocol.SigninData
		if err := protocol.DecodeData(m.Data, &signin); err != nil && !errors.Is(err, protocol.ErrMalformed) {
			t.Fatalf("DecodeData: %v", err)
		}
		// The decoded names survive the trip back into a frame.
		fr := protocol.NewFrame(m.Event, m.Channel, string(m.Data), protocol.DataString, "")
		if !json.Valid(fr.JSON) {
			t.Fatalf("frame from decoded message is invalid JSON: %q", fr.JSON)
		}
	})
}
