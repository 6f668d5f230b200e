package protocol_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/quaver-dev/quaver/protocol"
	"github.com/tinylib/msgp/msgp"
)

// TestGoldenMsgpack pins the MessagePack bytes of typical frames (stored as
// hex dumps) and checks them with the library's generic decoder, which
// shares no code with the encoder's callers: every key and value must read
// back as the JSON form of the same frame says.
func TestGoldenMsgpack(t *testing.T) {
	tests := []struct {
		name  string
		frame *protocol.Frame
		want  map[string]any
	}{
		{
			"msgpack_token_event",
			protocol.NewFrame("token", "private-ai.chat-42", `{"stream":"msg_1","seq":7,"delta":" world"}`, protocol.DataString, ""),
			map[string]any{"event": "token", "channel": "private-ai.chat-42", "data": `{"stream":"msg_1","seq":7,"delta":" world"}`},
		},
		{
			"msgpack_client_event_raw",
			protocol.NewFrame("client-typing", "presence-room", `{"typing":true}`, protocol.DataRaw, "u-17"),
			map[string]any{"event": "client-typing", "channel": "presence-room", "data": []byte(`{"typing":true}`), "user_id": "u-17"},
		},
		{
			"msgpack_error_4001",
			protocol.ErrorFrame(4001, "App key nope not in this cluster", ""),
			map[string]any{"event": "pusher:error", "data": []byte(`{"code":4001,"message":"App key nope not in this cluster"}`)},
		},
		{
			"msgpack_cache_miss",
			protocol.NewFrame(protocol.EventCacheMiss, "cache-prices", "", protocol.DataNone, ""),
			map[string]any{"event": "pusher:cache_miss", "channel": "cache-prices"},
		},
		{
			"msgpack_unicode_data",
			protocol.NewFrame("greeting", "chat", "héllo \"wörld\"\n✓", protocol.DataString, ""),
			map[string]any{"event": "greeting", "channel": "chat", "data": "héllo \"wörld\"\n✓"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := protocol.AppendFrameMsgpack(nil, tt.frame)
			golden(t, tt.name, []byte(hex.Dump(b)))
			v, rest, err := msgp.ReadIntfBytes(b)
			if err != nil || len(rest) != 0 {
				t.Fatalf("not one MessagePack value: %v, %d bytes left", err, len(rest))
			}
			if !reflect.DeepEqual(v, tt.want) {
				t.Fatalf("decoded %#v, want %#v", v, tt.want)
			}
			if len(b) >= len(tt.frame.JSON) && tt.frame.Kind == protocol.DataString {
				t.Errorf("MessagePack %d bytes, JSON %d: no saving", len(b), len(tt.frame.JSON))
			}
		})
	}
}

// TestMsgpackLengths crosses the str and bin size classes (fixstr, 8, 16
// and 32-bit lengths): what is written reads back the same.
func TestMsgpackLengths(t *testing.T) {
	for _, n := range []int{0, 31, 32, 255, 256, 65535, 65536} {
		data := strings.Repeat("x", n)
		for _, kind := range []protocol.DataKind{protocol.DataString, protocol.DataRaw} {
			e, err := protocol.ReadMsgpack(protocol.AppendMsgpack(nil, "e", "c", data, kind, ""))
			if err != nil || string(e.Data) != data || e.DataKind != kind {
				t.Fatalf("%d bytes, kind %d: read %d bytes, kind %d, err %v", n, kind, len(e.Data), e.DataKind, err)
			}
		}
	}
}

