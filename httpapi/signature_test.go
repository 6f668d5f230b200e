package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/protocol"
)

const triggerBody = `{"name":"my-event","data":"{\"message\":\"hello world\"}","channels":["my-channel"]}`

// triggered is what subscribers of my-channel receive for triggerBody.
const triggered = `{"event":"my-event","channel":"my-channel","data":"{\"message\":\"hello world\"}"}`

func TestSignatureGolden(t *testing.T) {
	post := func(s func(t *testing.T) *http.Request) func(t *testing.T) *http.Request { return s }
	delivered := func(t *testing.T, e *env) { received(t, e, triggered, "1.1", "1.2") }
	at := func(d time.Duration) func(t *testing.T) *http.Request {
		return func(t *testing.T) *http.Request {
			return signed(t, signer(appID, appKey, appSecret, now.Add(d)), "POST", "/events", nil, triggerBody)
		}
	}
	runGolden(t, []apiCase{
		{
			name: "worked example",
			request: func(*testing.T) *http.Request {
				// The request the pusher node SDK sent in the protocol
				// reference (section 6.1), byte for byte.
				req := httptest.NewRequest("POST", "/apps/123456/events?auth_key=278d425bdf160c739803&auth_timestamp=1700000000&auth_version=1.0&body_md5=15d251b35306a6da7efa515a0e971f80&auth_signature=a606fd4f686f24316e74a2344745fa44bdade94878bc822826ab19c97c2a7b19", strings.NewReader(triggerBody))
				req.Header.Set("Content-Type", "application/json")
				return req
			},
			wantStatus: 200,
			check:      delivered,
		},
		{
			name: "worked example GET",
			request: func(*testing.T) *http.Request {
				return httptest.NewRequest("GET", "/apps/123456/channels?filter_by_prefix=presence-&info=user_count&auth_key=278d425bdf160c739803&auth_timestamp=1700000000&auth_version=1.0&auth_signature=13a547c276949fba41bc65d512f0ee751f009a30cd0cd862588653613dfad085", nil)
			},
			wantStatus: 200,
		},
		{name: "signed by the sdk signer", request: at(0), wantStatus: 200, check: delivered},
		{name: "timestamp 600s old", request: at(-600 * time.Second), wantStatus: 200, check: delivered},
		{name: "timestamp 600s ahead", request: at(600 * time.Second), wantStatus: 200, check: delivered},
		{name: "stale timestamp", request: at(-601 * time.Second), wantStatus: 401, check: nothingReceived},
		{name: "future timestamp", request: at(601 * time.Second), wantStatus: 401, check: nothingReceived},
		{
			name: "missing auth_key",
			request: post(func(t *testing.T) *http.Request {
				return withQuery(signed(t, mainApp, "POST", "/events", nil, triggerBody), func(q url.Values) { q.Del("auth_key") })
			}),
			wantStatus: 401,
			check:      nothingReceived,
		},
		{
			name: "wrong auth_key",
			request: func(t *testing.T) *http.Request {
				return signed(t, signer(appID, "small-key", appSecret, now), "POST", "/events", nil, triggerBody)
			},
			wantStatus: 401,
			check:      nothingReceived,
		},
		{
			name: "missing timestamp",
			request: func(t *testing.T) *http.Request {
				return withQuery(signed(t, mainApp, "POST", "/events", nil, triggerBody), func(q url.Values) { q.Del("auth_timestamp") })
			},
			wantStatus: 401,
		},
		{
			name: "timestamp not a number",
			request: func(t *testing.T) *http.Request {
				return withQuery(signed(t, mainApp, "POST", "/events", nil, triggerBody), func(q url.Values) { q.Set("auth_timestamp", "soon") })
			},
			wantStatus: 401,
		},
		{
			name: "tampered body",
			request: func(t *testing.T) *http.Request {
				return withBody(signed(t, mainApp, "POST", "/events", nil, triggerBody), strings.Replace(triggerBody, "hello", "HELLO", 1))
			},
			wantStatus: 401,
			check:      nothingReceived,
		},
		{
			name: "body added after signing",
			request: func(t *testing.T) *http.Request {
				req := signed(t, mainApp, "POST", "/events", nil, "")
				return withBody(req, triggerBody)
			},
			wantStatus: 401,
			check:      nothingReceived,
		},
		{
			name: "wrong signature",
			request: func(t *testing.T) *http.Request {
				return withQuery(signed(t, mainApp, "POST", "/events", nil, triggerBody), func(q url.Values) {
					q.Set("auth_signature", protocol.Sign("another-secret", "POST\n/apps/123456/events\n"))
				})
			},
			wantStatus: 401,
			check:      nothingReceived,
		},
		{
			name: "signed with another secret",
			request: func(t *testing.T) *http.Request {
				return signed(t, signer(appID, appKey, "wrong-secret", now), "POST", "/events", nil, triggerBody)
			},
			wantStatus: 401,
		},
		{
			name: "uppercase signature",
			request: func(t *testing.T) *http.Request {
				return withQuery(signed(t, mainApp, "POST", "/events", nil, triggerBody), func(q url.Values) {
					q.Set("auth_signature", strings.ToUpper(q.Get("auth_signature")))
				})
			},
			wantStatus: 401,
		},
		{
			name: "missing signature",
			request: func(t *testing.T) *http.Request {
				return withQuery(signed(t, mainApp, "POST", "/events", nil, triggerBody), func(q url.Values) { q.Del("auth_signature") })
			},
			wantStatus: 401,
		},
		{
			name: "parameter added after signing",
			request: func(t *testing.T) *http.Request {
				return withQuery(signed(t, mainApp, "GET", "/channels", nil, ""), func(q url.Values) { q.Set("filter_by_prefix", "private-") })
			},
			wantStatus: 401,
		},
		{
			name: "signed for another path",
			request: func(t *testing.T) *http.Request {
				req := signed(t, mainApp, "GET", "/channels", nil, "")
				req.URL.Path = "/apps/123456/connections"
				return req
			},
			wantStatus: 401,
		},
		{
			name: "signed for another method",
			request: func(t *testing.T) *http.Request {
				req := signed(t, mainApp, "GET", "/users/u1/terminate_connections", nil, "{}")
				req.Method = "POST"
				return req
			},
			wantStatus: 401,
			check: func(t *testing.T, e *env) {
				if len(e.state.terminated) != 0 {
					t.Fatalf("terminated %v", e.state.terminated)
				}
			},
		},
		{
			// The signed body_md5 sent again under another case must not
			// stand in for the md5 of the body received.
			name: "body changed, its signed md5 repeated in capitals",
			request: func(t *testing.T) *http.Request {
				req := signed(t, mainApp, "POST", "/events", nil, triggerBody)
				req = withQuery(req, func(q url.Values) { q.Set("BODY_MD5", q.Get("body_md5")) })
				return withBody(req, strings.Replace(triggerBody, "my-channel", "private-chat.1", 1))
			},
			wantStatus: 401,
			check:      nothingReceived,
		},
		{
			name: "too many query parameters",
			request: func(t *testing.T) *http.Request {
				return withQuery(signed(t, mainApp, "GET", "/channels", nil, ""), func(q url.Values) {
					for i := range 64 {
						q.Set("p"+strconv.Itoa(i), "x")
					}
				})
			},
			wantStatus: 400,
		},
		{
			name: "signed request to an unknown resource",
			request: func(t *testing.T) *http.Request {
				return signed(t, mainApp, "GET", "/nope", nil, "")
			},
			wantStatus: 404,
		},
		{
			name: "unknown app",
			request: func(t *testing.T) *http.Request {
				return signed(t, signer("999", appKey, appSecret, now), "POST", "/events", nil, triggerBody)
			},
			wantStatus: 404,
		},
		{
			name: "disabled app",
			request: func(t *testing.T) *http.Request {
				return signed(t, signer("off", "off-key", "off-secret", now), "POST", "/events", nil, triggerBody)
			},
			wantStatus: 403,
		},
		{
			name: "unsigned request to an unknown resource",
			request: func(*testing.T) *http.Request {
				return httptest.NewRequest("GET", "/apps/123456/nope", nil)
			},
			wantStatus: 401,
		},
	})
}

