package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/internal/jsdriver"
	"github.com/quaver-dev/quaver/internal/redistest"
	"github.com/quaver-dev/quaver/streams"
	"github.com/redis/go-redis/v9"
)

// aiRules are the test app's AI streaming rules.
func aiRules(vacatedGrace config.Seconds) []config.ChannelRule {
	return []config.ChannelRule{
		{Prefix: "private-ai-", Tokens: true, Retain: 60, VacatedGrace: vacatedGrace},
		{Prefix: "presence-ai-", Tokens: true, Inbound: true, InboundRate: 2, Retain: 60},
	}
}

// startAI runs a node with Redis and the AI rules.
func startAI(t *testing.T, r *redistest.Server, vacatedGrace config.Seconds) *harness {
	t.Helper()
	return start(t, func(c *config.Config) {
		c.Redis.URL = r.URL()
		c.Apps[0].Channels = aiRules(vacatedGrace)
	})
}

// produce XADDs tokens of one stream to the app's ingest stream, as a
// worker does: words of text, then a final done. Errors go to t.Error, so
// it may run in its own goroutine.
func produce(t *testing.T, rdb *redis.Client, channel, stream string, words []string, pace time.Duration) {
	produceTokens(t, rdb, channel, stream, words, pace, true)
}

// produceTokens is produce, with the final done only when finish is set.
func produceTokens(t *testing.T, rdb *redis.Client, channel, stream string, words []string, pace time.Duration, finish bool) {
	ctx := context.Background()
	add := func(data string) bool {
		err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: streams.IngestKey("quaver", "test-app"),
			Values: []any{"channel", channel, "event", "token", "data", data}}).Err()
		if err != nil {
			t.Errorf("XADD: %v", err)
		}
		return err == nil
	}
	for i, w := range words {
		if !add(fmt.Sprintf(`{"stream":%q,"seq":%d,"delta":%q}`, stream, i, w)) {
			return
		}
		if pace > 0 {
			time.Sleep(pace)
		}
	}
	if finish {
		add(fmt.Sprintf(`{"stream":%q,"seq":%d,"done":true}`, stream, len(words)))
	}
}

func words(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("w%d ", i)
	}
	return out
}

// tokenText is a client of the token convention, as a chat page is: it
// replaces its text with "text", appends each "delta", ignores any seq it
// has already seen. It returns the text, whether the stream finished, and
// the seqs it took in order.
func tokenText(t *testing.T, d *jsdriver.Driver, client, channel string) (string, bool, []int64) {
	t.Helper()
	var text string
	done := false
	last := int64(-1)
	var seqs []int64
	for _, r := range d.Reports(jsdriver.Event(client, channel, "token")) {
		var tok struct {
			Seq   int64   `json:"seq"`
			Delta string  `json:"delta"`
			Text  *string `json:"text"`
			Done  bool    `json:"done"`
		}
		if err := r.DecodeData(&tok); err != nil {
			t.Fatalf("token data %s: %v", r.Data, err)
		}
		if tok.Seq <= last {
			continue
		}
		if tok.Text != nil {
			text = *tok.Text
		} else {
			text += tok.Delta
		}
		last = tok.Seq
		seqs = append(seqs, tok.Seq)
		done = done || tok.Done
	}
	return text, done, seqs
}

func waitText(t *testing.T, d *jsdriver.Driver, client, channel, want string) {
	t.Helper()
	eventually(t, client+" has the whole text", func() bool {
		text, done, _ := tokenText(t, d, client, channel)
		return done && text == want
	})
}

