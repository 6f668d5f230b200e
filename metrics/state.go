package metrics

import "github.com/prometheus/client_golang/prometheus"

// State is what a node holds at the moment of a scrape.
type State struct {
	// Channels counts the channels with a local subscriber, per app.
	Channels map[string]int
	// OutboxBytes is what all connections have queued; OutboxLargest is
	// the most one connection has.
	OutboxBytes, OutboxLargest int
}

// Watch reports state() at every scrape. Computing the figures then
// rather than tracking them on every send keeps them off the hot path.
func (m *Metrics) Watch(state func() State) {
	if m != nil {
		m.registry.MustRegister(stateCollector(state))
	}
}

var (
	channelsDesc      = prometheus.NewDesc("quaver_channels", "Channels with a subscriber on this node.", []string{"app"}, nil)
	outboxBytesDesc   = prometheus.NewDesc("quaver_outbox_bytes", "Bytes queued for clients that have not yet been written to their sockets.", nil, nil)
	outboxLargestDesc = prometheus.NewDesc("quaver_outbox_largest_bytes", "Bytes queued for the connection furthest behind.", nil, nil)
)

type stateCollector func() State

func (c stateCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- channelsDesc
	ch <- outboxBytesDesc
	ch <- outboxLargestDesc
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c()
	for app, n := range s.Channels {
		ch <- prometheus.MustNewConstMetric(channelsDesc, prometheus.GaugeValue, float64(n), app)
	}
	ch <- prometheus.MustNewConstMetric(outboxBytesDesc, prometheus.GaugeValue, float64(s.OutboxBytes))
	ch <- prometheus.MustNewConstMetric(outboxLargestDesc, prometheus.GaugeValue, float64(s.OutboxLargest))
}
