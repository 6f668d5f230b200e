package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/quaver-dev/quaver/httpapi"
)

type transports map[string]int

func (t transports) ConnectionsByTransport() map[string]int { return t }

// /up reports the node's connections by transport when it can count them,
// so operators see how many clients fell back to HTTP.
func TestUpConnectionsByTransport(t *testing.T) {
	counts := transports{"ws": 3, "xhr_streaming": 2, "xhr_polling": 1}
	api := httpapi.New(httpapi.Options{Transports: counts})
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/up", nil))
	var body struct {
		Health      string         `json:"health"`
		Connections map[string]int `json:"connections"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 200 {
		t.Fatalf("/up: %d %s", rec.Code, rec.Body)
	}
	if body.Health != "OK" || len(body.Connections) != 3 || body.Connections["xhr_streaming"] != 2 || body.Connections["ws"] != 3 {
		t.Fatalf("/up body %s", rec.Body)
	}
}
