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

func TestMergeTokens(t *testing.T) {
	token := func(data string) *Frame {
		f := NewFrame("token", "ai-1", data, DataString, "")
		f.Token, _ = ParseToken(data)
		f.Ingested = int64(len(data))
		return f
	}
	tests := []struct {
		name string
		a, b *Frame
		want string
	}{
		{"deltas", token(`{"stream":"s","seq":3,"delta":"Hel"}`), token(`{"stream":"s","seq":4,"delta":"lo"}`),
			`{"stream":"s","seq":4,"delta":"Hello"}`},
		{"into the end", token(`{"stream":7,"seq":3,"delta":"a\"b"}`), token(`{"stream":7,"seq":4,"done":true}`),
			`{"stream":7,"seq":4,"delta":"a\"b","done":true}`},
		{"into a snapshot", func() *Frame {
			f := NewFrame("token", "ai-1", TokenData(`"s"`, 9, "Hello", true, false), DataString, "")
			f.Token = &Token{Stream: `"s"`, Seq: 9, Delta: "Hello", Whole: true}
			return f
		}(), token(`{"stream":"s","seq":10,"delta":", wörld"}`),
			`{"stream":"s","seq":10,"text":"Hello, wörld"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := MergeTokens(tt.a, tt.b)
			if m.Data != tt.want {
				t.Fatalf("data %s, want %s", m.Data, tt.want)
			}
			back, ok := ParseToken(m.Data)
			if !ok || back.Seq != m.Token.Seq || back.Done != m.Token.Done || (!m.Token.Whole && back.Delta != m.Token.Delta) {
				t.Fatalf("merged token %+v does not match its data %s", m.Token, m.Data)
			}
			if m.Ingested != tt.a.Ingested || m.Event != "token" || m.Channel != "ai-1" {
				t.Fatalf("merged frame %+v", m)
			}
			if string(m.JSON) != string(NewFrame("token", "ai-1", tt.want, DataString, "").JSON) {
				t.Fatalf("JSON %s", m.JSON)
			}
		})
	}
}
