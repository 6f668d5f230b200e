package protocol_test

import (
	"encoding/json"
	"sync"
	"testing"

	"github.com/quaver-dev/quaver/protocol"
)

func TestFrameGolden(t *testing.T) {
	tests := []struct {
		name  string
		frame *protocol.Frame
	}{
		{"event_string_data", protocol.NewFrame("order-shipped", "orders", `{"id":1}`, protocol.DataString, "")},
		{"event_raw_string_data", protocol.NewFrame("my-event", "my-channel", "raw string", protocol.DataString, "")},
		{"event_laravel_name", protocol.NewFrame(`App\Events\OrderShipped`, "private-orders.1", `{"order":{"id":1,"note":"<b>\"fragile\"</b>"}}`, protocol.DataString, "")},
		{"event_unicode_data", protocol.NewFrame("chat", "presence-room.1", "héllo 🎉 \u2028 \x01", protocol.DataString, "")},
		{"client_event_raw", protocol.NewFrame("client-typing", "presence-room", `{"a":1}`, protocol.DataRaw, "u1")},
		{"client_event_no_data", protocol.NewFrame("client-ping", "private-x", "", protocol.DataNone, "")},
		{"pong_no_channel", protocol.NewFrame(protocol.EventPong, "", "{}", protocol.DataRaw, "")},
		{"cache_miss", protocol.NewFrame(protocol.EventCacheMiss, "cache-prices", "", protocol.DataNone, "")},
		{"subscription_succeeded", protocol.NewFrame(protocol.EventSubscriptionSucceeded, "my-channel", "{}", protocol.DataString, "")},
		{"error_4001", protocol.ErrorFrame(protocol.CodeAppNotFound, "Application does not exist", "")},
		{"error_null_code", protocol.ErrorFrame(0, `Invalid signature: "x"`, "")},
		{"error_with_channel", protocol.ErrorFrame(protocol.CodeClientEventRejected, "Client event rejected: rate limit exceeded", "private-chat.1")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !json.Valid(tt.frame.JSON) {
				t.Fatalf("frame is not valid JSON: %s", tt.frame.JSON)
			}
			golden(t, tt.name, append(tt.frame.JSON, '\n'))
		})
	}
}

