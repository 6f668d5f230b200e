package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/quaver-dev/quaver/client"
)

// FanoutOptions configure a fan-out run: Subscribers connections spread
// over Channels channels, events published through the HTTP API at Rate per
// second for Duration, each to one channel in turn.
type FanoutOptions struct {
	Target      Target
	Subscribers int
	Channels    int
	Rate        float64
	Duration    time.Duration
	Payload     int
	// PID, when set, is the server process whose CPU and memory use are
	// reported (it must run on this machine).
	PID int
	// Publishers is the number of concurrent HTTP requests. Default 32.
	Publishers int
	Progress   io.Writer
}

// FanoutResult is what a fan-out run measured.
type FanoutResult struct {
	Mode             string       `json:"mode"`
	Nodes            int          `json:"nodes"`
	Subscribers      int          `json:"subscribers"`
	Channels         int          `json:"channels"`
	TargetRate       float64      `json:"target_rate"`
	DurationSeconds  float64      `json:"duration_s"`
	PayloadBytes     int          `json:"payload_bytes"`
	ConnectSeconds   float64      `json:"connect_s"`
	Published        int64        `json:"published"`
	PublishErrors    int64        `json:"publish_errors"`
	AchievedRate     float64      `json:"achieved_rate"`
	RateAchieved     bool         `json:"rate_achieved"`
	Expected         int64        `json:"expected_deliveries"`
	Deliveries       int64        `json:"deliveries"`
	DeliveriesPerSec float64      `json:"deliveries_per_s"`
	Lost             int64        `json:"lost"`
	Duplicated       int64        `json:"duplicated"`
	Latency          Latency      `json:"latency"`
	Tool             ToolCPU      `json:"tool_cpu"`
	Server           *ServerUsage `json:"server,omitempty"`
}

func channelName(prefix string) func(int) string {
	return func(i int) string { return prefix + strconv.Itoa(i) }
}

// Fanout runs a fan-out benchmark.
func Fanout(ctx context.Context, o FanoutOptions) (*FanoutResult, error) {
	if err := o.Target.Validate(); err != nil {
		return nil, err
	}
	if o.Subscribers < 1 || o.Channels < 1 || o.Rate <= 0 || o.Duration <= 0 {
		return nil, fmt.Errorf("bench: subscribers, channels, rate and duration must be positive")
	}
	if o.Publishers == 0 {
		o.Publishers = 32
	}
	f := &fleet{target: o.Target}
	ph := &phase{}
	names := channelName("bench-fanout-")
	events := int64(math.Ceil(o.Rate*o.Duration.Seconds())) + 1
	set := newPublishedSet(events)
	var publishStart time.Time
	p := startProgress(o.Progress, "fanout", func() string {
		if publishStart.IsZero() {
			return fmt.Sprintf("connected %d/%d", ph.connected.Load(), o.Subscribers)
		}
		el := time.Since(publishStart).Seconds()
		return fmt.Sprintf("published %d (%.0f/s)  delivered %d (%.0f/s)  p99 %.1f ms  errors %d",
			ph.published.Load(), float64(ph.published.Load())/el, f.delivered.Load(), float64(f.delivered.Load())/el,
			f.latency.latency().P99, ph.errors.Load())
	})
	defer f.close()
	connectTime, err := f.connect(ctx, o.Subscribers, func(i int) int { return i % o.Channels }, names, 200, ph)
	if err != nil {
		p.finish()
		return nil, err
	}

	meter, server := startCPUMeter(), startServerMeter(o.PID)
	publishStart = time.Now()
	issued, err := paced(ctx, o.Target.api(0), o.Rate, o.Duration, o.Publishers, func(conn *client.APIConn, seq int64) error {
		return trigger(conn, names(int(seq%int64(o.Channels))), "bench", seq, o.Payload, set)
	}, ph)
	if err != nil {
		p.finish()
		return nil, err
	}
	publishTime := time.Since(publishStart)
	expected := expectedDeliveries(f, set, issued, o.Channels)
	f.drain(expected, 2*time.Second, 30*time.Second)
	tool, usage := meter.stop(), server.stop()
	p.finish()
	window := time.Duration(f.lastDelivery.Load() - publishStart.UnixNano())
	f.close()

	r := &FanoutResult{
		Mode: "fanout", Nodes: len(o.Target.Nodes), Subscribers: o.Subscribers, Channels: o.Channels,
		TargetRate: o.Rate, DurationSeconds: o.Duration.Seconds(), PayloadBytes: o.Payload,
		ConnectSeconds: round3(connectTime.Seconds()),
		Published:      ph.published.Load(), PublishErrors: ph.errors.Load(),
		AchievedRate: round3(float64(ph.published.Load()) / publishTime.Seconds()),
		Expected:     expected, Deliveries: f.delivered.Load(),
		Latency: f.latency.latency(), Tool: tool, Server: usage,
	}
	r.RateAchieved = r.AchievedRate >= 0.98*o.Rate && r.PublishErrors == 0
	if window > 0 {
		r.DeliveriesPerSec = round3(float64(r.Deliveries) / window.Seconds())
	}
	r.Lost, r.Duplicated = tally(f, set, issued, o.Channels)
	return r, nil
}

// expectedDeliveries is how many deliveries the accepted events owe.
func expectedDeliveries(f *fleet, set *publishedSet, issued int64, channels int) int64 {
	perChannel := make([]int64, channels)
	for seq := range issued {
		if set.has(seq) {
			perChannel[seq%int64(channels)]++
		}
	}
	var total int64
	for _, s := range f.subs {
		total += perChannel[s.channel]
	}
	return total
}

// tally counts, over all subscribers, accepted events never received and
// events received twice. (Order is not counted: concurrent publishers give
// no order to keep; the streams run, with one publisher per channel, does.)
func tally(f *fleet, set *publishedSet, issued int64, channels int) (lost, dup int64) {
	for _, s := range f.subs {
		for seq := int64(s.channel); seq < issued; seq += int64(channels) {
			if set.has(seq) && !s.saw(seq) {
				lost++
			}
		}
		dup += s.duplicated
	}
	return lost, dup
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// Summary is the human report.
func (r *FanoutResult) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fanout: %d subscribers on %d channel(s) over %d node(s), %.0f events/s for %.0fs, %d-byte payload\n",
		r.Subscribers, r.Channels, r.Nodes, r.TargetRate, r.DurationSeconds, r.PayloadBytes)
	fmt.Fprintf(&b, "  connected and subscribed in %.2fs\n", r.ConnectSeconds)
	fmt.Fprintf(&b, "  published   %d events, %.1f/s (%s), %d errors\n", r.Published, r.AchievedRate, achieved(r.RateAchieved), r.PublishErrors)
	fmt.Fprintf(&b, "  delivered   %d of %d, %.0f deliveries/s\n", r.Deliveries, r.Expected, r.DeliveriesPerSec)
	fmt.Fprintf(&b, "  lost %d, duplicated %d\n", r.Lost, r.Duplicated)
	fmt.Fprintf(&b, "  latency     p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms\n", r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max)
	b.WriteString(r.Server.line())
	b.WriteString(r.Tool.line())
	return b.String()
}

func achieved(ok bool) string {
	if ok {
		return "target rate achieved"
	}
	return "TARGET RATE NOT ACHIEVED: the server or the tool saturated"
}

func (t ToolCPU) line() string {
	s := fmt.Sprintf("  load tool   %.0f%% of %d CPU(s)\n", t.Percent, t.CPUs)
	if t.Saturated {
		s += "  WARNING: the load tool saturated its CPU; these figures may be the tool's limit, not the server's\n"
	}
	return s
}