// msgpackMessage builds a client message with the library's generic
// encoder, as another client implementation would.
func msgpackMessage(t testing.TB, m map[string]any) []byte {
	t.Helper()
	b, err := msgp.AppendIntf(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDecodeMsgpackMatchesJSON: a client message in MessagePack decodes to
// the very Message its JSON form decodes to, so one protocol implementation
// serves both.
func TestDecodeMsgpackMatchesJSON(t *testing.T) {
	tests := []struct {
		name    string
		json    string
		msgpack map[string]any
	}{
		{"subscribe, data as JSON bin", `{"event":"pusher:subscribe","data":{"auth":"","channel":"my-channel"}}`,
			map[string]any{"event": "pusher:subscribe", "data": []byte(`{"auth":"","channel":"my-channel"}`)}},
		{"subscribe, data as a string", `{"event":"pusher:subscribe","data":"{\"channel\":\"a\"}"}`,
			map[string]any{"event": "pusher:subscribe", "data": `{"channel":"a"}`}},
		{"client event with channel", `{"event":"client-typing","channel":"private-x","data":{"a":[1,2]}}`,
			map[string]any{"event": "client-typing", "channel": "private-x", "data": []byte(`{"a":[1,2]}`)}},
		{"string data with escapes", `{"event":"client-note","channel":"private-x","data":"say \"hi\"\n\u0001"}`,
			map[string]any{"event": "client-note", "channel": "private-x", "data": "say \"hi\"\n\x01"}},
		{"ping without data", `{"event":"pusher:ping"}`, map[string]any{"event": "pusher:ping"}},
		{"nil data and channel are absent", `{"event":"pusher:ping"}`, map[string]any{"event": "pusher:ping", "data": nil, "channel": nil}},
		{"unknown keys are skipped", `{"event":"pusher:ping","data":{}}`,
			map[string]any{"event": "pusher:ping", "data": []byte(`{}`), "extra": map[string]any{"n": []any{int64(1), 2.5, true}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, err := protocol.Decode([]byte(tt.json))
			if err != nil {
				t.Fatal(err)
			}
			got, err := protocol.DecodeMsgpack(msgpackMessage(t, tt.msgpack))
			if err != nil {
				t.Fatalf("DecodeMsgpack: %v", err)
			}
			if got.Event != want.Event || got.Channel != want.Channel || !sameJSON(got.Data, want.Data) {
				t.Fatalf("got %s %q %s, want %s %q %s", got.Event, got.Channel, got.Data, want.Event, want.Channel, want.Data)
			}
		})
	}
}

func sameJSON(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

func TestDecodeMsgpackRejects(t *testing.T) {
	valid := msgpackMessage(t, map[string]any{"event": "pusher:ping"})
	tests := map[string][]byte{
		"empty":                 nil,
		"not a map":             msgpackMessage(t, map[string]any{"x": 1})[1:],
		"array":                 {0x91, 0xa1, 'x'},
		"no event":              msgpackMessage(t, map[string]any{"channel": "c"}),
		"empty event":           msgpackMessage(t, map[string]any{"event": ""}),
		"event not a string":    msgpackMessage(t, map[string]any{"event": 7}),
		"channel not a string":  msgpackMessage(t, map[string]any{"event": "e", "channel": []byte("c")}),
		"data a number":         msgpackMessage(t, map[string]any{"event": "e", "data": 1}),
		"data a map":            msgpackMessage(t, map[string]any{"event": "e", "data": map[string]any{}}),
		"bin data not JSON":     msgpackMessage(t, map[string]any{"event": "e", "data": []byte("{")}),
		"invalid UTF-8 event":   msgpackMessage(t, map[string]any{"event": "\xff"}),
		"invalid UTF-8 data":    msgpackMessage(t, map[string]any{"event": "e", "data": "\xff"}),
		"key not a string":      {0x81, 0x01, 0xa1, 'x'},
		"truncated":             valid[:len(valid)-1],
		"bytes after the map":   append(append([]byte(nil), valid...), 0xc0),
		"declared size too big": {0x8f, 0xa5, 'e', 'v', 'e', 'n', 't', 0xa1, 'x'},
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if m, err := protocol.DecodeMsgpack(b); !errors.Is(err, protocol.ErrMalformed) {
				t.Fatalf("decoded %+v, err %v; want ErrMalformed", m, err)
			}
		})
	}
}

// FuzzDecodeMsgpack: arbitrary input never panics; whatever decodes has an
// event and data that is valid JSON, and re-encoding it decodes the same.
func FuzzDecodeMsgpack(f *testing.F) {
	for _, m := range []map[string]any{
		{"event": "pusher:subscribe", "data": []byte(`{"auth":"","channel":"my-channel"}`)},
		{"event": "client-x", "channel": "private-a", "data": "hi"},
		{"event": "pusher:ping", "other": []any{1, "x", nil}},
	} {
		f.Add(msgpackMessage(f, m))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := protocol.DecodeMsgpack(b)
		if err != nil {
			return
		}
		if m.Event == "" || (len(m.Data) > 0 && !json.Valid(m.Data)) {
			t.Fatalf("decoded %+v", m)
		}
		again, err := protocol.DecodeMsgpack(protocol.AppendMsgpack(nil, m.Event, m.Channel, string(m.Data), dataKind(m.Data), ""))
		if err != nil || again.Event != m.Event || again.Channel != m.Channel || !bytes.Equal(again.Data, m.Data) {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", m, again, err)
		}
	})
}

func dataKind(data []byte) protocol.DataKind {
	if len(data) == 0 {
		return protocol.DataNone
	}
	return protocol.DataRaw
}
