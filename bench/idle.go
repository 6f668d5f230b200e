package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// IdleOptions configure an idle-connections run: Conns connections, each
// subscribed to one of Channels channels, then held quiet for Settle.
type IdleOptions struct {
	Target   Target
	Conns    int
	Channels int
	// PID, when set, is the server process whose memory is read from /proc
	// before and after (the server must run on this machine).
	PID int
	// Settle is how long the connections stay idle before memory is read.
	Settle time.Duration
	// Dialers is the number of concurrent connection attempts. Default 200.
	Dialers  int
	Progress io.Writer
}

// IdleResult is what an idle run measured.
type IdleResult struct {
	Mode           string  `json:"mode"`
	Conns          int     `json:"conns"`
	Channels       int     `json:"channels"`
	ConnectSeconds float64 `json:"connect_s"`
	ConnsPerSec    float64 `json:"conns_per_s"`
	// Server memory, when PID was given.
	RSSBeforeBytes  int64   `json:"rss_before_bytes,omitempty"`
	RSSAfterBytes   int64   `json:"rss_after_bytes,omitempty"`
	RSSPerConnBytes float64 `json:"rss_per_conn_bytes,omitempty"`
	Tool            ToolCPU `json:"tool_cpu"`
}

// Idle runs an idle-connections benchmark.
func Idle(ctx context.Context, o IdleOptions) (*IdleResult, error) {
	if err := o.Target.Validate(); err != nil {
		return nil, err
	}
	if o.Conns < 1 {
		return nil, fmt.Errorf("bench: conns must be positive")
	}
	o.Channels = max(o.Channels, 1)
	if o.Dialers == 0 {
		o.Dialers = 200
	}
	r := &IdleResult{Mode: "idle", Conns: o.Conns, Channels: o.Channels}
	if o.PID != 0 {
		before, err := rssBytes(o.PID)
		if err != nil {
			return nil, err
		}
		r.RSSBeforeBytes = before
	}
	f := &fleet{target: o.Target}
	ph := &phase{}
	start := time.Now()
	p := startProgress(o.Progress, "idle", func() string {
		n := ph.connected.Load()
		return fmt.Sprintf("connected %d/%d (%.0f/s), subscribed %d", n, o.Conns, float64(n)/time.Since(start).Seconds(), f.subscribed.Load())
	})
	defer f.close()
	meter := startCPUMeter()
	took, err := f.connect(ctx, o.Conns, func(i int) int { return i % o.Channels }, channelName("bench-idle-"), o.Dialers, ph)
	r.Tool = meter.stop()
	p.finish()
	if err != nil {
		return nil, err
	}
	r.ConnectSeconds = round3(took.Seconds())
	r.ConnsPerSec = round3(float64(o.Conns) / took.Seconds())
	if o.PID != 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(o.Settle):
		}
		after, err := rssBytes(o.PID)
		if err != nil {
			return nil, err
		}
		r.RSSAfterBytes = after
		r.RSSPerConnBytes = round3(float64(after-r.RSSBeforeBytes) / float64(o.Conns))
	}
	return r, nil
}

// Summary is the human report.
func (r *IdleResult) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "idle: %d connections on %d channel(s)\n", r.Conns, r.Channels)
	fmt.Fprintf(&b, "  connected and subscribed in %.2fs: %.0f connections/s\n", r.ConnectSeconds, r.ConnsPerSec)
	if r.RSSAfterBytes != 0 {
		fmt.Fprintf(&b, "  server RSS  %.1f MiB before, %.1f MiB after: %.0f bytes per connection\n",
			float64(r.RSSBeforeBytes)/(1<<20), float64(r.RSSAfterBytes)/(1<<20), r.RSSPerConnBytes)
	}
	b.WriteString(r.Tool.line())
	return b.String()
}