// TestFrameJSONDecodes checks the frame's JSON against its fields, the way
// pusher-js reads it.
func TestFrameJSONDecodes(t *testing.T) {
	tests := []struct {
		name      string
		frame     *protocol.Frame
		wantData  any
		wantKeys  []string
		wantUser  string
		wantEvent string
	}{
		{"string data stays a string", protocol.NewFrame("e", "c", `{"x":1}`, protocol.DataString, ""), `{"x":1}`, []string{"event", "channel", "data"}, "", "e"},
		{"raw data is a value", protocol.NewFrame("client-e", "private-c", `{"x":1}`, protocol.DataRaw, "u"), map[string]any{"x": 1.0}, []string{"event", "channel", "data", "user_id"}, "u", "client-e"},
		{"no data", protocol.NewFrame("e", "c", "ignored", protocol.DataNone, ""), nil, []string{"event", "channel"}, "", "e"},
		{"no channel", protocol.NewFrame("e", "", "d", protocol.DataString, ""), "d", []string{"event", "data"}, "", "e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(tt.frame.JSON, &m); err != nil {
				t.Fatalf("%s: %v", tt.frame.JSON, err)
			}
			if len(m) != len(tt.wantKeys) {
				t.Fatalf("keys of %s, want %v", tt.frame.JSON, tt.wantKeys)
			}
			for _, k := range tt.wantKeys {
				if _, ok := m[k]; !ok {
					t.Fatalf("%s has no %q", tt.frame.JSON, k)
				}
			}
			if m["event"] != tt.wantEvent {
				t.Errorf("event = %v", m["event"])
			}
			if tt.wantData != nil {
				if got, _ := json.Marshal(m["data"]); string(got) != mustJSON(t, tt.wantData) {
					t.Errorf("data = %s, want %s", got, mustJSON(t, tt.wantData))
				}
			}
			if tt.wantUser != "" && m["user_id"] != tt.wantUser {
				t.Errorf("user_id = %v", m["user_id"])
			}
			if tt.frame.Size() != len(tt.frame.JSON) {
				t.Errorf("Size() = %d, want %d", tt.frame.Size(), len(tt.frame.JSON))
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestErrorFrame(t *testing.T) {
	tests := []struct {
		name     string
		code     int
		message  string
		channel  string
		wantCode any
	}{
		{"code", protocol.CodeUnauthorized, "Origin not allowed", "", 4009.0},
		{"null code", 0, "non-fatal", "", nil},
		{"message needs escaping", protocol.CodeReconnect, "bad \"frame\"\n", "", 4200.0},
		{"channel", protocol.CodeClientEventRejected, "too big", "private-a", 4301.0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := protocol.ErrorFrame(tt.code, tt.message, tt.channel)
			var m struct {
				Event   string  `json:"event"`
				Channel *string `json:"channel"`
				Data    struct {
					Code    any    `json:"code"`
					Message string `json:"message"`
				} `json:"data"`
			}
			if err := json.Unmarshal(f.JSON, &m); err != nil {
				t.Fatalf("%s: %v", f.JSON, err)
			}
			if m.Event != protocol.EventError || m.Data.Code != tt.wantCode || m.Data.Message != tt.message {
				t.Fatalf("decoded %+v from %s", m, f.JSON)
			}
			if (m.Channel != nil) != (tt.channel != "") || (m.Channel != nil && *m.Channel != tt.channel) {
				t.Fatalf("channel in %s, want %q", f.JSON, tt.channel)
			}
		})
	}
}

func TestErrorsCarryCodes(t *testing.T) {
	tests := []struct {
		err  *protocol.Error
		code int
	}{
		{protocol.ErrAppNotFound, 4001},
		{protocol.ErrAppDisabled, 4003},
		{protocol.ErrOverQuota, 4004},
		{protocol.ErrUnsupportedProtocol, 4007},
		{protocol.ErrNoProtocol, 4008},
		{protocol.ErrOriginNotAllowed, 4009},
		{protocol.ErrTerminated, 4009},
		{protocol.ErrSlowConsumer, 4100},
		{protocol.ErrShuttingDown, 4200},
		{protocol.ErrPongTimeout, 4201},
		{protocol.ErrRateLimited, 4301},
	}
	for _, tt := range tests {
		t.Run(tt.err.Message, func(t *testing.T) {
			if tt.err.Code != tt.code {
				t.Fatalf("code %d, want %d", tt.err.Code, tt.code)
			}
			if want := protocol.ErrorFrame(tt.code, tt.err.Message, "").JSON; len(want) == 0 || tt.err.Error() == "" {
				t.Fatal("empty error text")
			}
		})
	}
}

func TestFrameEncodedOnce(t *testing.T) {
	f := protocol.NewFrame("e", "c", "d", protocol.DataString, "")
	calls := 0
	first := f.Encoded(2, func(f *protocol.Frame) []byte {
		calls++
		return append([]byte("wire:"), f.JSON...)
	})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got := f.Encoded(2, func(*protocol.Frame) []byte { t.Error("slot 2 encoded again"); return nil })
			if string(got) != string(first) {
				t.Errorf("slot 2 = %q, want %q", got, first)
			}
		}()
	}
	wg.Wait()
	if calls != 1 || string(first) != "wire:"+string(f.JSON) {
		t.Fatalf("slot 2 = %q after %d encodings", first, calls)
	}
	if other := f.Encoded(3, func(*protocol.Frame) []byte { return []byte("other") }); string(other) != "other" {
		t.Fatalf("slot 3 = %q, slots are independent", other)
	}
}

// TestFrameMatchesSpec pins frames to the literal examples of the protocol
// reference (section 2.3), independently of the golden files.
func TestFrameMatchesSpec(t *testing.T) {
	tests := []struct {
		name  string
		frame *protocol.Frame
		want  string
	}{
		{"app event", protocol.NewFrame("order-shipped", "orders", `{"id":1}`, protocol.DataString, ""), `{"event":"order-shipped","channel":"orders","data":"{\"id\":1}"}`},
		{"client event", protocol.NewFrame("client-typing", "presence-room", `{"a":1}`, protocol.DataRaw, "u1"), `{"event":"client-typing","channel":"presence-room","data":{"a":1},"user_id":"u1"}`},
		{"cache miss", protocol.NewFrame(protocol.EventCacheMiss, "cache-prices", "", protocol.DataNone, ""), `{"event":"pusher:cache_miss","channel":"cache-prices"}`},
		{"error", protocol.ErrorFrame(4001, "Application does not exist", ""), `{"event":"pusher:error","data":{"code":4001,"message":"Application does not exist"}}`},
		{"member removed", protocol.NewFrame(protocol.EventMemberRemoved, "presence-room", `{"user_id":"u2"}`, protocol.DataString, ""), `{"event":"pusher_internal:member_removed","channel":"presence-room","data":"{\"user_id\":\"u2\"}"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if string(tt.frame.JSON) != tt.want {
				t.Fatalf("got  %s\nwant %s", tt.frame.JSON, tt.want)
			}
		})
	}
}
