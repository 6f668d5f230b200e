package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quaver-dev/quaver/protocol"
)

// sources are the event sources the latency histogram tells apart, each
// labelled by its String.
var sources = [...]protocol.Source{protocol.SourceServer, protocol.SourceAPI, protocol.SourceStream, protocol.SourceClientEvent}

// Delivery holds one app's per-message collectors with their labels
// resolved, so that what runs per frame written (or message received) is
// an observation, not a lookup.
// A nil *Delivery records nothing.
type Delivery struct {
	in          prometheus.Counter
	out         prometheus.Counter
	latency     [len(sources)]prometheus.Observer
	ttftIngest  prometheus.Observer
	ttftRequest prometheus.Observer
	gap         prometheus.Observer
	coalesced   prometheus.Counter
}

type deliveryCollectors struct {
	latency *prometheus.HistogramVec
	ttft    *prometheus.HistogramVec
	gap     *prometheus.HistogramVec
}

// Latency buckets, from a fraction of a millisecond (one node, no
// backlog) to seconds (a stalled client).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Time to first token includes the model's own thinking time.
var ttftBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

func newDeliveryCollectors(f factory) deliveryCollectors {
	return deliveryCollectors{
		latency: f.histogramVec("quaver_delivery_latency_seconds",
			"From an event entering the server (HTTP API request, Redis Stream entry time, client event) to its write to each client's socket.",
			latencyBuckets, "app", "source"),
		ttft: f.histogramVec("quaver_time_to_first_token_seconds",
			"From a token stream's start to its first token written to a socket on this node: from its first token's ingest (from=\"ingest\"), and from the producer's requested_at (from=\"request\").",
			ttftBuckets, "app", "from"),
		gap: f.histogramVec("quaver_token_gap_seconds",
			"Between two tokens of one stream as written to one client's socket.",
			latencyBuckets, "app"),
	}
}

// Delivery returns app's delivery collectors.
func (m *Metrics) Delivery(app string) *Delivery {
	if m == nil {
		return nil
	}
	c := &m.delivery
	if d, ok := m.deliveries.Load(app); ok {
		return d.(*Delivery)
	}
	d := &Delivery{
		in:          m.messagesIn.WithLabelValues(app),
		out:         m.messagesOut.WithLabelValues(app),
		ttftIngest:  c.ttft.WithLabelValues(app, "ingest"),
		ttftRequest: c.ttft.WithLabelValues(app, "request"),
		gap:         c.gap.WithLabelValues(app),
		coalesced:   m.tokensCoalesced.WithLabelValues(app),
	}
	for _, s := range sources {
		d.latency[s] = c.latency.WithLabelValues(app, s.String())
	}
	got, _ := m.deliveries.LoadOrStore(app, d)
	return got.(*Delivery)
}

// MessageIn counts a message received from a client.
func (d *Delivery) MessageIn() {
	if d != nil {
		d.in.Inc()
	}
}

// Written counts frames written to a client.
func (d *Delivery) Written(n int) {
	if d != nil {
		d.out.Add(float64(n))
	}
}

// TokenCoalesced counts a token event merged into a slow client's queued
// token event of the same stream.
func (d *Delivery) TokenCoalesced() {
	if d != nil {
		d.coalesced.Inc()
	}
}

// Latency records an event's delivery latency by its source.
func (d *Delivery) Latency(source protocol.Source, latency time.Duration) {
	if d != nil && int(source) < len(d.latency) {
		d.latency[source].Observe(latency.Seconds())
	}
}

// FirstToken records time to first token, from the stream's first ingest
// and, when the producer gave it, from the user's request.
func (d *Delivery) FirstToken(fromIngest time.Duration, fromRequest time.Duration, requested bool) {
	if d == nil {
		return
	}
	d.ttftIngest.Observe(fromIngest.Seconds())
	if requested {
		d.ttftRequest.Observe(fromRequest.Seconds())
	}
}

// TokenGap records the time between two tokens of one stream written to
// one client.
func (d *Delivery) TokenGap(gap time.Duration) {
	if d != nil {
		d.gap.Observe(gap.Seconds())
	}
}
