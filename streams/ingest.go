package streams

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/broadcast"
	"github.com/redis/go-redis/v9"
)

var (
	//go:embed lua/checkpoint.lua
	checkpointSource string
	checkpointScript = redis.NewScript(checkpointSource)
)

// IngestOptions configure an Ingest.
type IngestOptions struct {
	Client    redis.UniversalClient
	Prefix    string
	Node      string
	Apps      apps.Store
	Publisher *broadcast.Publisher
	// Lease is how long a reader's claim on a stream lasts without renewal:
	// when a reader dies, another takes over within about this long.
	// Default 5 s.
	Lease    time.Duration
	Logger   *slog.Logger
	Observer Observer
}

// Observer is told about ingest; *metrics.Metrics satisfies it.
type Observer interface {
	IngestPublished(app string)
	IngestMalformed(app string)
}

type nopObserver struct{}

func (nopObserver) IngestPublished(string) {}
func (nopObserver) IngestMalformed(string) {}

// Ingest publishes what producers XADD to the apps' ingest streams. Each
// stream is read by exactly one node at a time, the holder of its lease;
// after each batch the holder moves the stream's checkpoint, and a node
// that takes the lease over resumes from it. Every entry is therefore
// published at least once, in order: a batch in flight when its reader dies
// is published again by the next one, and clients drop the token seqs they
// have seen.
//
// An entry has the fields channel (or channels, a JSON array), event, data
// and, optionally, socket_id (excluded from delivery). Entries that break
// the rules are skipped with a log line and a metric; they never block the
// stream.
type Ingest struct {
	opts IngestOptions
}

// NewIngest returns an Ingest; Run starts it.
func NewIngest(o IngestOptions) *Ingest {
	if o.Lease == 0 {
		o.Lease = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	return &Ingest{opts: o}
}

// Run follows every app's ingest streams until ctx ends.
func (in *Ingest) Run(ctx context.Context) error {
	all, err := in.opts.Apps.All(ctx)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, app := range all {
		for _, key := range append([]string{IngestKey(in.opts.Prefix, app.ID)}, app.IngestStreams...) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				in.follow(ctx, app, key)
			}()
		}
	}
	wg.Wait()
	return ctx.Err()
}

// follow tries to take the stream's lease and, while it holds it, reads.
func (in *Ingest) follow(ctx context.Context, app *apps.App, key string) {
	lease := leaseKey(in.opts.Prefix, key)
	retry := min(in.opts.Lease/5, time.Second)
	for ctx.Err() == nil {
		won, err := in.opts.Client.SetNX(ctx, lease, in.opts.Node, in.opts.Lease).Result()
		if err == nil && won {
			in.opts.Logger.Info("reading ingest stream", "stream", key, "app", app.ID)
			in.read(ctx, app, key)
			in.opts.Logger.Info("stopped reading ingest stream", "stream", key, "app", app.ID)
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(retry):
		}
	}
}

// read publishes the stream's entries from the checkpoint on, for as long
// as the lease holds.
func (in *Ingest) read(ctx context.Context, app *apps.App, key string) {
	c := in.opts.Client
	keys := []string{leaseKey(in.opts.Prefix, key), checkpointKey(in.opts.Prefix, key)}
	last, err := c.Get(ctx, keys[1]).Result()
	if errors.Is(err, redis.Nil) {
		last = "0-0"
	} else if err != nil {
		return
	}
	block := min(in.opts.Lease/3, time.Second)
	for ctx.Err() == nil {
		res, err := c.XRead(ctx, &redis.XReadArgs{Streams: []string{key, last}, Count: 256, Block: block}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			if ctx.Err() == nil {
				in.opts.Logger.Warn("reading ingest stream", "stream", key, "err", err)
				time.Sleep(block)
			}
			if !in.holds(ctx, keys, "") {
				return
			}
			continue
		}
		var entries []redis.XMessage
		if len(res) > 0 {
			entries = res[0].Messages
		}
		// The lease is checked (and extended) before publishing, so a node
		// that lost it while blocked does not publish beside its successor.
		if !in.holds(ctx, keys, "") {
			return
		}
		for _, e := range entries {
			in.publish(ctx, app, key, e)
			last = e.ID
		}
		if len(entries) > 0 && !in.holds(ctx, keys, last) {
			return
		}
	}
}

// holds extends the lease and, when checkpoint is set, moves the checkpoint
// there, reporting whether this node still holds the lease.
func (in *Ingest) holds(ctx context.Context, keys []string, checkpoint string) bool {
	n, err := checkpointScript.Run(ctx, in.opts.Client, keys, in.opts.Node, checkpoint, in.opts.Lease.Milliseconds()).Int()
	return err == nil && n == 1
}

// publish validates one entry and publishes it as the HTTP API would.
func (in *Ingest) publish(ctx context.Context, app *apps.App, key string, e redis.XMessage) {
	t, err := triggerFrom(e)
	if err == nil {
		if invalid := t.Validate(app, app.MaxChannelsPerEvent); invalid != nil {
			err = invalid
		}
	}
	if err != nil {
		in.opts.Observer.IngestMalformed(app.ID)
		in.opts.Logger.Warn("skipping malformed ingest entry", "stream", key, "id", e.ID, "err", err)
		return
	}
	in.opts.Publisher.Trigger(ctx, app, t)
	in.opts.Observer.IngestPublished(app.ID)
}

// triggerFrom reads an entry's fields. The trigger is stamped with the
// entry's own time (its id), so ingest latency includes the stream.
func triggerFrom(e redis.XMessage) (broadcast.Trigger, error) {
	str := func(name string) string { s, _ := e.Values[name].(string); return s }
	t := broadcast.Trigger{Name: str("event"), Data: str("data"), Except: str("socket_id")}
	if ch := str("channel"); ch != "" {
		t.Channels = []string{ch}
	}
	if chs := str("channels"); chs != "" {
		var list []string
		if err := json.Unmarshal([]byte(chs), &list); err != nil {
			return t, errors.New("channels must be a JSON array of channel names")
		}
		t.Channels = append(t.Channels, list...)
	}
	if ms, _, ok := strings.Cut(e.ID, "-"); ok {
		if v, err := strconv.ParseInt(ms, 10, 64); err == nil {
			t.Ingested = v * int64(time.Millisecond)
		}
	}
	return t, nil
}