// A producer XADDs 200 tokens; a pusher-js client gets every one, in order,
// and a client that joins at token 50 sees the whole text too, starting
// with one event holding the text so far.
func TestIngestToBrowsersInOrderAndLateJoin(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	h := startAI(t, r, 0)
	const ch = "private-ai-chat.1"
	h.connect("early", "pusher-js", nil)
	h.subscribe("early", ch)
	ws := words(200)
	want := strings.Join(ws, "")

	rdb := r.Client()
	produceTokens(t, rdb, ch, "answer-1", ws[:50], 0, false)
	eventually(t, "early has the first 50 tokens", func() bool {
		_, _, seqs := tokenText(t, h.d, "early", ch)
		return len(seqs) >= 50
	})
	// The late client joins with Echo, as a Laravel page does.
	h.connect("late", "echo-reverb", nil)
	h.echoSubscribe("late", "private", "ai-chat.1")
	go produce(t, rdb, ch, "answer-1", ws, 0) // seqs 0..49 again: repeats are dropped

	waitText(t, h.d, "early", ch, want)
	waitText(t, h.d, "late", ch, want)
	_, _, seqs := tokenText(t, h.d, "early", ch)
	for i, s := range seqs {
		if s != int64(i) {
			t.Fatalf("early got seq %d at position %d: tokens out of order or missing", s, i)
		}
	}
	first := h.d.Wait("late's first token event", jsdriver.Event("late", ch, "token"))
	var snap struct {
		Seq  int64  `json:"seq"`
		Text string `json:"text"`
	}
	if err := first.DecodeData(&snap); err != nil || snap.Text != strings.Join(ws[:50], "") || snap.Seq != 49 {
		t.Fatalf("late's first event %s, want the text of tokens 0-49 at seq 49", first.Data)
	}
}

// A client whose connection is cut mid-stream reconnects (pusher-js
// resubscribes by itself) and ends with exactly the producer's text.
func TestReconnectMidStream(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	h := startAI(t, r, 0)
	const ch = "private-ai-chat.2"
	h.connect("reader", "pusher-js", nil)
	h.subscribe("reader", ch)
	ws := words(150)
	rdb := r.Client()
	done := make(chan struct{})
	go func() { defer close(done); produce(t, rdb, ch, "answer-2", ws, 3*time.Millisecond) }()
	eventually(t, "some tokens arrived", func() bool {
		_, _, seqs := tokenText(t, h.d, "reader", ch)
		return len(seqs) > 20
	})
	h.d.Call("disconnect", args{"client": "reader"})
	h.d.Wait("reader disconnected", jsdriver.State("reader", "disconnected"))
	time.Sleep(50 * time.Millisecond) // tokens flow while the client is away
	mark := h.d.Mark()
	h.d.Call("connect", args{"client": "reader"})
	h.d.WaitAfter(mark, "reader resubscribed", jsdriver.Subscribed("reader", ch))
	<-done
	waitText(t, h.d, "reader", ch, strings.Join(ws, ""))
}

// The node reading the ingest stream is killed with SIGKILL mid-stream;
// another node takes the stream over from its checkpoint, and a client on
// that node gets the whole stream with no gap and no reordering.
func TestIngestReaderKilledMidStream(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	cfg := filepath.Join(t.TempDir(), "quaver.yaml")
	writeFile(t, cfg, "apps:\n  - id: test-app\n    key: test-key\n    secret: test-secret\n    channels:\n      - prefix: private-ai-\n        tokens: true\n        retain: 60\n")
	c := startCluster(t, 2, append(redisURLArgs(r), "--config", cfg))
	rdb := r.Client()
	ctx := context.Background()
	var reader, survivor int
	eventually(t, "a node holds the ingest lease", func() bool {
		holder, err := rdb.Get(ctx, "quaver:ingest-state:{"+streams.IngestKey("quaver", "test-app")+"}:lease").Result()
		if err != nil {
			return false
		}
		for i, n := range c.nodes {
			if nodeID(t, n) == holder {
				reader, survivor = i, 1-i
				return true
			}
		}
		return false
	})
	const ch = "private-ai-failover"
	c.on(survivor, "reader", "pusher-js", nil)
	c.subscribe("reader", ch)
	ws := words(300)
	done := make(chan struct{})
	go func() { defer close(done); produce(t, rdb, ch, "answer-3", ws, 10*time.Millisecond) }()
	eventually(t, "the stream is under way", func() bool {
		_, _, seqs := tokenText(t, c.d, "reader", ch)
		return len(seqs) > 80
	})
	c.nodes[reader].Kill()
	<-done
	waitText(t, c.d, "reader", ch, strings.Join(ws, ""))
	_, _, seqs := tokenText(t, c.d, "reader", ch)
	for i, s := range seqs {
		if s != int64(i) {
			t.Fatalf("token %d arrived at position %d: a gap or reordering across the failover", s, i)
		}
	}
}

