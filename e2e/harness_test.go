package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/internal/jsdriver"
	"github.com/quaver-dev/quaver/internal/testcert"
	"github.com/quaver-dev/quaver/internal/testserver"
)

// masterKey is the encryption master key the SDK encrypts
// private-encrypted- events with and derives shared secrets from.
var masterKey = base64.StdEncoding.EncodeToString([]byte("quaver-e2e-master-key-32-bytes!!"))

// harness is one test's server and driver. The driver has an SDK named
// "default" for the test app.
type harness struct {
	t   *testing.T
	srv *testserver.Server
	d   *jsdriver.Driver
}

// start runs a server (the test app plus whatever options add) and a
// driver for t.
func start(t *testing.T, options ...func(*config.Config)) *harness {
	t.Helper()
	h := &harness{t: t, srv: testserver.Start(t, options...)}
	h.d = jsdriver.Start(t)
	h.sdk("default", testserver.AppID, testserver.AppKey, testserver.AppSecret)
	return h
}

// startTLS is start over TLS: wss:// and https:// on the server's one
// port, with the driver's Node trusting the test certificate as a system CA
// (NODE_EXTRA_CA_CERTS) and its default SDK triggering over https.
func startTLS(t *testing.T) *harness {
	t.Helper()
	cert := testcert.Write(t, t.TempDir(), "quaver")
	srv := testserver.Start(t, func(c *config.Config) {
		c.TLS = config.TLS{Cert: cert.CertFile, Key: cert.KeyFile}
	})
	h := &harness{t: t, srv: srv, d: jsdriver.Start(t, jsdriver.Env("NODE_EXTRA_CA_CERTS="+cert.CertFile))}
	h.d.Call("createSdk", args{
		"name": "default", "appId": testserver.AppID, "key": testserver.AppKey, "secret": testserver.AppSecret,
		"host": srv.Host, "port": srv.Port, "useTLS": true,
	})
	return h
}

// withApp adds an app with the test secret; edit changes its settings.
func withApp(id, key string, edit func(*config.App)) func(*config.Config) {
	return func(c *config.Config) {
		a := config.App{ID: id, Key: key, Secret: id + "-secret"}
		if edit != nil {
			edit(&a)
		}
		c.Apps = append(c.Apps, a)
	}
}

// editTestApp changes the test app (the first app).
func editTestApp(edit func(*config.App)) func(*config.Config) {
	return func(c *config.Config) { edit(&c.Apps[0]) }
}

// sdk creates a pusher SDK instance in the driver for an app.
func (h *harness) sdk(name, appID, key, secret string) {
	h.t.Helper()
	h.d.Call("createSdk", map[string]any{
		"name": name, "appId": appID, "key": key, "secret": secret,
		"host": h.srv.Host, "port": h.srv.Port, "encryptionMasterKeyBase64": masterKey,
	})
}

// args is a driver command's fields.
type args = map[string]any

// create starts a client without waiting for it to connect. lib is
// "pusher-js", "echo-reverb" or "echo-pusher". extra adds or overrides
// create fields (key, sdk, channelData, userData, options, origin, ...).
func (h *harness) create(name, lib string, extra args) {
	h.t.Helper()
	a := args{"name": name, "key": testserver.AppKey, "host": h.srv.Host, "port": h.srv.Port, "sdk": "default"}
	switch lib {
	case "pusher-js":
		a["lib"] = "pusher-js"
	case "echo-reverb":
		a["lib"], a["broadcaster"] = "echo", "reverb"
	case "echo-pusher":
		a["lib"], a["broadcaster"] = "echo", "pusher"
	default:
		h.t.Fatalf("unknown lib %q", lib)
	}
	for k, v := range extra {
		a[k] = v
	}
	h.d.Call("create", a)
}

// connect creates a client and waits until it is connected; it returns the
// socket id.
func (h *harness) connect(name, lib string, extra args) string {
	h.t.Helper()
	h.create(name, lib, extra)
	return h.connected(name)
}

// connected waits for a client to be connected and returns its socket id.
func (h *harness) connected(name string) string {
	h.t.Helper()
	r := h.d.Wait(name+" connected", jsdriver.State(name, "connected"))
	return r.SocketID
}

// subscribe subscribes a pusher-js client and waits for success.
func (h *harness) subscribe(client, channel string) {
	h.t.Helper()
	h.d.Call("subscribe", args{"client": client, "channel": channel})
	h.d.Wait(client+" subscribed to "+channel, jsdriver.Subscribed(client, channel))
}