// TestTerminatePercentEncodedPath checks that user ids reach the handler
// decoded, whichever characters the SDK had to escape: the SDK signs the
// raw id and node-fetch escapes it on the wire (section 6.1).
func TestTerminatePercentEncodedPath(t *testing.T) {
	tests := []struct {
		name    string
		userID  string
		rawPath string // as on the wire; empty: let net/url escape it
	}{
		{"plain", "u1", ""},
		{"space and e-acute", "user 1é", "/apps/123456/users/user%201%C3%A9/terminate_connections"},
		{"lowercase escapes", "user 1é", "/apps/123456/users/user%201%c3%a9/terminate_connections"},
		{"escaped unreserved character", "user1", "/apps/123456/users/us%65r1/terminate_connections"},
		{"pipe left unescaped", "a|b c", "/apps/123456/users/a|b%20c/terminate_connections"},
		{"escaped slash", "team/42", "/apps/123456/users/team%2F42/terminate_connections"},
		{"escaped percent", "100%", "/apps/123456/users/100%25/terminate_connections"},
		{"email", "a+b@example.com", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			req := signed(t, mainApp, "POST", "/users/"+tt.userID+"/terminate_connections", nil, "{}")
			if tt.rawPath != "" {
				u, err := url.Parse("http://quaver.test" + tt.rawPath + "?" + req.URL.RawQuery)
				if err != nil {
					t.Fatal(err)
				}
				if u.Path != "/apps/123456/users/"+tt.userID+"/terminate_connections" {
					t.Fatalf("test path %q decodes to %q", tt.rawPath, u.Path)
				}
				req.URL = u
			}
			status, body := e.serve(req)
			if status != 200 || body != "{}\n" {
				t.Fatalf("status %d, body %s", status, body)
			}
			if want := []string{appID + "/" + tt.userID}; !slices.Equal(e.state.terminated, want) {
				t.Fatalf("terminated %q, want %q", e.state.terminated, want)
			}
		})
	}
}
