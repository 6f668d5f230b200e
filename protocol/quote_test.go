package protocol_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/quaver-dev/quaver/protocol"
)

// stdQuote is encoding/json's quoting without HTML escaping, the reference
// AppendQuoted must match byte for byte (except that it writes \b and \f
// as \u0008 and \u000c, which are the same JSON string).
func stdQuote(t testing.TB, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatalf("encoding/json: %v", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func TestAppendQuoted(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", `""`},
		{"plain", "hello world", `"hello world"`},
		{"quote and backslash", `say "hi" \o/`, `"say \"hi\" \\o/"`},
		{"json data string", `{"message":"hello world"}`, `"{\"message\":\"hello world\"}"`},
		{"newline tab return", "a\nb\tc\rd", `"a\nb\tc\rd"`},
		{"NUL and control chars", "\x00\x01\x1f", `"\u0000\u0001\u001f"`},
		{"backspace and form feed", "\b\f", `"\u0008\u000c"`},
		{"DEL is not escaped", "\x7f", "\"\x7f\""},
		{"html is not escaped", "<a href='x'>&</a>", `"<a href='x'>&</a>"`},
		{"laravel event name", `App\Events\OrderShipped`, `"App\\Events\\OrderShipped"`},
		{"two byte utf8", "café", `"café"`},
		{"four byte utf8", "🎉 done", `"🎉 done"`},
		{"line separator", "a\u2028b", `"a\u2028b"`},
		{"paragraph separator", "a\u2029b", `"a\u2029b"`},
		{"invalid byte", "a\xffb", `"a\ufffdb"`},
		{"truncated sequence at end", "é"[:1], `"\ufffd"`},
		{"each invalid byte replaced", "\xc3\x28\xa0", `"\ufffd(\ufffd"`},
		{"surrogate half", "\xed\xa0\x80", `"\ufffd\ufffd\ufffd"`},
		{"valid U+FFFD kept", "\ufffd", "\"\ufffd\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := protocol.AppendQuoted(nil, tt.in)
			if string(got) != tt.want {
				t.Fatalf("AppendQuoted(%q) = %s, want %s", tt.in, got, tt.want)
			}
			if !json.Valid(got) {
				t.Fatalf("AppendQuoted(%q) = %s is not valid JSON", tt.in, got)
			}
			var back string
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			var want string
			if err := json.Unmarshal(stdQuote(t, tt.in), &want); err != nil {
				t.Fatal(err)
			}
			if back != want {
				t.Fatalf("decodes to %q, encoding/json's form decodes to %q", back, want)
			}
		})
	}
}

func TestAppendQuotedMatchesEncodingJSON(t *testing.T) {
	var all strings.Builder
	for b := 0; b < 256; b++ {
		if b != '\b' && b != '\f' {
			all.WriteByte(byte(b))
		}
	}
	inputs := map[string]string{
		"every byte but b and f": all.String(),
		"mixed":                  "x\u2028\u2029\xff\"\\\n€𝄞",
		"long safe run":          strings.Repeat("abcdefgh", 1000),
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			got, want := protocol.AppendQuoted(nil, in), stdQuote(t, in)
			if !bytes.Equal(got, want) {
				t.Fatalf("AppendQuoted = %q\nencoding/json = %q", got, want)
			}
		})
	}
}

func TestAppendQuotedAppends(t *testing.T) {
	dst := []byte(`{"a":`)
	got := protocol.AppendQuoted(dst, "b")
	if string(got) != `{"a":"b"` {
		t.Fatalf("got %s", got)
	}
}

func TestAppendQuotedDoesNotAllocateWithRoom(t *testing.T) {
	s := strings.Repeat(`{"message":"hello"}`+"\n", 20)
	dst := make([]byte, 0, 2*len(s)+2)
	allocs := testing.AllocsPerRun(100, func() { dst = protocol.AppendQuoted(dst[:0], s) })
	if allocs != 0 {
		t.Fatalf("AppendQuoted allocated %.0f times with enough capacity", allocs)
	}
}

func FuzzAppendQuoted(f *testing.F) {
	for _, s := range []string{"", "plain", `{"a":"b\"c"}`, "\x00\x1f\x7f", "\b\f\n\r\t", "\u2028\u2029", "\xff\xfe", "é"[:1], "\xed\xa0\x80", "🎉", "<>&", `\u0000`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := protocol.AppendQuoted([]byte("x"), s)[1:]
		if !json.Valid(got) {
			t.Fatalf("AppendQuoted(%q) = %q is not valid JSON", s, got)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("AppendQuoted(%q) = %q: %v", s, got, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("AppendQuoted(%q) decodes to %q", s, back)
		}
		if !strings.ContainsAny(s, "\b\f") {
			if want := stdQuote(t, s); !bytes.Equal(got, want) {
				t.Fatalf("AppendQuoted(%q) = %q, encoding/json = %q", s, got, want)
			}
		}
	})
}