// Client events on an inbound channel reach a consumer group with the
// sender's user id, within the rate limit; the others are refused with
// 4301 and the sender stays connected.
func TestInboundPromptsReachWorkers(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	h := startAI(t, r, 0)
	const ch = "presence-ai-room.7"
	rdb := r.Client()
	ctx := context.Background()
	key := streams.InboundKey("quaver", "test-app")
	if err := rdb.XGroupCreateMkStream(ctx, key, "workers", "$").Err(); err != nil {
		t.Fatal(err)
	}
	h.connect("ann", "pusher-js", args{"channelData": member("u-ann", "Ann")})
	h.subscribe("ann", ch)
	h.d.Call("trigger", args{"client": "ann", "channel": ch, "event": "client-prompt", "data": args{"text": "tell me a joke"}})
	res, err := rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: "workers", Consumer: "w1", Streams: []string{key, ">"}, Count: 10, Block: 5 * time.Second}).Result()
	if err != nil || len(res) != 1 || len(res[0].Messages) != 1 {
		t.Fatalf("worker read %v, %v; want the prompt", res, err)
	}
	m := res[0].Messages[0].Values
	if m["user_id"] != "u-ann" || m["event"] != "client-prompt" || m["channel"] != ch || !strings.Contains(m["data"].(string), "tell me a joke") || m["socket_id"] == "" {
		t.Fatalf("inbound entry %v", m)
	}

	// A burst: at most the rate (2/s, burst 2) gets through, the rest is
	// refused with 4301.
	mark := h.d.Mark()
	h.d.Call("trigger", args{"client": "ann", "channel": ch, "event": "client-prompt", "data": args{"text": "again"}, "times": 10})
	h.d.WaitAfter(mark, "ann is told to slow down", jsdriver.ErrorCode("ann", 4301))
	time.Sleep(300 * time.Millisecond)
	n, err := rdb.XLen(ctx, key).Result()
	if err != nil || n < 2 || n > 4 {
		t.Fatalf("inbound stream holds %d entries after a burst of 10 at 2/s, want 2 to 4", n)
	}
	h.d.NeverAfter(mark, "ann disconnected by the limit", 0, func(r jsdriver.Report) bool {
		return r.Client == "ann" && r.Type == "state" && r.Current != "connected"
	})
}

// When a stream channel has no subscriber left for the grace period, a
// vacated signal is appended for the workers; a reload within the grace
// period sends none.
func TestVacatedSignal(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	h := startAI(t, r, 1)
	rdb := r.Client()
	ctx := context.Background()
	key := streams.SignalsKey("quaver", "test-app")
	signals := func() []string {
		msgs, err := rdb.XRange(ctx, key, "-", "+").Result()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range msgs {
			out = append(out, fmt.Sprint(m.Values["type"], " ", m.Values["channel"]))
		}
		return out
	}

	// A page reload: the channel is empty for a moment only.
	h.connect("page", "pusher-js", nil)
	h.subscribe("page", "private-ai-reload")
	h.d.Call("unsubscribe", args{"client": "page", "channel": "private-ai-reload"})
	h.subscribe("page", "private-ai-reload")
	// A page closed for good.
	h.connect("gone", "pusher-js", nil)
	h.subscribe("gone", "private-ai-gone")
	start := time.Now()
	h.d.Call("disconnect", args{"client": "gone"})
	eventually(t, "the vacated signal", func() bool { return len(signals()) > 0 })
	if took := time.Since(start); took < 900*time.Millisecond {
		t.Errorf("signal after %v, before the 1 s grace period", took)
	}
	time.Sleep(1500 * time.Millisecond) // the reloaded channel's check has run by now
	if got := signals(); len(got) != 1 || got[0] != "vacated private-ai-gone" {
		t.Fatalf("signals %v, want only private-ai-gone vacated", got)
	}
	var entry map[string]any
	msgs, _ := rdb.XRange(ctx, key, "-", "+").Result()
	b, _ := json.Marshal(msgs[0].Values)
	_ = json.Unmarshal(b, &entry)
	if entry["time"] == nil {
		t.Errorf("signal without time: %v", entry)
	}
}

