package protocol

import (
	"encoding/json"
	"testing"
)

func TestParseToken(t *testing.T) {
	tests := []struct {
		name string
		data string
		want *Token
	}{
		{"delta", `{"stream":"s1","seq":3,"delta":"Hel"}`, &Token{Stream: `"s1"`, Seq: 3, Delta: "Hel"}},
		{"numeric stream id", `{"stream":42,"seq":0,"delta":"a"}`, &Token{Stream: `42`, Seq: 0, Delta: "a"}},
		{"done", `{"stream":"s1","seq":9,"done":true}`, &Token{Stream: `"s1"`, Seq: 9, Done: true}},
		{"extra fields are fine", `{"stream":"s","seq":1,"delta":"x","model":"gpt"}`, &Token{Stream: `"s"`, Seq: 1, Delta: "x"}},
		{"no seq", `{"stream":"s","delta":"x"}`, nil},
		{"no stream", `{"seq":1,"delta":"x"}`, nil},
		{"object stream", `{"stream":{},"seq":1}`, nil},
		{"not json", `hello`, nil},
		{"string seq", `{"stream":"s","seq":"1"}`, nil},
		{"request time", `{"stream":"s","seq":0,"delta":"x","requested_at":1764806400123}`, &Token{Stream: `"s"`, Delta: "x", RequestedAt: 1764806400123}},
		{"request time not a number", `{"stream":"s","seq":0,"requested_at":"yesterday"}`, &Token{Stream: `"s"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseToken(tt.data)
			if (tt.want == nil) != !ok || (ok && *got != *tt.want) {
				t.Fatalf("ParseToken(%s) = %+v, %v; want %+v", tt.data, got, ok, tt.want)
			}
		})
	}
}

func TestTokenData(t *testing.T) {
	tests := []struct {
		stream      string
		seq         int64
		text        string
		whole, done bool
		want        string
	}{
		{`"s1"`, 7, "Hello \"you\"", false, false, `{"stream":"s1","seq":7,"delta":"Hello \"you\""}`},
		{`"s1"`, 7, "Hello", true, false, `{"stream":"s1","seq":7,"text":"Hello"}`},
		{`42`, 9, "all of it", true, true, `{"stream":42,"seq":9,"text":"all of it","done":true}`},
		{`"s1"`, 9, "", false, true, `{"stream":"s1","seq":9,"done":true}`},
	}
	for _, tt := range tests {
		got := TokenData(tt.stream, tt.seq, tt.text, tt.whole, tt.done)
		if got != tt.want || !json.Valid([]byte(got)) {
			t.Errorf("TokenData = %s, want %s", got, tt.want)
		}
	}
}

func TestTokenMerge(t *testing.T) {
	token := func(data string) *Frame {
		f := NewFrame("token", "ai-1", data, DataString, "")
		f.Token, _ = ParseToken(data)
		f.Ingested = int64(len(data))
		return f
	}
	tests := []struct {
		name string
		a    *Frame
		more []*Frame
		want string
	}{
		{"deltas", token(`{"stream":"s","seq":3,"delta":"Hel"}`), []*Frame{token(`{"stream":"s","seq":4,"delta":"lo"}`)},
			`{"stream":"s","seq":4,"delta":"Hello"}`},
		{"many", token(`{"stream":1,"seq":8,"delta":"a"}`), []*Frame{
			token(`{"stream":1,"seq":9,"delta":"\"b\\"}`), token(`{"stream":1,"seq":10,"delta":"\n\u0001\u2028"}`),
			token(`{"stream":1,"seq":11,"delta":"wörld 🎵"}`)},
			`{"stream":1,"seq":11,"delta":"a\"b\\\n\u0001\u2028wörld 🎵"}`},
		{"into the end", token(`{"stream":7,"seq":3,"delta":"a\"b"}`), []*Frame{token(`{"stream":7,"seq":4,"done":true}`)},
			`{"stream":7,"seq":4,"delta":"a\"b","done":true}`},
		{"into a snapshot", func() *Frame {
			f := NewFrame("token", "ai-1", TokenData(`"s"`, 9, "Hello", true, false), DataString, "")
			f.Token = &Token{Stream: `"s"`, Seq: 9, Delta: "Hello", Whole: true}
			return f
		}(), []*Frame{token(`{"stream":"s","seq":10,"delta":", wörld"}`)},
			`{"stream":"s","seq":10,"text":"Hello, wörld"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewTokenMerge(tt.a)
			size := tt.a.Size()
			for _, b := range tt.more {
				grow := m.Growth(b)
				size += grow
				m.Add(b, grow)
			}
			f := m.Frame()
			if f.Data != tt.want {
				t.Fatalf("data %s, want %s", f.Data, tt.want)
			}
			if m.Size() != size || f.Size() != size {
				t.Fatalf("merge counted %d bytes (sum of growth %d), the frame has %d", m.Size(), size, f.Size())
			}
			back, ok := ParseToken(f.Data)
			if !ok || back.Seq != f.Token.Seq || back.Done != f.Token.Done || (!f.Token.Whole && back.Delta != f.Token.Delta) {
				t.Fatalf("merged token %+v does not match its data %s", f.Token, f.Data)
			}
			if f.Ingested != tt.a.Ingested || f.Event != "token" || f.Channel != "ai-1" {
				t.Fatalf("merged frame %+v", f)
			}
			if string(f.JSON) != string(NewFrame("token", "ai-1", tt.want, DataString, "").JSON) {
				t.Fatalf("JSON %s", f.JSON)
			}
		})
	}
}

// deltaWireLen must agree with the frame encoder for any text, or the
// outbox counts merged events wrongly.
func FuzzDeltaWireLen(f *testing.F) {
	for _, s := range []string{"", "plain", `"\`, "\n\r\t\x00\x1f", "\u2028\u2029", "\xff\xfe", "wörld 🎵", "<&>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		want := len(AppendQuoted(nil, string(AppendQuoted(nil, text)))) - len(`"\"\""`)
		if got := deltaWireLen(text); got != want {
			t.Fatalf("deltaWireLen(%q) = %d, want %d", text, got, want)
		}
	})
}
