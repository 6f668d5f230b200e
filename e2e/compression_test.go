package e2e

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/internal/browser"
	"github.com/quaver-dev/quaver/internal/jsdriver"
	"github.com/quaver-dev/quaver/internal/testcert"
	"github.com/quaver-dev/quaver/internal/testenv"
	"github.com/quaver-dev/quaver/internal/testserver"
	"github.com/quaver-dev/quaver/protocol"
)

// deflateAgreed is Quaver's answer to a permessage-deflate offer: no
// context takeover either way, so every message is compressed on its own.
const deflateAgreed = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

// chromiumOffer is the extension header Chromium (and Firefox, and Node's
// WebSocket) send.
var chromiumOffer = http.Header{"Sec-WebSocket-Extensions": {"permessage-deflate; client_max_window_bits"}}

// Event data on either side of the default 512-byte threshold. Both are
// compressible, so only the threshold decides which is compressed.
var (
	belowThreshold = `{"note":"` + strings.Repeat("tick tock ", 30) + `"}`
	aboveThreshold = `{"note":"` + strings.Repeat("the quick brown fox jumps over the lazy dog ", 60) + `"}`
)

// transportServer is a test server reached over plain TCP (served by the
// poll loops) or TLS (served by gws), with what a client needs to reach it.
type transportServer struct {
	srv       *testserver.Server
	tlsConfig *tls.Config // nil for plain TCP
	api       *client.API
}

var transports = []struct {
	name string
	tls  bool
}{{"ws", false}, {"wss", true}}

func startTransport(t *testing.T, useTLS bool, options ...func(*config.Config)) *transportServer {
	t.Helper()
	ts := &transportServer{}
	hc := &http.Client{Timeout: 10 * time.Second}
	if useTLS {
		cert := testcert.Write(t, t.TempDir(), "quaver")
		options = append(options, func(c *config.Config) { c.TLS = config.TLS{Cert: cert.CertFile, Key: cert.KeyFile} })
		ts.tlsConfig = cert.ClientConfig()
		hc.Transport = &http.Transport{TLSClientConfig: cert.ClientConfig()}
	}
	ts.srv = testserver.Start(t, options...)
	ts.api = &client.API{BaseURL: ts.srv.URL, AppID: testserver.AppID, Key: testserver.AppKey, Secret: testserver.AppSecret, HTTP: hc}
	return ts
}

// publish triggers an event through the HTTP API.
func (ts *transportServer) publish(t *testing.T, channel, event, data string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := ts.api.Trigger(ctx, client.TriggerEvent{Name: event, Channel: channel, Data: data}); err != nil {
		t.Fatalf("trigger %s: %v", event, err)
	}
}

// dial connects a Go client to the test app.
func (ts *transportServer) dial(t *testing.T, o client.Options) *client.Client {
	t.Helper()
	o.URL, o.Key, o.Secret, o.TLSConfig = ts.srv.WSURL, testserver.AppKey, testserver.AppSecret, ts.tlsConfig
	return dialClient(t, o)
}

// wantFrame is the JSON text the server sends for an API event.
func wantFrame(channel, event, data string) string {
	return string(protocol.NewFrame(event, channel, data, protocol.DataString, "").JSON)
}

