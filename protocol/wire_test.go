package protocol_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/quaver-dev/quaver/protocol"
)

// sameFrame compares the fields a frame carries across nodes.
func sameFrame(t *testing.T, got, want *protocol.Frame) {
	t.Helper()
	if got.Event != want.Event || got.Channel != want.Channel || got.Data != want.Data ||
		got.Kind != want.Kind || got.UserID != want.UserID || got.Ingested != want.Ingested || got.Source != want.Source {
		t.Fatalf("frame fields differ:\n got %+v\nwant %+v", got, want)
	}
	if (got.Token == nil) != (want.Token == nil) || (got.Token != nil && *got.Token != *want.Token) {
		t.Fatalf("token = %+v, want %+v", got.Token, want.Token)
	}
	if !bytes.Equal(got.JSON, want.JSON) {
		t.Fatalf("JSON = %s, want %s", got.JSON, want.JSON)
	}
}

func TestMarshalFrameRoundTrip(t *testing.T) {
	withToken := func(f *protocol.Frame, tok protocol.Token) *protocol.Frame { f.Token = &tok; return f }
	withIngested := func(f *protocol.Frame, at int64) *protocol.Frame { f.Ingested = at; return f }
	withSource := func(f *protocol.Frame, s protocol.Source) *protocol.Frame { f.Source = s; return f }
	tests := []struct {
		name   string
		frame  *protocol.Frame
		except string
	}{
		{"string data", protocol.NewFrame("order-shipped", "orders", `{"id":1}`, protocol.DataString, ""), ""},
		{"except socket", protocol.NewFrame("e", "private-a", "x", protocol.DataString, ""), "123.456"},
		{"raw data and user", protocol.NewFrame("client-typing", "presence-room", `{"a":[1,2]}`, protocol.DataRaw, "u1"), "1.2"},
		{"no data", protocol.NewFrame(protocol.EventCacheMiss, "cache-x", "", protocol.DataNone, ""), ""},
		{"empty everything", protocol.NewFrame("", "", "", protocol.DataNone, ""), ""},
		{"binary-ish data", protocol.NewFrame("e", "c", "\x00\xff\u2028", protocol.DataString, ""), ""},
		{"large data", protocol.NewFrame("e", "c", string(bytes.Repeat([]byte("a"), 70000)), protocol.DataString, ""), ""},
		{"ingested", withIngested(protocol.NewFrame("e", "c", "d", protocol.DataString, ""), 1700000000123456789), ""},
		{"negative ingested", withIngested(protocol.NewFrame("e", "c", "d", protocol.DataString, ""), -5), ""},
		{"token", withToken(protocol.NewFrame("token", "private-ai", `{"delta":"hi"}`, protocol.DataString, ""), protocol.Token{Stream: "s1", Seq: 42, Delta: "hi"}), ""},
		{"token done", withToken(protocol.NewFrame("token", "private-ai", `{"done":true}`, protocol.DataString, ""), protocol.Token{Stream: "s1", Seq: 43, Done: true}), "9.9"},
		{"first token with request time", withToken(withSource(protocol.NewFrame("token", "ai", `{}`, protocol.DataString, ""), protocol.SourceStream),
			protocol.Token{Stream: "s1", Delta: "a", First: true, RequestedAt: 1764806400123}), ""},
		{"client event", withSource(protocol.NewFrame("client-x", "private-a", `{}`, protocol.DataRaw, "u"), protocol.SourceClientEvent), ""},
		{"api", withSource(protocol.NewFrame("e", "c", "d", protocol.DataString, ""), protocol.SourceAPI), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := protocol.MarshalFrame(tt.frame, tt.except)
			got, except, err := protocol.UnmarshalFrame(b)
			if err != nil {
				t.Fatalf("UnmarshalFrame: %v", err)
			}
			if except != tt.except {
				t.Fatalf("except = %q, want %q", except, tt.except)
			}
			sameFrame(t, got, tt.frame)
		})
	}
}

func TestUnmarshalFrameRejects(t *testing.T) {
	good := protocol.MarshalFrame(protocol.NewFrame("e", "c", "data", protocol.DataString, "u"), "1.2")
	badKind := bytes.Clone(good)
	badKind[1] = byte(protocol.DataRaw) + 1
	badVersion := bytes.Clone(good)
	badVersion[0] = 2
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"version only", good[:1]},
		{"unknown version", badVersion},
		{"unknown kind", badKind},
		{"truncated header", good[:3]},
		{"truncated string", good[:len(good)-2]},
		{"length past end", append(bytes.Clone(good[:4]), 0x7f, 'e')},
		{"token flag without token", func() []byte { b := bytes.Clone(good); b[2] = 1; return b }()},
		{"json text", []byte(`{"event":"e"}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, _, err := protocol.UnmarshalFrame(tt.in)
			if !errors.Is(err, protocol.ErrBadWire) || f != nil {
				t.Fatalf("UnmarshalFrame(%q) = %v, %v; want ErrBadWire", tt.in, f, err)
			}
		})
	}
}

func FuzzUnmarshalFrame(f *testing.F) {
	seeds := []*protocol.Frame{
		protocol.NewFrame("e", "c", `{"x":1}`, protocol.DataString, ""),
		protocol.NewFrame("client-e", "presence-c", `[1,2]`, protocol.DataRaw, "u"),
		protocol.NewFrame(protocol.EventCacheMiss, "cache-c", "", protocol.DataNone, ""),
	}
	tok := protocol.NewFrame("t", "private-ai", "d", protocol.DataString, "")
	tok.Token = &protocol.Token{Stream: "s", Seq: 7, Delta: "x", Done: true}
	tok.Ingested = 99
	seeds = append(seeds, tok)
	for _, s := range seeds {
		f.Add(protocol.MarshalFrame(s, "1.2"))
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0})
	f.Add([]byte{1, 2, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, except, err := protocol.UnmarshalFrame(b)
		if err != nil {
			if fr != nil {
				t.Fatal("frame returned with an error")
			}
			return
		}
		// What decodes must encode and decode to the same frame.
		again, exceptAgain, err := protocol.UnmarshalFrame(protocol.MarshalFrame(fr, except))
		if err != nil {
			t.Fatalf("re-decoding a marshalled frame: %v", err)
		}
		if exceptAgain != except {
			t.Fatalf("except %q became %q", except, exceptAgain)
		}
		sameFrame(t, again, fr)
		// The JSON text is valid whenever the data it embeds is: string
		// data is quoted here, raw data is trusted to be JSON already.
		if fr.Kind != protocol.DataRaw || json.Valid([]byte(fr.Data)) {
			if !json.Valid(fr.JSON) {
				t.Fatalf("invalid frame JSON %q", fr.JSON)
			}
		}
	})
}
