package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkTrigger serves a signed one-token trigger, the API's share of
// a publish: routing, the signature, the decoding, the checks and the
// frame, published to a channel without subscribers or rule here (delivery
// has its own benchmarks in connection; a token rule adds
// protocol.BenchmarkParseToken and the history's record). net/http's own
// parsing of the request is not in it.
func BenchmarkTrigger(b *testing.B) {
	e := newEnv(b)
	const body = `{"name":"token","data":"{\"stream\":12,\"seq\":345,\"delta\":\" hello\"}","channel":"private-bench"}`
	req := signed(b, mainApp, "POST", "/events", nil, body)
	r := strings.NewReader(body)
	req.Body = io.NopCloser(r)
	w := &discard{header: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(body)
		clear(w.header)
		w.status = 0
		e.api.ServeHTTP(w, req)
		if w.status != http.StatusOK {
			b.Fatalf("status %d", w.status)
		}
	}
}

// discard is a ResponseWriter that keeps only the status.
type discard struct {
	header http.Header
	status int
}

func (d *discard) Header() http.Header { return d.header }

func (d *discard) Write(p []byte) (int, error) {
	if d.status == 0 {
		d.status = http.StatusOK
	}
	return len(p), nil
}

func (d *discard) WriteHeader(status int) { d.status = status }
