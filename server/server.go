package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/broadcast"
	"github.com/quaver-dev/quaver/channels"
	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/connection"
	"github.com/quaver-dev/quaver/httpapi"
	"github.com/quaver-dev/quaver/presence"
	"github.com/quaver-dev/quaver/scaling"
	"golang.org/x/sync/errgroup"
)

// ShutdownTimeout bounds a graceful shutdown.
const ShutdownTimeout = 10 * time.Second

// Server is one Quaver node.
type Server struct {
	cfg       config.Config
	log       *slog.Logger
	apps      *apps.Static
	registry  *channels.Registry
	presence  presence.Store
	broker    scaling.Broker
	publisher *broadcast.Publisher
	hub       *connection.Hub
	handler   http.Handler
}

// New builds a node from a validated configuration.
func New(cfg config.Config, log *slog.Logger) (*Server, error) {
	store, err := apps.NewStatic(appsFrom(cfg.Apps))
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: log, apps: store, broker: scaling.Local{}, presence: presence.NewMemory()}
	s.registry = channels.NewRegistry(brokerHook{s.broker})
	s.publisher = broadcast.NewPublisher(broadcast.Options{Registry: s.registry, Broker: s.broker, Logger: log})
	s.hub = connection.NewHub(connection.Options{
		Apps:        store,
		Registry:    s.registry,
		Presence:    s.presence,
		Publisher:   s.publisher,
		Logger:      log,
		PongTimeout: cfg.PongTimeout.Duration(),
	})
	maxMessage := 0
	for _, a := range appsFrom(cfg.Apps) {
		a.Defaults()
		maxMessage = max(maxMessage, a.MaxMessageSize)
	}
	ws := connection.NewWebSocket(s.hub, connection.WebSocketOptions{MaxMessageSize: maxMessage})
	api := httpapi.New(httpapi.Options{
		Apps:           store,
		Publisher:      s.publisher,
		Presence:       s.presence,
		State:          localState{registry: s.registry, hub: s.hub},
		Logger:         log,
		MaxRequestSize: cfg.MaxRequestSize,
		PathPrefix:     cfg.Path,
	})
	r := chi.NewRouter()
	r.Route(cfg.Path+"/", func(r chi.Router) {
		r.Get("/app/{key}", ws.ServeHTTP)
		r.Mount("/", api)
	})
	s.handler = r
	return s, nil
}

// Handler returns the node's HTTP handler (WebSocket endpoint and API).
func (s *Server) Handler() http.Handler { return s.handler }

// Run listens on the configured address and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port)))
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then shuts down gracefully: clients
// are told to reconnect (4200) and in-flight API requests finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	httpServer := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if s.cfg.TLS.Cert != "" {
		certs, err := newCertificateReloader(s.cfg.TLS.Cert, s.cfg.TLS.Key, s.log)
		if err != nil {
			return err
		}
		ln = tls.NewListener(ln, &tls.Config{GetCertificate: certs.get, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}})
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return ignoreCanceled(s.hub.Run(gctx)) })
	g.Go(func() error { return ignoreCanceled(s.publisher.Run(gctx)) })
	g.Go(func() error {
		if err := httpServer.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		if err := s.hub.Shutdown(shutdownCtx); err != nil {
			s.log.Warn("connections still open at shutdown", "err", err)
		}
		return httpServer.Shutdown(shutdownCtx)
	})
	return g.Wait()
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// brokerHook tells the broker which channels this node needs.
type brokerHook struct{ broker scaling.Broker }

func (h brokerHook) Occupied(app, channel string) { h.broker.Subscribe(app, channel) }
func (h brokerHook) Vacated(app, channel string)  { h.broker.Unsubscribe(app, channel) }