// TestDeflatePusherJS runs the real pusher-js through a proxy that records
// the wire. With the standard WebSocket browsers give pusher-js (here
// Node's, which offers permessage-deflate as Chromium does) the server
// agrees to the extension and compresses the event above the threshold,
// not the one below; pusher-js receives both intact. pusher-js's Node build
// (faye-websocket) offers no extension and gets the same events
// uncompressed.
func TestDeflatePusherJS(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	proxy := startWireProxy(t, net.JoinHostPort(srv.Host, strconv.Itoa(srv.Port)))
	h := &harness{t: t, srv: srv, d: jsdriver.Start(t, standardWebSocket)}
	h.sdk("default", testserver.AppID, testserver.AppKey, testserver.AppSecret)

	h.create("browser", "pusher-js", args{"port": proxy.port, "webSocket": "standard"})
	opened := h.d.Wait("browser's WebSocket open", jsdriver.Type("websocket", "browser"))
	if got := opened.Text("extensions"); got != deflateAgreed {
		t.Fatalf("pusher-js on the standard WebSocket negotiated extensions %q, want %q", got, deflateAgreed)
	}
	h.connected("browser")
	h.create("node", "pusher-js", args{"port": proxy.port})
	h.connected("node")
	for _, c := range []string{"browser", "node"} {
		h.subscribe(c, "news")
	}
	h.trigger("news", "below", belowThreshold)
	h.trigger("news", "above", aboveThreshold)
	for _, c := range []string{"browser", "node"} {
		for event, data := range map[string]string{"below": belowThreshold, "above": aboveThreshold} {
			r := h.d.Wait(c+" gets "+event, jsdriver.Event(c, "news", event))
			var got, want any
			_ = json.Unmarshal([]byte(data), &want)
			if err := r.DecodeData(&got); err != nil || !jsonEqual(got, want) {
				t.Fatalf("%s received %s as %s", c, event, r.Data)
			}
		}
	}

	conns := proxy.connections(t)
	if len(conns) != 2 {
		t.Fatalf("%d connections through the proxy, want 2", len(conns))
	}
	browser, node := conns[0], conns[1]
	if got := headerValue(browser.response, "Sec-WebSocket-Extensions"); got != deflateAgreed {
		t.Fatalf("server answered the browser's offer with %q", got)
	}
	if got := headerValue(node.request, "Sec-WebSocket-Extensions") + headerValue(node.response, "Sec-WebSocket-Extensions"); got != "" {
		t.Fatalf("pusher-js on faye-websocket negotiated %q", got)
	}
	below, above := frameFor(t, browser.down, "below"), frameFor(t, browser.down, "above")
	if below.rsv1 || string(below.payload) != wantFrame("news", "below", belowThreshold) {
		t.Fatalf("below the threshold: compressed %v, %s", below.rsv1, below.payload)
	}
	if !above.rsv1 || string(above.payload) != wantFrame("news", "above", aboveThreshold) || above.wire*4 > len(above.payload) {
		t.Fatalf("above the threshold: compressed %v, %d bytes on the wire for %d", above.rsv1, above.wire, len(above.payload))
	}
	for _, f := range node.down {
		if f.rsv1 {
			t.Fatalf("a frame to faye-websocket was compressed: %s", f.payload)
		}
	}
	if f := frameFor(t, node.down, "above"); string(f.payload) != wantFrame("news", "above", aboveThreshold) {
		t.Fatalf("faye-websocket received %s", f.payload)
	}
}

// standardWebSocket gives the driver Node's standard WebSocket (a flag
// before Node 22).
var standardWebSocket = jsdriver.Env("NODE_OPTIONS=--experimental-websocket --no-warnings")

