package protocol

import (
	stdjson "encoding/json"
	"reflect"
	"testing"

	"github.com/goccy/go-json"
)

// FuzzParseToken holds ParseToken's decoder (goccy/go-json) to
// encoding/json: the same data must decode to the same fields, or be
// refused by both.
func FuzzParseToken(f *testing.F) {
	for _, s := range []string{
		`{"stream":"s-1","seq":3,"delta":" hello"}`,
		`{"stream":7,"seq":0,"delta":"a\"b\\c\n\u00e9\ud83d\ude00","done":true,"requested_at":1700000000000}`,
		`{"stream":"s","seq":1.5}`,
		`{"stream":null,"seq":"1"}`,
		`{"Stream":"s","SEQ":2,"delta":"\ud800"}`,
		"{\"stream\":\"s\",\"seq\":1,\"delta\":\"\xff\"}",
		`{"stream":"s","seq":1,"seq":2,"requested_at":"soon"}`,
		`[1]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		var want, got tokenJSON
		wantErr := stdjson.Unmarshal([]byte(data), &want)
		gotErr := json.Unmarshal([]byte(data), &got)
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("%q: encoding/json says %v, goccy/go-json %v", data, wantErr, gotErr)
		}
		if wantErr == nil && !reflect.DeepEqual(want, got) {
			t.Fatalf("%q: encoding/json reads %+v, goccy/go-json %+v", data, want, got)
		}
	})
}
