package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/streams"
	"github.com/redis/go-redis/v9"
)

// StreamsOptions configure an AI-token run: Streams channels with one
// subscriber each, and one publisher per stream that sends TokensPerSec
// tokens a second, Batch tokens per HTTP request (or per pipeline of
// XADDs with Ingest), waiting for each answer as a model backend does. Each event is a token of the convention
// {"stream","seq","delta"} (with a "t" stamp), so a server that merges a
// slow client's tokens can do so.
type StreamsOptions struct {
	Target       Target
	Streams      int
	TokensPerSec float64
	Duration     time.Duration
	Batch        int
	Payload      int
	// PID, when set, is the server process whose CPU and memory use are
	// reported (it must run on this machine).
	PID int
	// Ingest, when set (redis://host:port), makes the publishers XADD their
	// tokens to the app's ingest stream in that Redis, IngestKey, instead
	// of calling the HTTP API: the latency is then ingest-to-socket.
	Ingest    string
	IngestKey string
	// Slow of the subscribers (spread over the streams) read at most
	// SlowRate bytes a second. Their figures are reported apart from the
	// others'; once publishing ends their limit is lifted and they must
	// end with their stream's whole text.
	Slow     int
	SlowRate float64
	Progress io.Writer
}

// StreamsResult is what a token-stream run measured.
type StreamsResult struct {
	Mode            string  `json:"mode"`
	Nodes           int     `json:"nodes"`
	Streams         int     `json:"streams"`
	TokensPerSec    float64 `json:"tokens_per_s_per_stream"`
	Batch           int     `json:"batch"`
	Ingest          bool    `json:"ingest"`
	DurationSeconds float64 `json:"duration_s"`
	PayloadBytes    int     `json:"payload_bytes"`
	ConnectSeconds  float64 `json:"connect_s"`
	Published       int64   `json:"published_tokens"`
	PublishErrors   int64   `json:"publish_errors"`
	AchievedRate    float64 `json:"achieved_tokens_per_s"`
	RateAchieved    bool    `json:"rate_achieved"`
	// Deliveries, Lost, Duplicated, OutOfOrder and Latency are the
	// subscribers' that read at full speed (all but the Slow).
	Deliveries int64       `json:"deliveries"`
	Lost       int64       `json:"lost"`
	Duplicated int64       `json:"duplicated"`
	OutOfOrder int64       `json:"out_of_order"`
	Latency    Latency     `json:"latency"`
	Slow       *SlowResult `json:"slow,omitempty"`
	// Counters are the server's coalescing and slow-consumer counts during
	// the run, from its /metrics.
	Counters *ServerCounters `json:"server_counters,omitempty"`
	// Request is a publish's round trip as the publishers saw it: the HTTP
	// API request, or with --ingest the XADD.
	Request Latency      `json:"request_latency"`
	Tool    ToolCPU      `json:"tool_cpu"`
	Server  *ServerUsage `json:"server,omitempty"`
}

