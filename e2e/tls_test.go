package e2e

import (
	"testing"

	"github.com/quaver-dev/quaver/internal/jsdriver"
)

// TestTLS serves wss:// and https:// on one port; pusher-js and Echo with
// forceTLS connect over wss and the SDK triggers over https, trusting the
// test certificate as a system CA (NODE_EXTRA_CA_CERTS).
func TestTLS(t *testing.T) {
	t.Parallel()
	h := startTLS(t)
	tls := args{"forceTLS": true}
	h.connect("js", "pusher-js", args{"options": tls})
	h.connect("echo", "echo-reverb", args{"options": tls})
	h.subscribe("js", "private-secure")
	h.d.Call("echoListen", args{"client": "echo", "kind": "private", "channel": "secure", "event": ".tick"})
	h.d.Wait("echo subscribed", jsdriver.Typed("subscribed", "echo", "private-secure"))
	h.trigger("private-secure", "tick", map[string]any{"n": 1})
	h.d.Wait("js gets the event over wss", jsdriver.Event("js", "private-secure", "tick"))
	h.d.Wait("echo gets the event over wss", listenReport("echo", "private-secure", ".tick"))
	var conns struct{ Connections int }
	h.ok("sdk.get", args{"path": "/connections"}, &conns)
	if conns.Connections != 2 {
		t.Errorf("connections %d over https, want 2", conns.Connections)
	}
}
