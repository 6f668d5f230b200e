package streams

import (
	"context"
	"log/slog"
	"time"

	"github.com/redis/go-redis/v9"
)

// signalsMaxLen bounds a signals stream, approximately.
const signalsMaxLen = 100_000

// Signals tells workers about channels: "vacated" when a channel has had no
// subscriber anywhere in the cluster for a grace period, so a worker can
// stop generating for nobody. A page reload inside the grace period sends
// nothing, because the channel is occupied again when the check runs.
type Signals struct {
	client redis.UniversalClient
	prefix string
	// count returns a channel's subscriptions across the cluster.
	count func(ctx context.Context, app, channel string) (int, error)
	log   *slog.Logger
}

// NewSignals returns Signals on client; count reads a channel's
// subscriptions across the cluster.
func NewSignals(client redis.UniversalClient, prefix string, count func(ctx context.Context, app, channel string) (int, error), log *slog.Logger) *Signals {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Signals{client: client, prefix: prefix, count: count, log: log}
}

// Vacated is called when this node's last subscriber of a channel left. It
// never blocks: after grace, if the channel is still empty cluster-wide,
// one node (whichever wins a short lock) appends
// {type: vacated, channel, time} to the app's signals stream.
func (s *Signals) Vacated(app, channel string, grace time.Duration) {
	time.AfterFunc(grace, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.checkVacated(ctx, app, channel, grace); err != nil {
			s.log.Warn("sending the vacated signal", "app", app, "channel", channel, "err", err)
		}
	})
}

func (s *Signals) checkVacated(ctx context.Context, app, channel string, grace time.Duration) error {
	n, err := s.count(ctx, app, channel)
	if err != nil || n > 0 {
		return err
	}
	lock := s.prefix + ":vacated-lock:" + app + ":" + channel
	won, err := s.client.SetNX(ctx, lock, 1, grace).Result()
	if err != nil || !won {
		return err
	}
	return s.client.XAdd(ctx, &redis.XAddArgs{
		Stream: SignalsKey(s.prefix, app),
		MaxLen: signalsMaxLen,
		Approx: true,
		Values: []any{"type", "vacated", "channel", channel, "time", time.Now().UnixMilli()},
	}).Err()
}
