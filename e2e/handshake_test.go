package e2e

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/internal/jsdriver"
	"github.com/quaver-dev/quaver/protocol"
)

// retried matches a client going back to connecting after its first
// attempt, which a refused client must never do.
func retried(name string) func(jsdriver.Report) bool {
	return func(r jsdriver.Report) bool {
		return r.Type == "state" && r.Client == name && r.Current == "connecting" && r.Previous != "initialized"
	}
}

// refusedWithoutRetry asserts what a user sees when the server refuses a
// handshake with code: an error carrying the code, the state disconnected,
// and no reconnection attempt.
func refusedWithoutRetry(t *testing.T, d *jsdriver.Driver, names []string, code int) {
	t.Helper()
	for _, name := range names {
		d.Wait(name+" gets error "+strconv.Itoa(code), jsdriver.ErrorCode(name, code))
		d.Wait(name+" disconnected", jsdriver.State(name, "disconnected"))
		if n := d.Count(jsdriver.State(name, "connected")); n != 0 {
			t.Errorf("%s was connected %d times, want never", name, n)
		}
	}
	// pusher-js would retry after 1 s (backoff) or at once (retry); give it
	// twice that.
	for _, name := range names {
		d.Never(name+" retries", 0, retried(name))
	}
	d.Never("any refused client retries", 2500*time.Millisecond, func(r jsdriver.Report) bool {
		for _, name := range names {
			if retried(name)(r) {
				return true
			}
		}
		return false
	})
}

func TestUnknownKeyIsRefusedWith4001WithoutRetry(t *testing.T) {
	t.Parallel()
	h := start(t, withApp("off-app", "off-key", func(a *config.App) { a.Disabled = true }))
	unknown := []string{"pusher-js", "echo-reverb", "echo-pusher"}
	for _, lib := range unknown {
		h.create(lib, lib, args{"key": "no-such-key"})
	}
	h.create("disabled", "echo-reverb", args{"key": "off-key"})
	refusedWithoutRetry(t, h.d, unknown, protocol.CodeAppNotFound)
	refusedWithoutRetry(t, h.d, []string{"disabled"}, protocol.CodeAppDisabled)
	// The server is fine: a client with the right key connects.
	h.connect("good", "pusher-js", nil)
}

func TestProtocolVersions(t *testing.T) {
	t.Parallel()
	h := start(t)
	// pusher-js and Echo send protocol=7; the Java client sends 5.
	h.connect("js", "pusher-js", nil)
	mark := h.d.Mark()
	for _, version := range []string{"5", "6", "7"} {
		c := h.raw("test-key", "", map[string]string{"protocol": version})
		if !regexp.MustCompile(`^\d+\.\d+$`).MatchString(c.SocketID) {
			t.Errorf("protocol %q: socket id %q is not digits.digits", version, c.SocketID)
		}
		if c.ActivityTimeout != 30*time.Second {
			t.Errorf("protocol %q: activity_timeout %v, want the default 30s", version, c.ActivityTimeout)
		}
	}
	// A nil version leaves the parameter out of the URL altogether.
	for version, code := range map[*string]int{
		ptr("3"): protocol.CodeUnsupportedProtocol, ptr("8"): protocol.CodeUnsupportedProtocol,
		ptr("seven"): protocol.CodeInvalidVersion, ptr(""): protocol.CodeNoProtocol, nil: protocol.CodeNoProtocol,
	} {
		query := map[string][]string{"protocol": nil}
		if version != nil {
			query["protocol"] = []string{*version}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := client.Dial(ctx, client.Options{URL: h.srv.WSURL, Key: "test-key", Query: query})
		cancel()
		var perr *protocol.Error
		if !errors.As(err, &perr) || perr.Code != code {
			t.Errorf("protocol %v: got %v, want pusher:error %d", query["protocol"], err, code)
		}
	}
	// A pusher-js client made to ask for protocol 4 sees 4007 and stays
	// down, as for any 40xx refusal.
	h.create("old", "pusher-js", args{"query": map[string]any{"protocol": 4}})
	refusedWithoutRetry(t, h.d, []string{"old"}, protocol.CodeUnsupportedProtocol)
	h.d.NeverAfter(mark, "the good client is disturbed", 0, func(r jsdriver.Report) bool {
		return r.Client == "js" && (r.Type == "error" || r.Type == "state" && r.Current != "connected")
	})
}

func TestOriginNotAllowedIsRefusedWith4009(t *testing.T) {
	t.Parallel()
	h := start(t, withApp("web", "web-key", func(a *config.App) {
		a.AllowedOrigins = []string{"app.example.com", "*.example.org"}
	}))
	// A browser on an allowed page, on a wildcard subdomain, and a server
	// side client without an Origin header connect.
	h.connect("allowed", "echo-reverb", args{"key": "web-key", "origin": "https://app.example.com"})
	h.connect("wildcard", "pusher-js", args{"key": "web-key", "origin": "https://shop.example.org"})
	h.connect("no-origin", "pusher-js", args{"key": "web-key"})
	// A page elsewhere is refused, with Echo and with pusher-js.
	h.create("evil-echo", "echo-reverb", args{"key": "web-key", "origin": "https://evil.example.net"})
	h.create("evil-js", "pusher-js", args{"key": "web-key", "origin": "https://app.example.com.evil.net"})
	refusedWithoutRetry(t, h.d, []string{"evil-echo", "evil-js"}, protocol.CodeUnauthorized)
	// The test app allows every origin by default.
	h.connect("any", "pusher-js", args{"origin": "https://anything.example"})
}

func TestConnectionQuotaRefusesWith4004(t *testing.T) {
	t.Parallel()
	h := start(t, withApp("small", "small-key", func(a *config.App) { a.MaxConnections = 2 }))
	h.connect("one", "pusher-js", args{"key": "small-key"})
	h.connect("two", "echo-reverb", args{"key": "small-key"})
	h.create("three", "echo-pusher", args{"key": "small-key"})
	refusedWithoutRetry(t, h.d, []string{"three"}, protocol.CodeOverQuota)
	// Other apps have their own quota.
	h.connect("other-app", "pusher-js", nil)
	// A place frees up when a client leaves.
	h.sdk("small", "small", "small-key", "small-secret")
	h.d.Call("disconnect", args{"client": "one"})
	h.d.Wait("one disconnected", jsdriver.State("one", "disconnected"))
	eventually(t, "the server counts one connection of the small app", func() bool {
		var body struct{ Connections int }
		h.ok("sdk.get", args{"sdk": "small", "path": "/connections"}, &body)
		return body.Connections == 1
	})
	h.d.Call("connect", args{"client": "three"})
	h.connected("three")
}

func ptr(s string) *string { return &s }