// TestDeflatePusherJSOverTLS: over wss (served by gws) pusher-js on the
// standard WebSocket negotiates the same extension and reads events on
// both sides of the threshold.
func TestDeflatePusherJSOverTLS(t *testing.T) {
	t.Parallel()
	cert := testcert.Write(t, t.TempDir(), "quaver")
	srv := testserver.Start(t, func(c *config.Config) { c.TLS = config.TLS{Cert: cert.CertFile, Key: cert.KeyFile} })
	h := &harness{t: t, srv: srv, d: jsdriver.Start(t, standardWebSocket, jsdriver.Env("NODE_EXTRA_CA_CERTS="+cert.CertFile))}
	h.d.Call("createSdk", args{
		"name": "default", "appId": testserver.AppID, "key": testserver.AppKey, "secret": testserver.AppSecret,
		"host": srv.Host, "port": srv.Port, "useTLS": true,
	})
	h.create("browser", "pusher-js", args{"webSocket": "standard", "options": args{"forceTLS": true}})
	opened := h.d.Wait("browser's WebSocket open", jsdriver.Type("websocket", "browser"))
	if got := opened.Text("extensions"); got != deflateAgreed {
		t.Fatalf("negotiated extensions %q over wss, want %q", got, deflateAgreed)
	}
	h.connected("browser")
	h.subscribe("browser", "private-news")
	h.trigger("private-news", "below", belowThreshold)
	h.trigger("private-news", "above", aboveThreshold)
	for event, data := range map[string]string{"below": belowThreshold, "above": aboveThreshold} {
		r := h.d.Wait("browser gets "+event, jsdriver.Event("browser", "private-news", event))
		var got, want any
		_ = json.Unmarshal([]byte(data), &want)
		if err := r.DecodeData(&got); err != nil || !jsonEqual(got, want) {
			t.Fatalf("received %s as %s", event, r.Data)
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// frameFor finds the frame that carries an event.
func frameFor(t *testing.T, frames []wsFrame, event string) wsFrame {
	t.Helper()
	for _, f := range frames {
		var m struct{ Event string }
		if json.Unmarshal(f.payload, &m) == nil && m.Event == event {
			return f
		}
	}
	t.Fatalf("no frame for %s among %d", event, len(frames))
	return wsFrame{}
}

// TestDeflateOnTheWire speaks RFC 7692 directly to both transports (poll
// loops for ws, gws for wss): the offer browsers send is answered, their
// compressed messages are understood, frames are compressed from the
// threshold up, and the failures RFC 7692 names close the connection.
func TestDeflateOnTheWire(t *testing.T) {
	t.Parallel()
	subscribe := []byte(`{"event":"pusher:subscribe","data":{"channel":"news","auth":""}}`)
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			t.Run("browser offer", func(t *testing.T) {
				t.Parallel()
				ts := startTransport(t, tr.tls)
				s := dialRawSocket(t, ts.srv, ts.tlsConfig, testserver.AppKey, "", chromiumOffer)
				if got := s.response.Header.Get("Sec-WebSocket-Extensions"); got != deflateAgreed {
					t.Fatalf("answered %q, want %q", got, deflateAgreed)
				}
				if f := s.nextMessage(); f.rsv1 || !strings.Contains(string(f.payload), protocol.EventConnectionEstablished) {
					t.Fatalf("first frame compressed %v: %s", f.rsv1, f.payload)
				}
				// Browsers compress what they send.
				s.send(0x40|0x1, deflateMessage(subscribe))
				if f := s.nextMessage(); !strings.Contains(string(f.payload), protocol.EventSubscriptionSucceeded) {
					t.Fatalf("compressed subscribe answered with %s", f.payload)
				}
				ts.publish(t, "news", "below", belowThreshold)
				ts.publish(t, "news", "above", aboveThreshold)
				below, above := s.nextMessage(), s.nextMessage()
				if below.rsv1 || string(below.payload) != wantFrame("news", "below", belowThreshold) {
					t.Fatalf("below the threshold: compressed %v, %s", below.rsv1, below.payload)
				}
				if !above.rsv1 || string(above.payload) != wantFrame("news", "above", aboveThreshold) || above.wire*4 > len(above.payload) {
					t.Fatalf("above the threshold: compressed %v, %d bytes for %d: %s", above.rsv1, above.wire, len(above.payload), above.payload)
				}
			})
			t.Run("threshold from the configuration", func(t *testing.T) {
				t.Parallel()
				ts := startTransport(t, tr.tls, func(c *config.Config) { c.Compression.Threshold = 100 })
				s := dialRawSocket(t, ts.srv, ts.tlsConfig, testserver.AppKey, "", chromiumOffer)
				s.nextMessage()
				s.send(0x1, subscribe)
				s.nextMessage()
				ts.publish(t, "news", "below", belowThreshold)
				if f := s.nextMessage(); !f.rsv1 || string(f.payload) != wantFrame("news", "below", belowThreshold) {
					t.Fatalf("a %d-byte frame with threshold 100: compressed %v", len(f.payload), f.rsv1)
				}
			})
			for _, c := range []struct {
				name   string
				header http.Header
				config func(*config.Config)
			}{
				{"not offered", nil, nil},
				{"offer declined", http.Header{"Sec-WebSocket-Extensions": {"permessage-deflate; server_max_window_bits=10"}}, nil},
				{"turned off", chromiumOffer, func(c *config.Config) { c.Compression.Deflate = false }},
			} {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					var options []func(*config.Config)
					if c.config != nil {
						options = append(options, c.config)
					}
					ts := startTransport(t, tr.tls, options...)
					s := dialRawSocket(t, ts.srv, ts.tlsConfig, testserver.AppKey, "", c.header)
					if got := s.response.Header.Get("Sec-WebSocket-Extensions"); got != "" {
						t.Fatalf("answered extensions %q", got)
					}
					s.nextMessage()
					s.send(0x1, subscribe)
					s.nextMessage()
					ts.publish(t, "news", "above", aboveThreshold)
					if f := s.nextMessage(); f.rsv1 || string(f.payload) != wantFrame("news", "above", aboveThreshold) {
						t.Fatalf("compressed %v: %s", f.rsv1, f.payload)
					}
					// A compressed frame without the extension breaks the protocol.
					s.send(0x40|0x1, deflateMessage(subscribe))
					if code := s.closeCode(); code != 1002 {
						t.Fatalf("RSV1 without the extension closed with %d, want 1002", code)
					}
				})
			}
			t.Run("compressed message too large", func(t *testing.T) {
				t.Parallel()
				ts := startTransport(t, tr.tls)
				s := dialRawSocket(t, ts.srv, ts.tlsConfig, testserver.AppKey, "", chromiumOffer)
				s.nextMessage()
				// A few hundred bytes that inflate past the largest message.
				bomb := deflateMessage([]byte(`{"event":"client-x","data":"` + strings.Repeat(" ", 1<<20) + `"}`))
				if len(bomb) > 2000 {
					t.Fatalf("bomb of %d bytes", len(bomb))
				}
				s.send(0x40|0x1, bomb)
				// gws, which reads wss, stops inflating at the same limit
				// but reports every inflate failure as 1011.
				want := 1009
				if tr.tls {
					want = 1011
				}
				if code := s.closeCode(); code != want {
					t.Fatalf("closed with %d, want %d", code, want)
				}
			})
		})
	}
}