// Without Redis, one node keeps the stream in memory: tokens triggered
// through the HTTP API reach a late subscriber as the text so far; a client
// that sends resume gets only what followed its seq; the history API
// returns the streams and the last events.
func TestSingleNodeStreamResumeAndHistory(t *testing.T) {
	t.Parallel()
	h := start(t, func(c *config.Config) {
		c.Apps[0].Channels = []config.ChannelRule{{Prefix: "private-ai-", Tokens: true, History: 5, Retain: 60}}
	})
	const ch = "private-ai-solo"
	for i, w := range []string{"The ", "quick ", "brown ", "fox"} {
		h.trigger([]string{ch}, "token", args{"stream": "s1", "seq": i, "delta": w})
	}
	h.trigger([]string{ch}, "status", "thinking")

	// A late pusher-js subscriber starts from the text so far.
	h.connect("late", "pusher-js", nil)
	h.subscribe("late", ch)
	first := h.d.Wait("late's snapshot", jsdriver.Event("late", ch, "token"))
	if !contains(first.Data, `"text":"The quick brown fox"`) || !contains(first.Data, `"seq":3`) {
		t.Fatalf("snapshot %s", first.Data)
	}

	// A client that knows seq 1 resumes after it.
	c := h.raw("test-key", "test-secret", nil)
	if err := c.Subscribe(ch, client.SubscribeOptions{Extra: map[string]any{"resume": map[string]any{"stream": "s1", "seq": 1}}}); err != nil {
		t.Fatal(err)
	}
	e := next(t, c, "the resumed tail", isEvent("token", ch))
	if got := e.DataString(); got != `{"stream":"s1","seq":3,"delta":"brown fox"}` {
		t.Fatalf("resumed tail %s", got)
	}

	// New tokens follow on both, once each.
	h.trigger([]string{ch}, "token", args{"stream": "s1", "seq": 4, "delta": "!", "done": true})
	e = next(t, c, "the live token", isEvent("token", ch))
	if !strings.Contains(e.DataString(), `"seq":4`) {
		t.Fatalf("live token %s", e.DataString())
	}
	waitText(t, h.d, "late", ch, "The quick brown fox!")

	var hist struct {
		Streams []struct {
			Stream string `json:"stream"`
			Seq    int64  `json:"seq"`
			Text   string `json:"text"`
			Done   bool   `json:"done"`
		} `json:"streams"`
		Events []struct{ Event, Data string } `json:"events"`
	}
	h.ok("sdk.get", args{"path": "/channels/" + ch + "/history"}, &hist)
	if len(hist.Streams) != 1 || hist.Streams[0].Text != "The quick brown fox!" || !hist.Streams[0].Done || hist.Streams[0].Seq != 4 {
		t.Fatalf("history streams %+v", hist.Streams)
	}
	if n := len(hist.Events); n != 5 || hist.Events[n-1].Event != "token" || hist.Events[n-2].Data != "thinking" {
		t.Fatalf("history events %+v, want the last 5", hist.Events)
	}
	res := h.call("sdk.get", args{"path": "/channels/plain/history"})
	if res.Status != 400 {
		t.Fatalf("history of a channel without a rule: %d %s", res.Status, res.Body)
	}
}
