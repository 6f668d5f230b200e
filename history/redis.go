package history

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/quaver-dev/quaver/protocol"
	"github.com/redis/go-redis/v9"
)

var (
	//go:embed lua/record.lua
	recordSource string
	//go:embed lua/streams.lua
	streamsSource string

	recordScript  = redis.NewScript(recordSource)
	streamsScript = redis.NewScript(streamsSource)
)

// Redis is the many-node Store. A channel's keys share one hash tag, so
// the scripts run in one slot on Redis Cluster too:
//
//	{prefix}:hist:{app:channel}:streams   zset of stream ids
//	{prefix}:hist:{app:channel}:m:<id>    a stream's event, seq, done
//	{prefix}:hist:{app:channel}:t:<id>    its text (APPENDed)
//	{prefix}:hist:{app:channel}:k:<id>    its marks, "seq:end," per token
//	{prefix}:hist:{app:channel}:recent    the last events, marshalled
//
// Every key expires after the rule's Retain without a new event.
type Redis struct {
	client redis.UniversalClient
	prefix string
}

// NewRedis returns a Store on client.
func NewRedis(client redis.UniversalClient, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix}
}

func (s *Redis) base(app, channel string) string {
	return s.prefix + ":hist:{" + app + ":" + channel + "}:"
}

// Record implements Store. Several entries go in one pipeline of script
// calls: one round trip however many tokens a stream reader took at once.
func (s *Redis) Record(ctx context.Context, entries ...Entry) error {
	missing, err := s.recordPipelined(ctx, entries)
	if len(missing) > 0 {
		// Redis restarted or flushed its scripts (on a cluster, maybe on
		// one shard only): load the script and record what it missed.
		if err = recordScript.Load(ctx, s.client).Err(); err == nil {
			_, err = s.recordPipelined(ctx, missing)
		}
	}
	if err != nil {
		return fmt.Errorf("history: record: %w", err)
	}
	return nil
}

// recordPipelined runs the record script for every entry in one pipeline.
// It returns the entries Redis had no script for, or else the first error.
func (s *Redis) recordPipelined(ctx context.Context, entries []Entry) (missing []Entry, err error) {
	pipe := s.client.Pipeline()
	for _, e := range entries {
		keys, args := s.recordArgs(e)
		recordScript.EvalSha(ctx, pipe, keys, args...)
	}
	cmds, err := pipe.Exec(ctx)
	for i, c := range cmds {
		if n, err := c.(*redis.Cmd).Int(); err == nil {
			markOpened(entries[i], n)
		}
	}
	if err == nil {
		return nil, nil
	}
	for i, c := range cmds {
		if redis.HasErrorPrefix(c.Err(), "NOSCRIPT") {
			missing = append(missing, entries[i])
		} else if c.Err() != nil && !errors.Is(c.Err(), redis.Nil) {
			return nil, c.Err()
		}
	}
	return missing, nil
}

// markOpened marks a token that opened its stream: the record script
// answers 2 for it.
func markOpened(e Entry, reply int) {
	if reply == 2 && e.Frame.Token != nil {
		e.Frame.Token.First = true
	}
}

func (s *Redis) recordArgs(e Entry) (keys []string, args []any) {
	f, rule := e.Frame, e.Rule
	base := s.base(e.App, f.Channel)
	token, stream, seq, delta, done := "0", "", "0", "", "0"
	if rule.Tokens && f.Token != nil {
		token, stream, seq, delta = "1", f.Token.Stream, strconv.FormatInt(f.Token.Seq, 10), f.Token.Delta
		if f.Token.Done {
			done = "1"
		}
	}
	var payload []byte
	if rule.History > 0 {
		payload = protocol.MarshalFrame(f, "")
	}
	keys = []string{base + "streams", base + "m:" + stream, base + "t:" + stream, base + "k:" + stream, base + "recent"}
	args = []any{rule.Retain.Milliseconds(), token, stream, seq, delta, done, f.Event, time.Now().UnixMilli(),
		rule.History, payload, MaxStreams, MaxStreamText, base}
	return keys, args
}

// Streams implements Store.
func (s *Redis) Streams(ctx context.Context, app, channel string) ([]Stream, error) {
	base := s.base(app, channel)
	res, err := streamsScript.Run(ctx, s.client, []string{base + "streams"}, base).Slice()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("history: streams: %w", err)
	}
	out := make([]Stream, 0, len(res))
	for _, item := range res {
		fields, ok := item.([]any)
		if !ok || len(fields) != 4 {
			continue
		}
		id, _ := fields[0].(string)
		text, _ := fields[2].(string)
		marks, _ := fields[3].(string)
		st := Stream{ID: id, Text: text, Marks: parseMarks(marks)}
		meta, _ := fields[1].([]any)
		for i := 0; i+1 < len(meta); i += 2 {
			k, _ := meta[i].(string)
			v, _ := meta[i+1].(string)
			switch k {
			case "event":
				st.Event = v
			case "seq":
				st.Seq, _ = strconv.ParseInt(v, 10, 64)
			case "done":
				st.Done = v == "1"
			}
		}
		out = append(out, st)
	}
	return out, nil
}

func parseMarks(s string) []Mark {
	marks := make([]Mark, 0, strings.Count(s, ","))
	for s != "" {
		var m string
		m, s, _ = strings.Cut(s, ",")
		seq, end, ok := strings.Cut(m, ":")
		if !ok {
			continue
		}
		q, err1 := strconv.ParseInt(seq, 10, 64)
		e, err2 := strconv.Atoi(end)
		if err1 == nil && err2 == nil {
			marks = append(marks, Mark{Seq: q, End: e})
		}
	}
	return marks
}

// Recent implements Store.
func (s *Redis) Recent(ctx context.Context, app, channel string, n int) ([]*protocol.Frame, error) {
	if n <= 0 {
		return nil, nil
	}
	items, err := s.client.LRange(ctx, s.base(app, channel)+"recent", int64(-n), -1).Result()
	if err != nil {
		return nil, fmt.Errorf("history: recent: %w", err)
	}
	out := make([]*protocol.Frame, 0, len(items))
	for _, it := range items {
		if f, _, err := protocol.UnmarshalFrame([]byte(it)); err == nil {
			out = append(out, f)
		}
	}
	return out, nil
}