// Streams runs a token-stream benchmark.
func Streams(ctx context.Context, o StreamsOptions) (*StreamsResult, error) {
	if err := o.Target.Validate(); err != nil {
		return nil, err
	}
	if o.Streams < 1 || o.TokensPerSec <= 0 || o.Duration <= 0 {
		return nil, fmt.Errorf("bench: streams, tokens per second and duration must be positive")
	}
	if o.Slow < 0 || o.Slow > o.Streams || (o.Slow > 0 && o.SlowRate <= 0) {
		return nil, fmt.Errorf("bench: --slow must be between 0 and the streams, with a positive --slow-rate")
	}
	o.Batch = max(o.Batch, 1)
	perStream := int64(math.Ceil(o.TokensPerSec*o.Duration.Seconds())) + int64(o.Batch)
	fastStreams, slowStreams := splitSlow(o.Streams, o.Slow)
	f := &fleet{target: o.Target}
	// Only the slow subscribers' latency is read from when each token went
	// out; the fast ones read it from the token itself.
	slow := &slowFleet{target: o.Target, rate: o.SlowRate, sentAt: make([][]atomic.Int64, o.Streams)}
	isSlow := make([]bool, o.Streams)
	for _, i := range slowStreams {
		slow.sentAt[i] = make([]atomic.Int64, perStream)
		isSlow[i] = true
	}
	ph := &phase{}
	names := channelName("bench-stream-")
	var publishStart time.Time
	p := startProgress(o.Progress, "streams", func() string {
		if publishStart.IsZero() {
			return fmt.Sprintf("connected %d/%d", ph.connected.Load(), o.Streams)
		}
		el := time.Since(publishStart).Seconds()
		line := fmt.Sprintf("tokens published %d (%.0f/s)  delivered %d  p99 %.1f ms  errors %d",
			ph.published.Load(), float64(ph.published.Load())/el, f.delivered.Load(), f.latency.latency().P99, ph.errors.Load())
		if o.Slow > 0 {
			line += fmt.Sprintf("  | slow: delivered %d  p99 %.0f ms  closed 4100 %d", slow.delivered.Load(), slow.latency.latency().P99, slow.closed4100.Load())
		}
		return line
	})
	defer f.close()
	defer slow.close()
	connectTime, err := f.connect(ctx, len(fastStreams), func(i int) int { return fastStreams[i] }, names, 200, ph)
	if err == nil && len(slowStreams) > 0 {
		start := time.Now()
		err = slow.connect(ctx, slowStreams, names, 200, ph)
		connectTime += time.Since(start)
	}
	if err != nil {
		p.finish()
		return nil, err
	}

	sets := make([]*publishedSet, o.Streams)
	issued := make([]int64, o.Streams)
	deltaBytes := make([]int64, o.Streams)
	send, closeSender, err := o.sender(ctx)
	if err != nil {
		p.finish()
		return nil, err
	}
	defer closeSender()
	countersBefore, _ := readServerCounters(ctx, o.Target.Nodes)
	meter, server := startCPUMeter(), startServerMeter(o.PID)
	publishStart = time.Now()
	var requests histogram
	var wg sync.WaitGroup
	for i := range o.Streams {
		sets[i] = newPublishedSet(perStream)
		wg.Add(1)
		go func() {
			defer wg.Done()
			issued[i], deltaBytes[i] = stream(ctx, send, names(i), i, o, sets[i], slow.sentAt[i], ph, &requests)
		}()
	}
	wg.Wait()
	publishTime := time.Since(publishStart)
	var expected int64
	lastSeq := make([]int64, o.Streams)
	for i := range o.Streams {
		lastSeq[i] = -1
		for seq := range issued[i] {
			if sets[i].has(seq) {
				lastSeq[i] = seq
				if !isSlow[i] {
					expected++
				}
			}
		}
	}
	f.drain(expected, 2*time.Second, 30*time.Second)
	tool, usage := meter.stop(), server.stop()
	if len(slowStreams) > 0 {
		slow.lift()
		slow.drain(lastSeq, 5*time.Second, 60*time.Second)
	}
	countersAfter, _ := readServerCounters(ctx, o.Target.Nodes)
	p.finish()
	f.close()
	slow.close()

	r := &StreamsResult{
		Mode: "streams", Nodes: len(o.Target.Nodes), Streams: o.Streams, TokensPerSec: o.TokensPerSec, Batch: o.Batch, Ingest: o.Ingest != "",
		DurationSeconds: o.Duration.Seconds(), PayloadBytes: o.Payload, ConnectSeconds: round3(connectTime.Seconds()),
		Published: ph.published.Load(), PublishErrors: ph.errors.Load(),
		AchievedRate: round3(float64(ph.published.Load()) / publishTime.Seconds()),
		Deliveries:   f.delivered.Load(), Latency: f.latency.latency(), Request: requests.latency(), Tool: tool, Server: usage,
		Counters: countersAfter.since(countersBefore),
	}
	if len(slowStreams) > 0 {
		r.Slow = slow.result(deltaBytes, lastSeq)
	}
	r.RateAchieved = r.AchievedRate >= 0.98*o.TokensPerSec*float64(o.Streams) && r.PublishErrors == 0
	for _, s := range f.subs {
		for seq := range issued[s.channel] {
			if sets[s.channel].has(seq) && !s.saw(seq) {
				r.Lost++
			}
		}
		r.Duplicated += s.duplicated
		r.OutOfOrder += s.outOfOrder
	}
	return r, nil
}