// TestDeflateGoClient: the Go client with Compression set receives large
// events intact and sends compressed messages (gws compresses from 512
// bytes), which a JSON peer receives as sent.
func TestDeflateGoClient(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			ts := startTransport(t, tr.tls)
			zipped := ts.dial(t, client.Options{Compression: true})
			peer := ts.dial(t, client.Options{})
			for _, c := range []*client.Client{zipped, peer} {
				if _, err := c.SubscribeAndWait(context.Background(), "private-room", client.SubscribeOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			ts.publish(t, "private-room", "above", aboveThreshold)
			if e := next(t, zipped, "the event", isEvent("above", "private-room")); e.DataString() != aboveThreshold {
				t.Fatalf("received %s", e.DataString())
			}
			note := map[string]string{"text": strings.Repeat("compress me ", 200)}
			if err := zipped.Trigger("private-room", "client-note", note); err != nil {
				t.Fatal(err)
			}
			e := next(t, peer, "the client event", isEvent("client-note", "private-room"))
			var got map[string]string
			if err := json.Unmarshal(e.Data, &got); err != nil || got["text"] != note["text"] {
				t.Fatalf("peer received %.80s", e.Data)
			}
		})
	}
}

// deflatePage connects pusher-js's browser build to the server and keeps
// what it receives, and each WebSocket's negotiated extensions, for the
// test to read.
const deflatePage = `<!doctype html>
<html><head><meta charset="utf-8"><title>Quaver: permessage-deflate</title>
<script src="/pusher.js"></script></head><body>
<script>
  const cfg = %s;
  window.sockets = [];
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      window.sockets.push(this);
    }
  };
  window.got = {};
  window.subscribed = false;
  const pusher = new Pusher(cfg.key, { cluster: 'mt1', wsHost: cfg.host, wsPort: cfg.port, forceTLS: false, enabledTransports: ['ws'] });
  const channel = pusher.subscribe('news');
  channel.bind('pusher:subscription_succeeded', () => { window.subscribed = true; });
  channel.bind_global((event, data) => { window.got[event] = data; });
</script></body></html>`

