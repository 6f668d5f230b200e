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
	"github.com/quaver-dev/quaver/history"
	"github.com/quaver-dev/quaver/httpapi"
	"github.com/quaver-dev/quaver/metrics"
	"github.com/quaver-dev/quaver/presence"
	"github.com/quaver-dev/quaver/scaling"
	"github.com/quaver-dev/quaver/streams"
	"golang.org/x/sync/errgroup"
)

// ShutdownTimeout bounds a graceful shutdown.
const ShutdownTimeout = 10 * time.Second

// Server is one Quaver node.
type Server struct {
	cfg       config.Config
	log       *slog.Logger
	metrics   *metrics.Metrics
	apps      *apps.Static
	registry  *channels.Registry
	presence  presence.Store
	broker    scaling.Broker
	cache     broadcast.Cache
	history   history.Store
	publisher *broadcast.Publisher
	hub       *connection.Hub
	ws        *connection.WebSocket
	handler   http.Handler
	// cluster is nil on a single node.
	cluster *cluster
}

// New builds a node from a validated configuration.
func New(cfg config.Config, log *slog.Logger) (*Server, error) {
	store, err := apps.NewStatic(appsFrom(cfg.Apps))
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, log: log, metrics: metrics.New(), apps: store,
		broker: scaling.Local{}, cache: broadcast.NewMemoryCache(), presence: presence.NewMemory(),
		history: history.NewMemory(),
	}
	if cfg.Redis.Enabled() {
		if err := s.setupRedis(); err != nil {
			return nil, err
		}
	}
	hook := &nodeHook{broker: s.broker, apps: store}
	if s.cluster != nil {
		hook.census = s.cluster.census
	}
	s.registry = channels.NewRegistry(hook)
	s.publisher = broadcast.NewPublisher(broadcast.Options{Registry: s.registry, Broker: s.broker, Cache: s.cache, History: s.history, Logger: s.log, Apps: store})
	hubOptions := connection.Options{
		Apps:        store,
		Registry:    s.registry,
		Presence:    s.presence,
		Publisher:   s.publisher,
		Logger:      s.log,
		Metrics:     s.metrics,
		PongTimeout: cfg.PongTimeout.Duration(),

		OutboxSoftLimit: cfg.Outbox.SoftLimit,
		OutboxHardLimit: cfg.Outbox.HardLimit,
	}
	if s.cluster != nil {
		s.setupStreams(&hubOptions)
	}
	s.hub = connection.NewHub(hubOptions)
	var state httpapi.State = localState{registry: s.registry, hub: s.hub}
	if c := s.cluster; c != nil {
		cs := clusterState{local: localState{registry: s.registry, hub: s.hub}, c: c}
		state = cs
		// No channel can be vacated before the node serves: the hook may
		// learn where to signal it now.
		hook.signals = streams.NewSignals(c.client, cfg.Redis.Prefix, cs.SubscriptionCount, s.log)
	}
	s.metrics.Watch(func() metrics.State {
		total, largest := s.hub.OutboxBytes()
		return metrics.State{Channels: s.registry.Occupied(), OutboxBytes: total, OutboxLargest: largest}
	})
	maxMessage := 0
	for _, a := range appsFrom(cfg.Apps) {
		a.Defaults()
		maxMessage = max(maxMessage, a.MaxMessageSize)
	}
	s.ws = connection.NewWebSocket(s.hub, connection.WebSocketOptions{
		MaxMessageSize:   maxMessage,
		Deflate:          cfg.Compression.Deflate,
		DeflateThreshold: cfg.Compression.Threshold,
	})
	apiOptions := httpapi.Options{
		Apps:           store,
		Publisher:      s.publisher,
		Presence:       s.presence,
		State:          state,
		Logger:         s.log,
		MaxRequestSize: cfg.MaxRequestSize,
		PathPrefix:     cfg.Path,
		Transports:     s.hub,
	}
	if s.cluster != nil {
		apiOptions.Health = s.cluster
	}
	api := httpapi.New(apiOptions)
	r := chi.NewRouter()
	r.Route(cfg.Path+"/", func(r chi.Router) {
		r.Get("/app/{key}", s.ws.ServeHTTP)
		r.Handle(fallbackPath(cfg)+"/app/*", connection.NewHTTPFallback(s.hub, connection.HTTPFallbackOptions{MaxMessageSize: maxMessage}))
		if cfg.MetricsAddr == "" {
			s.mountObservability(r)
		}
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
	// Background services run until the shutdown sequence is over, so that
	// closing connections can still announce member_removed to other nodes.
	servicesCtx, stopServices := context.WithCancel(context.Background())
	defer stopServices()
	if s.cluster != nil {
		if err := s.cluster.membership.Register(ctx); err != nil {
			s.log.Warn("Redis unreachable at start; serving local clients until it is back", "err", err)
		} else {
			// The broker and membership report only changes from here on.
			s.metrics.RedisUp(true)
		}
	}
	g, gctx := errgroup.WithContext(servicesCtx)
	for _, run := range s.services() {
		g.Go(func() error { return ignoreCanceled(run(gctx)) })
	}
	g.Go(func() error {
		if err := httpServer.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		select {
		case <-ctx.Done():
		case <-gctx.Done():
		}
		defer stopServices()
		return s.shutdown(httpServer)
	})
	err := g.Wait()
	if s.cluster != nil {
		_ = s.cluster.client.Close()
	}
	return err
}

// mountObservability serves /metrics and the /dashboard that reads it, on
// the public router or, with metrics_addr, on the private one.
func (s *Server) mountObservability(r interface{ Handle(string, http.Handler) }) {
	r.Handle("/metrics", s.metrics.Handler())
	r.Handle("/dashboard", dashboardHandler(s.cfg.Redis.Enabled()))
}

// services are the node's background loops.
func (s *Server) services() []func(context.Context) error {
	list := []func(context.Context) error{s.hub.Run, s.publisher.Run, s.ws.Run}
	if addr := s.cfg.PprofAddr; addr != "" {
		list = append(list, func(ctx context.Context) error { return s.servePrivate(ctx, "profiler", addr, pprofHandler()) })
	}
	if addr := s.cfg.MetricsAddr; addr != "" {
		mux := http.NewServeMux()
		s.mountObservability(mux)
		list = append(list, func(ctx context.Context) error { return s.servePrivate(ctx, "metrics", addr, mux) })
	}
	if c := s.cluster; c != nil {
		list = append(list, c.census.Run, c.membership.Run, c.ingest.Run, func(ctx context.Context) error {
			return c.control.Run(ctx, s.handleControl)
		})
	}
	return list
}

// shutdown closes every connection with 4200 (clients reconnect, behind a
// load balancer to another node), lets in-flight API requests finish and
// deregisters the node from the cluster.
func (s *Server) shutdown(httpServer *http.Server) error {
	ctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := s.hub.Shutdown(ctx); err != nil {
		s.log.Warn("connections still open at shutdown", "err", err)
	}
	err := httpServer.Shutdown(ctx)
	if c := s.cluster; c != nil {
		if err := c.census.DropNode(ctx, c.node, s.appIDs()); err != nil {
			s.log.Warn("removing this node's counts from Redis", "err", err)
		}
		if err := c.membership.Leave(ctx); err != nil {
			s.log.Warn("deregistering from Redis", "err", err)
		}
	}
	return err
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// nodeHook tells the broker which channels this node needs and, with many
// nodes, the census how many subscribers each has here and the signals
// which stream channels may have lost their audience.
type nodeHook struct {
	broker  scaling.Broker
	apps    apps.Store
	census  *scaling.Census
	signals *streams.Signals
}

func (h *nodeHook) Occupied(app, channel string) { h.broker.Subscribe(app, channel) }

func (h *nodeHook) Vacated(app, channel string) {
	h.broker.Unsubscribe(app, channel)
	if h.signals == nil {
		return
	}
	if a, err := h.apps.ByID(context.Background(), app); err == nil {
		if rule := a.Rule(channel); rule != nil && rule.VacatedGrace > 0 {
			h.signals.Vacated(app, channel, rule.VacatedGrace)
		}
	}
}

func (h *nodeHook) Counted(app, channel string, count int) {
	if h.census != nil {
		h.census.SetCount(app, channel, count)
	}
}
