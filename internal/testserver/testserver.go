// Package testserver starts a real Quaver node inside a test, on a free
// loopback port, and stops it when the test ends.
package testserver

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/server"
)

// Test app credentials; the first app of every test server unless the
// configuration is changed.
const (
	AppID     = "test-app"
	AppKey    = "test-key"
	AppSecret = "test-secret"
)

// Server is a running node.
type Server struct {
	Host string
	Port int
	// URL is the http:// base URL (the API and /up).
	URL string
	// WSURL is the ws:// base URL; append /app/{key}.
	WSURL  string
	Config config.Config
}

// Start runs a node with one app (AppID, AppKey, AppSecret) after applying
// each option to its configuration. Logs go to the test log when
// QUAVER_TEST_LOG is set, and are discarded otherwise.
func Start(t testing.TB, options ...func(*config.Config)) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.Apps = []config.App{{ID: AppID, Key: AppKey, Secret: AppSecret}}
	for _, o := range options {
		o(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("testserver: %v", err)
	}
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("QUAVER_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv, err := server.New(cfg, log)
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("testserver: serve: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("testserver: shutdown took more than 15s")
		}
	})
	port := ln.Addr().(*net.TCPAddr).Port
	scheme, wsScheme := "http", "ws"
	if cfg.TLS.Cert != "" {
		scheme, wsScheme = "https", "wss"
	}
	hostPort := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return &Server{
		Host:   "127.0.0.1",
		Port:   port,
		URL:    scheme + "://" + hostPort,
		WSURL:  wsScheme + "://" + hostPort,
		Config: cfg,
	}
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
