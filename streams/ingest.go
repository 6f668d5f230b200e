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
	"github.com/quaver-dev/quaver/protocol"
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
	IngestPublished(app string, n int)
	IngestMalformed(app string)
}

type nopObserver struct{}

func (nopObserver) IngestPublished(string, int) {}
func (nopObserver) IngestMalformed(string)      {}

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
	// The block stays well under the Redis client's read timeout (2 s),
	// which bounds a pipelined read.
	block := min(in.opts.Lease/3, time.Second)
	published := "" // the last entry published, for the checkpoint
	defer func() {
		// Leaving with a batch published but not checkpointed (shutdown):
		// checkpoint it, so the next reader does not publish it again.
		if published != "" {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
			defer cancel()
			in.holds(ctx, keys, published)
		}
	}()
	for ctx.Err() == nil {
		sent := time.Now()
		held, entries, err := in.round(ctx, keys, key, published, last, block)
		if !held {
			return
		}
		published = ""
		if err != nil {
			if ctx.Err() == nil {
				in.opts.Logger.Warn("reading ingest stream", "stream", key, "err", err)
				time.Sleep(block)
			}
			continue
		}
		if len(entries) == 0 {
			continue
		}
		// The lease was renewed just before the read. Should the read have
		// taken so long that the lease may since have run out (Redis
		// stalled), check again, so this node does not publish beside a
		// successor.
		if time.Since(sent) > in.opts.Lease/2 && !in.holds(ctx, keys, "") {
			return
		}
		in.publish(ctx, app, key, entries)
		last = entries[len(entries)-1].ID
		published = last
	}
}

// round renews the lease, moving the checkpoint to checkpoint when set,
// and reads the entries after last, in one round trip: a busy stream costs
// one round trip per batch. held reports whether this node still holds the
// lease (false too when Redis cannot say); only then do entries count.
func (in *Ingest) round(ctx context.Context, keys []string, key, checkpoint, last string, block time.Duration) (held bool, entries []redis.XMessage, err error) {
	pipe := in.opts.Client.Pipeline()
	hold := checkpointScript.EvalSha(ctx, pipe, keys, in.opts.Node, checkpoint, in.opts.Lease.Milliseconds())
	read := pipe.XRead(ctx, &redis.XReadArgs{Streams: []string{key, last}, Count: 256, Block: block})
	_, _ = pipe.Exec(ctx)
	if redis.HasErrorPrefix(hold.Err(), "NOSCRIPT") {
		// Redis restarted or flushed its scripts: renew the plain way
		// (which loads the script) and read again next round.
		return in.holds(ctx, keys, checkpoint), nil, nil
	}
	if n, err := hold.Int(); err != nil || n != 1 {
		return false, nil, nil
	}
	res, err := read.Result()
	if errors.Is(err, redis.Nil) {
		return true, nil, nil
	}
	if err != nil {
		return true, nil, err
	}
	if len(res) > 0 {
		entries = res[0].Messages
	}
	return true, entries, nil
}

// holds extends the lease and, when checkpoint is set, moves the checkpoint
// there, reporting whether this node still holds the lease.
func (in *Ingest) holds(ctx context.Context, keys []string, checkpoint string) bool {
	n, err := checkpointScript.Run(ctx, in.opts.Client, keys, in.opts.Node, checkpoint, in.opts.Lease.Milliseconds()).Int()
	return err == nil && n == 1
}

// publish validates entries and publishes the good ones as the HTTP API
// would, all at once so their history is recorded in one round trip.
func (in *Ingest) publish(ctx context.Context, app *apps.App, key string, entries []redis.XMessage) {
	ts := make([]broadcast.Trigger, 0, len(entries))
	for _, e := range entries {
		t, err := triggerFrom(e)
		if err == nil {
			if invalid := t.Validate(app, app.MaxChannelsPerEvent); invalid != nil {
				err = invalid
			}
		}
		if err != nil {
			in.opts.Observer.IngestMalformed(app.ID)
			in.opts.Logger.Warn("skipping malformed ingest entry", "stream", key, "id", e.ID, "err", err)
			continue
		}
		ts = append(ts, t)
	}
	if len(ts) == 0 {
		return
	}
	in.opts.Publisher.Trigger(ctx, app, ts...)
	in.opts.Observer.IngestPublished(app.ID, len(ts))
}

// triggerFrom reads an entry's fields. The trigger is stamped with the
// entry's own time (its id), so ingest latency includes the stream.
func triggerFrom(e redis.XMessage) (broadcast.Trigger, error) {
	str := func(name string) string { s, _ := e.Values[name].(string); return s }
	t := broadcast.Trigger{Name: str("event"), Data: str("data"), Except: str("socket_id"), Source: protocol.SourceStream}
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
