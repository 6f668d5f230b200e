package server_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/internal/testcert"
	"github.com/quaver-dev/quaver/internal/testserver"
)

// startTLS runs a node serving the certificate it returns, as
// `quaver start --tls-cert --tls-key` does.
func startTLS(t *testing.T) (*testserver.Server, *testcert.Certificate) {
	t.Helper()
	cert := testcert.Write(t, t.TempDir(), "server")
	srv := testserver.Start(t, func(c *config.Config) {
		c.TLS.Cert, c.TLS.Key = cert.CertFile, cert.KeyFile
	})
	if !strings.HasPrefix(srv.URL, "https://") || !strings.HasPrefix(srv.WSURL, "wss://") {
		t.Fatalf("TLS server at %s and %s, want https:// and wss://", srv.URL, srv.WSURL)
	}
	return srv, cert
}

func httpsClient(cert *testcert.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cert.ClientConfig()}}
}

// TestTLSServesWebSocketAndAPI: a subscriber on wss:// receives an event
// triggered with a signed request over https://, both on the one port.
func TestTLSServesWebSocketAndAPI(t *testing.T) {
	srv, cert := startTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	sub, err := client.Dial(ctx, client.Options{URL: srv.WSURL, Key: testserver.AppKey, TLSConfig: cert.ClientConfig()})
	if err != nil {
		t.Fatalf("wss:// dial: %v", err)
	}
	defer sub.Close()
	if _, err := sub.SubscribeAndWait(ctx, "news", client.SubscribeOptions{}); err != nil {
		t.Fatal(err)
	}

	api := &client.API{BaseURL: srv.URL, AppID: testserver.AppID, Key: testserver.AppKey, Secret: testserver.AppSecret, HTTP: httpsClient(cert)}
	if _, err := api.Trigger(ctx, client.TriggerEvent{Name: "headline", Channels: []string{"news"}, Data: `{"title":"over TLS"}`}); err != nil {
		t.Fatalf("https:// trigger: %v", err)
	}
	got, err := sub.NextMatching(ctx, func(e client.Event) bool { return !strings.HasPrefix(e.Event, "pusher") })
	if err != nil {
		t.Fatal(err)
	}
	if got.Event != "headline" || got.Channel != "news" || got.DataString() != `{"title":"over TLS"}` {
		t.Fatalf("got %s on %s with %s, want headline on news with the triggered data", got.Event, got.Channel, got.DataString())
	}

	resp, err := httpsClient(cert).Get(srv.URL + "/up")
	if err != nil {
		t.Fatalf("https:// /up: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("https:// /up answered %d", resp.StatusCode)
	}
}

// TestTLSRefusesPlaintextAndUntrusted: on the TLS port, plain http:// and
// ws:// get nowhere, and a client that does not trust the certificate
// refuses the connection.
func TestTLSRefusesPlaintextAndUntrusted(t *testing.T) {
	srv, _ := startTLS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	plainHTTP := "http://" + strings.TrimPrefix(srv.URL, "https://")
	plainWS := "ws://" + strings.TrimPrefix(srv.WSURL, "wss://")

	t.Run("http", func(t *testing.T) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, plainHTTP+"/up", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Logf("dropped: %v", err)
			return // the connection was dropped: refused too
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		// Go's server answers a plaintext request on a TLS port with 400
		// and an explanation.
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "HTTPS") {
			t.Fatalf("plain http:// /up on the TLS port answered %d %q, want 400 about HTTPS", resp.StatusCode, body)
		}
	})
	t.Run("ws", func(t *testing.T) {
		c, err := client.Dial(ctx, client.Options{URL: plainWS, Key: testserver.AppKey, HandshakeTimeout: 5 * time.Second})
		if err == nil {
			c.Close()
			t.Fatal("plain ws:// connected to the TLS port")
		}
	})
	t.Run("untrusted certificate", func(t *testing.T) {
		c, err := client.Dial(ctx, client.Options{URL: srv.WSURL, Key: testserver.AppKey, TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12}})
		if err == nil {
			c.Close()
			t.Fatal("wss:// connected without trusting the self-signed certificate")
		}
		if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("wss:// to an untrusted certificate failed with %v, want a certificate error", err)
		}
	})
}
