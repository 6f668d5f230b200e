package cmd

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"

	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/server"
	"github.com/spf13/cobra"
)

func newStartCommand() *cobra.Command {
	var flags configFlags
	cmd := &cobra.Command{
		Use:   "start",
		Short: "Serve the WebSocket endpoint and the Pusher HTTP API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := flags.load()
			if err != nil {
				return err
			}
			setGCPercent(os.LookupEnv)
			level := slog.LevelInfo
			if cfg.Debug {
				level = slog.LevelDebug
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
			srv, err := server.New(cfg, log)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// Listen before saying so: a busy port fails without a banner,
			// and --port 0 prints the port chosen.
			ln, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
			if err != nil {
				return err
			}
			cfg.Port = ln.Addr().(*net.TCPAddr).Port
			printBanner(cmd.OutOrStdout(), cfg)
			return srv.Serve(ctx, ln)
		},
	}
	flags.register(cmd.Flags())
	return cmd
}

// gcPercent is the garbage collector's target when GOGC is not set. Every
// trigger or token leaves a few kilobytes of garbage; at 10,000 a second
// Go's default of 100 collects four times a second, and each mark phase on
// a busy core holds up the requests queued behind it: one-token triggers
// for 500 streams had a p99 of 6.7–14 ms at 100 and 4.4–7.9 ms at 200. The
// price is memory: an idle connection costs 3.2 KB of RSS instead of
// 2.3 KB. GOGC and GOMEMLIMIT, when set, decide instead.
const gcPercent = 200

// setGCPercent applies gcPercent unless the environment sets GOGC.
func setGCPercent(lookupEnv func(string) (string, bool)) {
	if _, set := lookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}

// printBanner says where the server listens and, for the development app,
// everything needed to connect to it.
func printBanner(out io.Writer, cfg config.Config) {
	scheme, wsScheme := "http", "ws"
	if cfg.TLS.Cert != "" {
		scheme, wsScheme = "https", "wss"
	}
	fmt.Fprintf(out, "Quaver %s listening on %s://%s:%d%s (WebSocket %s://%s:%d%s/app/{key})\n",
		Version, scheme, cfg.Host, cfg.Port, cfg.Path, wsScheme, cfg.Host, cfg.Port, cfg.Path)
	for _, a := range cfg.Apps {
		fmt.Fprintf(out, "  app %s (key %s)\n", a.ID, a.Key)
	}
	if cfg.MetricsAddr != "" {
		fmt.Fprintf(out, "  dashboard http://%[1]s/dashboard, metrics http://%[1]s/metrics\n", cfg.MetricsAddr)
	} else {
		fmt.Fprintf(out, "  dashboard %[1]s://%[2]s:%[3]d%[4]s/dashboard, metrics %[1]s://%[2]s:%[3]d%[4]s/metrics\n", scheme, cfg.Host, cfg.Port, cfg.Path)
	}
	if !cfg.DevApp {
		return
	}
	host, port := cfg.Host, cfg.Port
	if cfg.Public.Host != "" {
		host = cfg.Public.Host
	}
	if cfg.Public.Port != 0 {
		port = cfg.Public.Port
	}
	fmt.Fprintf(out, `
No app configured: serving the development app.
  app id:     %[1]s
  app key:    %[2]s
  app secret: %[3]s

Laravel .env:
  BROADCAST_CONNECTION=reverb
  REVERB_APP_ID=%[1]s
  REVERB_APP_KEY=%[2]s
  REVERB_APP_SECRET=%[3]s
  REVERB_HOST=%[4]s
  REVERB_PORT=%[5]d
  REVERB_SCHEME=%[6]s

Laravel Echo:
  import Echo from 'laravel-echo';
  import Pusher from 'pusher-js';
  window.Pusher = Pusher;
  window.Echo = new Echo({
      broadcaster: 'reverb',
      key: '%[2]s',
      wsHost: '%[4]s',
      wsPort: %[5]d,
      wssPort: %[5]d,
      forceTLS: %[7]t,
      enabledTransports: ['ws', 'wss'],
  });

`, config.DevAppID, config.DevAppKey, config.DevAppSecret, host, port, scheme, scheme == "https")
}
