package httpapi

import (
	stdjson "encoding/json"
	"reflect"
	"testing"

	"github.com/goccy/go-json"
)

// FuzzDecodeBody holds the trigger decoder (goccy/go-json) to encoding/json:
// the same body must decode to the same event, or be refused by both.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"e","data":"x","channel":"c"}`,
		`{"name":"e","data":"a\"b\\c\n \u00e9 \ud83d\ude00","channels":["a","b"],"socket_id":"1.2","info":"user_count"}`,
		`{"name":1,"data":"x"}`,
		`{"name":"a","name":"b","data":null}`,
		`{"channels":[1]}`,
		`{"data":"\ud800\u0041 \udc00"}`,
		"{\"data\":\"\xff\"}",
		`{"NAME":"e","Data":{"x":[1,2]}}`,
		`{"batch":[{"channel":"c","name":"e","data":"x"}]}`,
		`[]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var want, got event
		wantErr := stdjson.Unmarshal([]byte(body), &want)
		gotErr := decodeBody([]byte(body), &got, "not JSON")
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("%q: encoding/json says %v, the decoder %v", body, wantErr, gotErr)
		}
		if wantErr == nil && !reflect.DeepEqual(want, got) {
			t.Fatalf("%q: encoding/json reads %+v, the decoder %+v", body, want, got)
		}
		var wantBatch, gotBatch struct {
			Batch []event `json:"batch"`
		}
		wantErr = stdjson.Unmarshal([]byte(body), &wantBatch)
		gotErr = decodeBody([]byte(body), &gotBatch, "not JSON")
		if (wantErr == nil) != (gotErr == nil) {
			t.Fatalf("%q as a batch: encoding/json says %v, the decoder %v", body, wantErr, gotErr)
		}
		if wantErr == nil && !reflect.DeepEqual(wantBatch, gotBatch) {
			t.Fatalf("%q as a batch: encoding/json reads %+v, the decoder %+v", body, wantBatch, gotBatch)
		}
	})
}

// BenchmarkDecodeBody decodes a one-token trigger body with the API's
// decoder and, for comparison, with encoding/json, which it replaced.
func BenchmarkDecodeBody(b *testing.B) {
	body := []byte(`{"name":"token","data":"{\"stream\":12,\"seq\":345,\"t\":1733349912345678901,\"delta\":\"xxxxxxxxxxxx\"}","channel":"bench-stream-12"}`)
	b.Run("goccy", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var ev event
			if failure := decodeBody(body, &ev, "not JSON"); failure != nil {
				b.Fatal(failure.Message)
			}
			var data string
			if err := json.Unmarshal(ev.Data, &data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var ev event
			if err := stdjson.Unmarshal(body, &ev); err != nil {
				b.Fatal(err)
			}
			var data string
			if err := stdjson.Unmarshal(ev.Data, &data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