// sender publishes a batch of tokens to a channel and waits for the answer.
type sender func(ctx context.Context, channel string, tokens []string) error

// newSender gives a stream its sender and what closes it.
type newSender func(ctx context.Context) (sender, func(), error)

// sender returns how the publishers send: one API connection per stream,
// or XADDs to the ingest stream; and what closes what they share.
func (o StreamsOptions) sender(ctx context.Context) (newSender, func(), error) {
	if o.Ingest == "" {
		api := o.Target.api(0)
		return func(ctx context.Context) (sender, func(), error) {
			conn, err := client.DialAPI(ctx, api)
			if err != nil {
				return nil, nil, err
			}
			return func(ctx context.Context, channel string, tokens []string) error {
				if len(tokens) == 1 {
					_, err := conn.Trigger(client.TriggerEvent{Name: "token", Channels: []string{channel}, Data: tokens[0]})
					return err
				}
				batch := make([]client.TriggerEvent, len(tokens))
				for j, d := range tokens {
					batch[j] = client.TriggerEvent{Name: "token", Channel: channel, Data: d}
				}
				_, err := conn.Batch(batch)
				return err
			}, func() { _ = conn.Close() }, nil
		}, func() {}, nil
	}
	opt, err := redis.ParseURL(o.Ingest)
	if err != nil {
		return nil, nil, fmt.Errorf("bench: --ingest: %w", err)
	}
	// A connection per stream, as each model worker has its own: with
	// fewer, the streams queue for connections inside the tool and that
	// wait would count as the server's latency.
	opt.PoolSize = o.Streams
	rdb := redis.NewClient(opt)
	if err := rdb.Ping(ctx).Err(); err != nil {
		_ = rdb.Close()
		return nil, nil, fmt.Errorf("bench: --ingest: %w", err)
	}
	key := o.IngestKey
	if key == "" {
		key = streams.IngestKey(config.DefaultRedisPrefix, o.Target.AppID)
	}
	return func(context.Context) (sender, func(), error) {
		return func(ctx context.Context, channel string, tokens []string) error {
			pipe := rdb.Pipeline()
			for _, d := range tokens {
				pipe.XAdd(ctx, &redis.XAddArgs{Stream: key, MaxLen: 100_000, Approx: true,
					Values: []any{"channel", channel, "event", "token", "data", d}})
			}
			_, err := pipe.Exec(ctx)
			return err
		}, func() {}, nil
	}, func() { _ = rdb.Close() }, nil
}

// stream publishes stream i's tokens, Batch per request, each request
// waiting for the previous one's answer, on a steady schedule; a slow
// server makes the schedule slip, which the achieved rate shows. The
// streams' schedules are spread evenly over one interval, as independent
// generations are, rather than all firing at the same instants. It records
// when each token went out in sentAt, and returns the tokens issued and
// the bytes of the deltas published.
func stream(ctx context.Context, newSender newSender, channel string, i int, o StreamsOptions, set *publishedSet, sentAt []atomic.Int64, ph *phase, requests *histogram) (issued, deltaBytes int64) {
	// Connect before the schedule starts, so that no request's time
	// includes the connection's setup.
	send, closeSend, err := newSender(ctx)
	if err != nil {
		ph.errors.Add(1)
		return 0, 0
	}
	defer closeSend()
	interval := time.Duration(float64(o.Batch) / o.TokensPerSec * float64(time.Second))
	begin := time.Now()
	start := begin.Add(interval * time.Duration(i) / time.Duration(o.Streams))
	tokens := make([]string, o.Batch)
	deltas := make([]int, o.Batch)
	for k := int64(0); ctx.Err() == nil; k++ {
		due := start.Add(time.Duration(k) * interval)
		if due.Sub(begin) >= o.Duration {
			return issued, deltaBytes
		}
		if wait := time.Until(due); wait > 0 {
			time.Sleep(wait)
		}
		for j := range tokens {
			seq := issued + int64(j)
			tokens[j], deltas[j] = tokenPayload(i, seq, o.Payload)
			if seq < int64(len(sentAt)) {
				sentAt[seq].Store(time.Now().UnixNano())
			}
		}
		sent := time.Now()
		err := send(ctx, channel, tokens)
		requests.record(time.Since(sent))
		if err != nil {
			ph.errors.Add(1)
		} else {
			for j := range int64(o.Batch) {
				set.add(issued + j)
				deltaBytes += int64(deltas[j])
			}
			ph.published.Add(int64(o.Batch))
		}
		issued += int64(o.Batch)
	}
	return issued, deltaBytes
}