// echoSubscribe makes an Echo client use a channel of a kind (channel, private,
// encryptedPrivate, join) and waits for the subscription; it returns the
// Pusher channel name.
func (h *harness) echoSubscribe(client, kind, channel string) string {
	h.t.Helper()
	r := h.d.Call("echoSubscribe", args{"client": client, "kind": kind, "channel": channel})
	var res struct{ Channel string }
	_ = json.Unmarshal(r.Result, &res)
	h.d.Wait(client+" subscribed to "+res.Channel, jsdriver.Typed("subscribed", client, res.Channel))
	return res.Channel
}

// sdkResult is the answer to an SDK call.
type sdkResult struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
	Error  string          `json:"error"`
}

// call runs an SDK command (sdk.trigger, sdk.get, ...) and returns its
// HTTP status and body.
func (h *harness) call(command string, a args) sdkResult {
	h.t.Helper()
	if _, ok := a["sdk"]; !ok {
		a["sdk"] = "default"
	}
	r := h.d.Call(command, a)
	var res sdkResult
	if err := json.Unmarshal(r.Result, &res); err != nil {
		h.t.Fatalf("%s: %v in %s", command, err, r.Result)
	}
	return res
}

// ok runs an SDK command that must succeed and decodes its body into v
// (when v is not nil).
func (h *harness) ok(command string, a args, v any) {
	h.t.Helper()
	res := h.call(command, a)
	if res.Status != 200 {
		h.t.Fatalf("%s %v: status %d, body %s", command, a, res.Status, res.Body)
	}
	if v != nil {
		if err := json.Unmarshal(res.Body, v); err != nil {
			h.t.Fatalf("%s: decoding %s: %v", command, res.Body, err)
		}
	}
}

// trigger publishes an event through the SDK and requires success.
func (h *harness) trigger(channels any, event string, data any) {
	h.t.Helper()
	h.ok("sdk.trigger", args{"channels": channels, "event": event, "data": data}, nil)
}

// raw dials a Go client (no driver) to the test app; secret signs its
// private subscriptions.
func (h *harness) raw(key, secret string, query map[string]string) *client.Client {
	h.t.Helper()
	return dialRaw(h.t, h.srv, key, secret, query)
}

func dialRaw(t *testing.T, srv *testserver.Server, key, secret string, query map[string]string) *client.Client {
	t.Helper()
	o := client.Options{URL: srv.WSURL, Key: key, Secret: secret}
	if query != nil {
		o.Query = map[string][]string{}
		for k, v := range query {
			o.Query[k] = []string{v}
		}
	}
	return dialClient(t, o)
}

// dialClient connects a Go client with o, within 10 s, closed with the
// test.
func dialClient(t *testing.T, o client.Options) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, o)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// next waits up to 10 s for the raw client's next event matching.
func next(t *testing.T, c *client.Client, what string, match func(client.Event) bool) client.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := c.NextMatching(ctx, match)
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	return e
}

// isEvent matches a raw client's event by name (and channel when given).
func isEvent(event, channel string) func(client.Event) bool {
	return func(e client.Event) bool { return e.Event == event && (channel == "" || e.Channel == channel) }
}

// errorData decodes a pusher:error's data.
func errorData(t *testing.T, e client.Event) (int, string) {
	t.Helper()
	var d struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(e.DataString()), &d); err != nil {
		t.Fatalf("pusher:error data %s: %v", e.Data, err)
	}
	return d.Code, d.Message
}

// waitClosed waits until the raw client's connection has ended and
// returns the close code.
func waitClosed(t *testing.T, c *client.Client, within time.Duration) int {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(within):
		t.Fatalf("connection still open after %v", within)
	}
	code, _ := c.CloseCode()
	return code
}

// eventually polls cond every 20 ms until it holds, for state the clients
// cannot report (server counts); it fails the test after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	eventuallyWithin(t, 10*time.Second, what, cond)
}

// eventuallyWithin is eventually with its own limit, for what waits on a
// load balancer's health checks or thousands of sessions.
func eventuallyWithin(tb testing.TB, limit time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not true within %v", what, limit)
		}
		<-tick.C
	}
}

// contains reports whether the JSON text holds s.
func contains(raw json.RawMessage, s string) bool { return strings.Contains(string(raw), s) }
