//go:build linux

package connection

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/client"
)

// TestPolledRefusalEndsNothing: a plain-TCP connection refused over quota
// was never admitted, so it must not report a transport's end: shutdown
// counts those to know when every admitted connection has sent its close.
func TestPolledRefusalEndsNothing(t *testing.T) {
	h := newHarness(t, func(a *apps.App, _ *Options) { a.MaxConnections = 1 })
	w := NewWebSocket(h.hub, WebSocketOptions{})
	if w.poller == nil {
		t.Skip("no poll loops on this system")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = w.Run(ctx) }()
	srv := httptest.NewServer(w)
	defer srv.Close()
	dial := func() (*client.Client, error) {
		dctx, dcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer dcancel()
		return client.Dial(dctx, client.Options{URL: "ws" + strings.TrimPrefix(srv.URL, "http"), Key: testKey})
	}
	admitted, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	defer admitted.Close()
	if _, err := dial(); err == nil || !strings.Contains(err.Error(), "4004") {
		t.Fatalf("second connection: %v, want a 4004 refusal", err)
	}
	if got := h.hub.ending.Load(); got != 1 {
		t.Fatalf("%d transports left to end, want 1: the admitted one", got)
	}
}