// tokenPayload builds a token's data, about size bytes:
// {"stream":i,"seq":n,"t":<send time>,"delta":"xxx…"}. It returns the data
// and the delta's length. A server that merges tokens keeps the
// convention's fields and drops "t".
func tokenPayload(stream int, seq int64, size int) (string, int) {
	var b strings.Builder
	b.Grow(size + 64)
	b.WriteString(`{"stream":`)
	b.WriteString(strconv.Itoa(stream))
	b.WriteString(`,"seq":`)
	b.WriteString(strconv.FormatInt(seq, 10))
	b.WriteString(`,"t":`)
	b.WriteString(strconv.FormatInt(time.Now().UnixNano(), 10))
	b.WriteString(`,"delta":"`)
	delta := max(size-b.Len()-2, 1)
	for range delta {
		b.WriteByte('x')
	}
	b.WriteString(`"}`)
	return b.String(), delta
}

// splitSlow picks slow of n streams, spread evenly, for the slow
// subscribers; the others are the fast subscribers'.
func splitSlow(n, slow int) (fast, slowStreams []int) {
	for i := range n {
		if slow > 0 && i*slow/n != (i+1)*slow/n {
			slowStreams = append(slowStreams, i)
		} else {
			fast = append(fast, i)
		}
	}
	return fast, slowStreams
}

// Summary is the human report.
func (r *StreamsResult) Summary() string {
	var b strings.Builder
	via := "the HTTP API"
	if r.Ingest {
		via = "XADD to the Redis ingest stream"
	}
	fmt.Fprintf(&b, "streams: %d streams × %.0f tokens/s, %d token(s) per request, for %.0fs, %d-byte tokens, %d node(s), through %s\n",
		r.Streams, r.TokensPerSec, r.Batch, r.DurationSeconds, r.PayloadBytes, r.Nodes, via)
	fmt.Fprintf(&b, "  connected and subscribed in %.2fs\n", r.ConnectSeconds)
	fmt.Fprintf(&b, "  published   %d tokens, %.1f/s (%s), %d errors\n", r.Published, r.AchievedRate, achieved(r.RateAchieved), r.PublishErrors)
	who := ""
	if r.Slow != nil {
		who = fmt.Sprintf(" to the %d fast subscribers", r.Streams-r.Slow.Subscribers)
	}
	fmt.Fprintf(&b, "  delivered   %d%s; lost %d, duplicated %d, out of order %d\n", r.Deliveries, who, r.Lost, r.Duplicated, r.OutOfOrder)
	fmt.Fprintf(&b, "  latency     p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, max %.2f ms\n", r.Latency.P50, r.Latency.P95, r.Latency.P99, r.Latency.Max)
	b.WriteString(r.Slow.line())
	b.WriteString(r.Counters.line())
	fmt.Fprintf(&b, "  requests    p50 %.2f ms, p99 %.2f ms (publisher round trip)\n", r.Request.P50, r.Request.P99)
	b.WriteString(r.Server.line())
	b.WriteString(r.Tool.line())
	return b.String()
}