// TestDeflateChromium: pusher-js in headless Chromium, through a proxy
// that records the wire. Chromium offers permessage-deflate, the server
// agrees, Chromium's compressed messages are understood, and the page
// receives events on both sides of the threshold intact, the larger one
// compressed.
func TestDeflateChromium(t *testing.T) {
	t.Parallel()
	srv := testserver.Start(t)
	proxy := startWireProxy(t, net.JoinHostPort(srv.Host, strconv.Itoa(srv.Port)))
	ts := &transportServer{srv: srv, api: &client.API{BaseURL: srv.URL, AppID: testserver.AppID, Key: testserver.AppKey, Secret: testserver.AppSecret}}
	script := filepath.Join(testenv.RepoRoot(t), "e2e", "js", "node_modules", "pusher-js", "dist", "web", "pusher.min.js")
	cfg := fmt.Sprintf(`{"key": %q, "host": "127.0.0.1", "port": %d}`, testserver.AppKey, proxy.port)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/pusher.js" {
			w.Header().Set("Content-Type", "text/javascript")
			http.ServeFile(w, r, script)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = fmt.Fprintf(w, deflatePage, cfg)
	}))
	t.Cleanup(page.Close)

	p := browser.Start(t).Open(page.URL)
	p.WaitUntil("pusher-js is subscribed", `window.subscribed === true`, 0)
	var extensions string
	p.Eval(`window.sockets[0].extensions`, &extensions)
	if extensions != deflateAgreed {
		t.Fatalf("Chromium negotiated %q, want %q", extensions, deflateAgreed)
	}
	ts.publish(t, "news", "below", belowThreshold)
	ts.publish(t, "news", "above", aboveThreshold)
	p.WaitUntil("both events arrived", `window.got.below !== undefined && window.got.above !== undefined`, 0)
	for event, data := range map[string]string{"below": belowThreshold, "above": aboveThreshold} {
		var got, want any
		p.Eval(`window.got.`+event, &got)
		_ = json.Unmarshal([]byte(data), &want)
		if !jsonEqual(got, want) {
			t.Fatalf("the page received %s as %v", event, got)
		}
	}

	conns := proxy.connections(t)
	if len(conns) != 1 {
		t.Fatalf("%d connections through the proxy, want 1", len(conns))
	}
	c := conns[0]
	if got := headerValue(c.response, "Sec-WebSocket-Extensions"); got != deflateAgreed {
		t.Fatalf("Chromium offered %q and was answered %q", headerValue(c.request, "Sec-WebSocket-Extensions"), got)
	}
	compressedUp := 0
	for _, f := range c.up {
		if f.rsv1 {
			compressedUp++
		}
	}
	if compressedUp == 0 {
		t.Fatalf("Chromium sent %d frames, none compressed", len(c.up))
	}
	below, above := frameFor(t, c.down, "below"), frameFor(t, c.down, "above")
	if below.rsv1 || !above.rsv1 || string(above.payload) != wantFrame("news", "above", aboveThreshold) {
		t.Fatalf("below compressed %v, above compressed %v (%d bytes on the wire for %d)", below.rsv1, above.rsv1, above.wire, len(above.payload))
	}
}
