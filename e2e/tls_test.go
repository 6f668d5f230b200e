package e2e

import (
	"testing"

	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/internal/jsdriver"
	"github.com/quaver-dev/quaver/internal/testcert"
	"github.com/quaver-dev/quaver/internal/testserver"
)

// TestTLS serves wss:// and https:// on one port; pusher-js and Echo with
// forceTLS connect over wss and the SDK triggers over https, trusting the
// test certificate as a system CA (NODE_EXTRA_CA_CERTS).
func TestTLS(t *testing.T) {
	t.Parallel()
	cert := testcert.Write(t, t.TempDir(), "quaver")
	srv := testserver.Start(t, func(c *config.Config) {
		c.TLS = config.TLS{Cert: cert.CertFile, Key: cert.KeyFile}
	})
	h := &harness{t: t, srv: srv, d: jsdriver.Start(t, jsdriver.Env("NODE_EXTRA_CA_CERTS="+cert.CertFile))}
	h.d.Call("createSdk", args{
		"name": "default", "appId": testserver.AppID, "key": testserver.AppKey, "secret": testserver.AppSecret,
		"host": srv.Host, "port": srv.Port, "useTLS": true,
	})
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
