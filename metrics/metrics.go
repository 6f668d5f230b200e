package metrics

import (
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the collectors of one node.
type Metrics struct {
	registry *prometheus.Registry

	connections        *prometheus.GaugeVec
	connectionsTotal   *prometheus.CounterVec
	messagesIn         *prometheus.CounterVec
	messagesOut        *prometheus.CounterVec
	slowConsumerCloses *prometheus.CounterVec
	tokensCoalesced    *prometheus.CounterVec
	ingestPublished    *prometheus.CounterVec
	ingestMalformed    *prometheus.CounterVec

	redisUp              prometheus.Gauge
	redisPublishErrors   prometheus.Counter
	redisReconnects      prometheus.Counter
	redisOutageSeconds   prometheus.Counter
	redisDroppedPresence prometheus.Counter

	delivery   deliveryCollectors
	deliveries sync.Map // app id → *Delivery
}

// New registers the collectors on a fresh registry (plus the Go and
// process collectors).
func New() *Metrics {
	m := &Metrics{registry: prometheus.NewRegistry()}
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	f := factory{m.registry}
	m.connections = f.gaugeVec("quaver_connections", "Open client connections.", "app", "transport")
	m.connectionsTotal = f.counterVec("quaver_connections_total", "Client connections accepted.", "app", "transport")
	m.messagesIn = f.counterVec("quaver_messages_in_total", "Messages received from clients.", "app")
	m.messagesOut = f.counterVec("quaver_messages_out_total", "Frames written to clients.", "app")
	m.slowConsumerCloses = f.counterVec("quaver_slow_consumer_closes_total", "Connections closed with 4100 because their outbox passed the hard limit.", "app")
	m.tokensCoalesced = f.counterVec("quaver_tokens_coalesced_total", "Token events merged into a queued token event of their stream for a client past the outbox soft limit.", "app")
	m.ingestPublished = f.counterVec("quaver_ingest_entries_total", "Redis Stream ingest entries published to channels.", "app")
	m.ingestMalformed = f.counterVec("quaver_ingest_malformed_total", "Redis Stream ingest entries skipped because they break the rules.", "app")
	m.delivery = newDeliveryCollectors(f)
	m.redisUp = f.gauge("quaver_redis_up", "1 while this node reaches Redis, 0 while it does not.")
	m.redisPublishErrors = f.counter("quaver_redis_publish_errors_total", "Events delivered locally but not sent to other nodes because Redis failed.")
	m.redisReconnects = f.counter("quaver_redis_reconnects_total", "Times this node re-established its Redis subscriptions.")
	m.redisOutageSeconds = f.counter("quaver_redis_outage_seconds_total", "Seconds during which this node could not reach Redis (events from other nodes were missed).")
	m.redisDroppedPresence = f.counter("quaver_redis_presence_errors_total", "Presence or count updates that failed because Redis failed; repaired on reconnect.")
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Registry exposes the registry, for collectors other packages add.
func (m *Metrics) Registry() *prometheus.Registry { return m.registry }

type factory struct{ r *prometheus.Registry }

func (f factory) gauge(name, help string) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
	f.r.MustRegister(g)
	return g
}

func (f factory) counter(name, help string) prometheus.Counter {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	f.r.MustRegister(c)
	return c
}

func (f factory) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	f.r.MustRegister(g)
	return g
}

func (f factory) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	f.r.MustRegister(c)
	return c
}

func (f factory) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	f.r.MustRegister(h)
	return h
}
