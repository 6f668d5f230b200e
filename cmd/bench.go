package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/quaver-dev/quaver/bench"
	"github.com/quaver-dev/quaver/config"
	"github.com/spf13/cobra"
)

// benchFlags are the target flags every bench command shares.
type benchFlags struct {
	url, nodes, profile   string
	appID, key, secret    string
	allowRemote, jsonLine bool
}

func (f *benchFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.url, "url", "http://127.0.0.1:8080", "base URL of the server under test")
	fs.StringVar(&f.nodes, "nodes", "", "several nodes' base URLs, comma-separated: subscribers are spread over them, events go through the first")
	fs.StringVar(&f.appID, "app-id", config.DevAppID, "app id")
	fs.StringVar(&f.key, "app-key", config.DevAppKey, "app key")
	fs.StringVar(&f.secret, "app-secret", config.DevAppSecret, "app secret (signs the HTTP API calls)")
	fs.BoolVar(&f.allowRemote, "allow-remote", false, "allow a target that is not on this machine")
	fs.BoolVar(&f.jsonLine, "json", false, "also print the result as one JSON line")
	fs.StringVar(&f.profile, "cpuprofile", "", "write the load tool's own CPU profile to this file")
}

// profiled runs fn under the CPU profiler when --cpuprofile is given.
func (f *benchFlags) profiled(fn func() error) error {
	if f.profile == "" {
		return fn()
	}
	out, err := os.Create(f.profile)
	if err != nil {
		return err
	}
	defer out.Close()
	if err := pprof.StartCPUProfile(out); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	return fn()
}

func (f *benchFlags) target() bench.Target {
	nodes := []string{strings.TrimSuffix(f.url, "/")}
	if f.nodes != "" {
		nodes = nil
		for _, n := range strings.Split(f.nodes, ",") {
			if n = strings.TrimSpace(n); n != "" {
				nodes = append(nodes, strings.TrimSuffix(n, "/"))
			}
		}
	}
	return bench.Target{Nodes: nodes, AppID: f.appID, Key: f.key, Secret: f.secret, AllowRemote: f.allowRemote}
}

// summarizer is any bench result.
type summarizer interface{ Summary() string }

// report prints the human summary and, with --json, one JSON line.
func (f *benchFlags) report(cmd *cobra.Command, r summarizer) error {
	fmt.Fprint(cmd.OutOrStdout(), r.Summary())
	if f.jsonLine {
		line, err := json.Marshal(r)
		if err != nil {
			return err
		}
		fmt.Fprintln(cmd.OutOrStdout(), string(line))
	}
	return nil
}

func interruptible(cmd *cobra.Command) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(cmd.Context(), os.Interrupt)
}

// benchCommand builds one bench mode with the shared flags: run gets the
// target they name and where to show progress, and its result is printed
// (and, with --json, as one JSON line).
func benchCommand[R summarizer](use, short string, run func(ctx context.Context, t bench.Target, progress io.Writer) (R, error)) *cobra.Command {
	var f benchFlags
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := interruptible(cmd)
			defer stop()
			return f.profiled(func() error {
				r, err := run(ctx, f.target(), cmd.ErrOrStderr())
				if err != nil {
					return err
				}
				return f.report(cmd, r)
			})
		},
	}
	f.register(cmd)
	return cmd
}

func newBenchCommand() *cobra.Command {
	parent := &cobra.Command{
		Use:   "bench",
		Short: "Load-test a Pusher-protocol server (Quaver or any other) on this machine",
		Long: `Load-test a Pusher-protocol server with real WebSocket connections and signed
HTTP API calls. Pin the server and the tool to different cores for honest
figures, e.g. taskset -c 0 quaver start & taskset -c 1 quaver bench fanout.`,
	}
	parent.AddCommand(newBenchIdle(), newBenchFanout(), newBenchStreams())
	return parent
}

func newBenchIdle() *cobra.Command {
	var o bench.IdleOptions
	cmd := benchCommand("idle", "Open many subscribed connections: connections per second and server memory per connection",
		func(ctx context.Context, t bench.Target, progress io.Writer) (*bench.IdleResult, error) {
			o.Target, o.Progress = t, progress
			return bench.Idle(ctx, o)
		})
	cmd.Flags().IntVar(&o.Conns, "conns", 1000, "connections to open")
	cmd.Flags().IntVar(&o.Channels, "channels", 100, "channels the connections subscribe to, round-robin")
	cmd.Flags().IntVar(&o.PID, "pid", 0, "server process id: report its RSS per connection (from /proc)")
	cmd.Flags().DurationVar(&o.Settle, "settle", 5*time.Second, "idle time before memory is read")
	cmd.Flags().IntVar(&o.Dialers, "dialers", 200, "concurrent connection attempts")
	return cmd
}

func newBenchFanout() *cobra.Command {
	var o bench.FanoutOptions
	cmd := benchCommand("fanout", "Publish through the HTTP API to many subscribers: deliveries/s, latency, loss",
		func(ctx context.Context, t bench.Target, progress io.Writer) (*bench.FanoutResult, error) {
			o.Target, o.Progress = t, progress
			return bench.Fanout(ctx, o)
		})
	cmd.Flags().IntVar(&o.Subscribers, "subs", 1000, "subscribers")
	cmd.Flags().IntVar(&o.Channels, "channels", 1, "channels the subscribers are spread over")
	cmd.Flags().Float64Var(&o.Rate, "rate", 100, "events per second, in total")
	cmd.Flags().DurationVar(&o.Duration, "duration", 10*time.Second, "how long to publish")
	cmd.Flags().IntVar(&o.Payload, "payload", 100, "bytes of event data")
	cmd.Flags().IntVar(&o.Publishers, "publishers", 32, "concurrent HTTP requests")
	cmd.Flags().IntVar(&o.PID, "pid", 0, "server process id: report its CPU and memory use (from /proc)")
	return cmd
}

func newBenchStreams() *cobra.Command {
	var o bench.StreamsOptions
	cmd := benchCommand("streams", "AI-token shape: many channels, one subscriber each, one publisher per stream",
		func(ctx context.Context, t bench.Target, progress io.Writer) (*bench.StreamsResult, error) {
			o.Target, o.Progress = t, progress
			return bench.Streams(ctx, o)
		})
	cmd.Flags().IntVar(&o.Streams, "streams", 100, "concurrent streams (channels, each with one subscriber and one publisher)")
	cmd.Flags().Float64Var(&o.TokensPerSec, "tps", 20, "tokens per second per stream")
	cmd.Flags().DurationVar(&o.Duration, "duration", 10*time.Second, "how long to stream")
	cmd.Flags().IntVar(&o.Batch, "batch", 1, "tokens per HTTP request (batch_events when above 1)")
	cmd.Flags().IntVar(&o.Payload, "payload", 60, "bytes of token data")
	cmd.Flags().StringVar(&o.Ingest, "ingest", "", "publish by XADD to the app's ingest stream in this Redis (redis://host:port) instead of the HTTP API")
	cmd.Flags().StringVar(&o.IngestKey, "ingest-key", "", "the ingest stream (default quaver:ingest:{app id})")
	cmd.Flags().IntVar(&o.Slow, "slow", 0, "subscribers (of the --streams, spread over them) that read at most --slow-rate bytes a second; reported apart")
	cmd.Flags().Float64Var(&o.SlowRate, "slow-rate", 2000, "bytes a second each --slow subscriber reads")
	cmd.Flags().IntVar(&o.PID, "pid", 0, "server process id: report its CPU and memory use (from /proc)")
	return cmd
}
