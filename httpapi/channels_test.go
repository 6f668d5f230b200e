package httpapi_test

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
)

func get(path string, params url.Values) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request { return signed(t, mainApp, "GET", path, params, "") }
}

func TestChannelsGolden(t *testing.T) {
	runGolden(t, []apiCase{
		{name: "all channels", request: get("/channels", nil), wantStatus: 200},
		{name: "filter by prefix", request: get("/channels", url.Values{"filter_by_prefix": {"private-"}}), wantStatus: 200},
		{name: "filter matching nothing", request: get("/channels", url.Values{"filter_by_prefix": {"cache-"}}), wantStatus: 200},
		{name: "user_count", request: get("/channels", url.Values{"filter_by_prefix": {"presence-"}, "info": {"user_count"}}), wantStatus: 200},
		{name: "user_count without presence prefix", request: get("/channels", url.Values{"info": {"user_count"}}), wantStatus: 400},
		{name: "subscription_count not allowed", request: get("/channels", url.Values{"filter_by_prefix": {"presence-"}, "info": {"subscription_count"}}), wantStatus: 400},
		{name: "channel", request: get("/channels/my-channel", nil), wantStatus: 200},
		{name: "channel subscription_count", request: get("/channels/my-channel", url.Values{"info": {"subscription_count"}}), wantStatus: 200},
		{name: "channel user_count on a public channel", request: get("/channels/my-channel", url.Values{"info": {"user_count"}}), wantStatus: 200},
		{name: "presence channel", request: get("/channels/presence-room", url.Values{"info": {"user_count,subscription_count"}}), wantStatus: 200},
		{name: "empty channel", request: get("/channels/nobody-here", url.Values{"info": {"subscription_count"}}), wantStatus: 200},
		{name: "laravel channel name", request: get("/channels/private-chat.1", url.Values{"info": {"subscription_count"}}), wantStatus: 200},
		{name: "invalid channel name", request: get("/channels/bad channel", nil), wantStatus: 400},
		{name: "users", request: get("/channels/presence-room/users", nil), wantStatus: 200},
		{name: "users of an empty presence channel", request: get("/channels/presence-empty/users", nil), wantStatus: 200},
		{name: "users of a public channel", request: get("/channels/my-channel/users", nil), wantStatus: 400},
		{name: "users of a private channel", request: get("/channels/private-chat.1/users", nil), wantStatus: 400},
		{name: "connections", request: get("/connections", nil), wantStatus: 200},
		{
			name: "terminate",
			request: func(t *testing.T) *http.Request {
				return signed(t, mainApp, "POST", "/users/u1/terminate_connections", nil, "{}")
			},
			wantStatus: 200,
			check: func(t *testing.T, e *env) {
				if !slices.Equal(e.state.terminated, []string{appID + "/u1"}) {
					t.Fatalf("terminated %v", e.state.terminated)
				}
			},
		},
		{name: "wrong method", request: get("/events", nil), wantStatus: 405},
	})
}
