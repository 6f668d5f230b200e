package e2e

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/internal/jsdriver"
	"github.com/quaver-dev/quaver/internal/testserver"
	"github.com/quaver-dev/quaver/protocol"
)

// alive asserts that a raw client's connection still works: a ping gets
// its pong.
func alive(t *testing.T, c *client.Client, who string) {
	t.Helper()
	if err := c.Send(protocol.EventPing, "", map[string]any{}); err != nil {
		t.Fatalf("%s: %v", who, err)
	}
	next(t, c, who+" pong", isEvent(protocol.EventPong, ""))
}

// TestBadInputHurtsOnlyTheSender sends every kind of bad input from raw
// clients while pusher-js and Echo clients use the same app; the bad
// sockets get an error (or a close for oversized frames) and everyone else
// sees nothing of it.
func TestBadInputHurtsOnlyTheSender(t *testing.T) {
	t.Parallel()
	h := start(t, withApp("tight", "tight-key", func(a *config.App) { a.MaxMessageSize = 2000 }))
	h.connect("js", "pusher-js", args{"channelData": member("u1", "One")})
	h.connect("echo", "echo-reverb", args{"channelData": member("u2", "Two")})
	h.subscribe("js", "feed")
	h.subscribe("js", "presence-room")
	h.echoSubscribe("echo", "channel", "feed")
	h.echoSubscribe("echo", "join", "room")
	h.d.Wait("js sees echo join", jsdriver.Event("js", "presence-room", "pusher:member_added"))
	mark := h.d.Mark()

	type badCase struct {
		name  string
		send  func(c *client.Client) error
		code  int    // pusher:error code expected
		event string // or this event instead (subscription_error)
	}
	text := func(s string) func(c *client.Client) error {
		return func(c *client.Client) error { return c.SendRaw([]byte(s)) }
	}
	cases := []badCase{
		{"invalid JSON", text(`{"event":"pusher:subscribe",`), protocol.CodeReconnect, ""},
		{"JSON array", text(`[1,2,3]`), protocol.CodeReconnect, ""},
		{"JSON string", text(`"hello"`), protocol.CodeReconnect, ""},
		{"no event", text(`{"data":{}}`), protocol.CodeReconnect, ""},
		{"unknown pusher event", text(`{"event":"pusher:reboot","data":{}}`), protocol.CodeReconnect, ""},
		{"unknown internal event", text(`{"event":"pusher_internal:member_added","channel":"presence-room","data":"{}"}`), protocol.CodeReconnect, ""},
		{"subscribe data not an object", text(`{"event":"pusher:subscribe","data":"nope"}`), protocol.CodeReconnect, ""},
		{"subscribe with a garbage signature", text(`{"event":"pusher:subscribe","data":{"channel":"presence-room","auth":"x:y","channel_data":"{\"user_id\":\"evil\"}"}}`), 0, protocol.EventSubscriptionError},
		{"subscribe to a bad name", text(`{"event":"pusher:subscribe","data":{"channel":"no spaces allowed"}}`), 0, protocol.EventSubscriptionError},
		{"binary frame", func(c *client.Client) error { return c.SendBinary([]byte{0, 1, 2, 0xff}) }, protocol.CodeReconnect, ""},
		{"invalid UTF-8", func(c *client.Client) error {
			return c.SendRaw([]byte("{\"event\":\"client-x\",\"data\":\"\xff\xfe\"}"))
		}, 0, "close"},
	}
	for _, bc := range cases {
		c := h.raw(testserver.AppKey, "", nil)
		if err := bc.send(c); err != nil {
			t.Fatalf("%s: %v", bc.name, err)
		}
		switch {
		case bc.event == "close":
			// Not valid text: the WebSocket layer closes (1007).
			if code := waitClosed(t, c, 5*time.Second); code == 0 || code == 1000 {
				t.Errorf("%s: close code %d, want a protocol error", bc.name, code)
			}
			continue
		case bc.event != "":
			next(t, c, bc.name+": "+bc.event, isEvent(bc.event, ""))
		default:
			e := next(t, c, bc.name+": pusher:error", isEvent(protocol.EventError, ""))
			if code, _ := errorData(t, e); code != bc.code {
				t.Errorf("%s: pusher:error code %d, want %d", bc.name, code, bc.code)
			}
		}
		alive(t, c, bc.name)
	}

	// Oversized messages: above the app's limit an error, above the
	// server's frame limit a 1009 close.
	tight := h.raw("tight-key", "", nil)
	big := `{"event":"client-x","channel":"private-x","data":"` + strings.Repeat("x", 5000) + `"}`
	if err := tight.SendRaw([]byte(big)); err != nil {
		t.Fatal(err)
	}
	e := next(t, tight, "over the app's max_message_size", isEvent(protocol.EventError, ""))
	if code, _ := errorData(t, e); code != protocol.CodeClientEventRejected {
		t.Errorf("oversized message: code %d, want 4301", code)
	}
	alive(t, tight, "tight")
	huge := h.raw(testserver.AppKey, "", nil)
	if err := huge.SendRaw([]byte(`{"event":"pusher:ping","data":"` + strings.Repeat("x", 100_000) + `"}`)); err != nil {
		t.Fatal(err)
	}
	if code := waitClosed(t, huge, 5*time.Second); code != 1009 {
		t.Errorf("100 KB frame: close code %d, want 1009", code)
	}

	floods(t, h)

	// Everyone else noticed nothing and still works.
	h.d.NeverAfter(mark, "a good client sees an error, a state change or a member change", 0, func(r jsdriver.Report) bool {
		return r.Type == "error" || r.Type == "state" || r.Type == "joining" || r.Type == "leaving" ||
			r.Event == "pusher:member_added" || r.Event == "pusher:member_removed"
	})
	h.trigger([]string{"feed"}, "after-the-storm", "calm")
	h.d.Wait("js still gets events", jsdriver.Event("js", "feed", "after-the-storm"))
	h.d.Wait("echo still gets events", jsdriver.Event("echo", "feed", "after-the-storm"))
}

// floods: thousands of messages from one socket are answered one by one
// and hold up no one else.
func floods(t *testing.T, h *harness) {
	t.Helper()
	var pongs, errs, subscribed, limited atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	flood, err := client.Dial(ctx, client.Options{URL: h.srv.WSURL, Key: testserver.AppKey, OnEvent: func(e client.Event) {
		switch e.Event {
		case protocol.EventPong:
			pongs.Add(1)
		case protocol.EventError:
			errs.Add(1)
		case protocol.EventSubscriptionSucceeded:
			subscribed.Add(1)
		case protocol.EventSubscriptionError:
			limited.Add(1)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer flood.Close()
	const n = 3000
	for i := 0; i < n; i++ {
		_ = flood.SendRaw([]byte(`{"event":"pusher:ping","data":{}}`))
		_ = flood.SendRaw([]byte(`not json at all`))
	}
	// One connection may hold 1000 channels; the 1001st is refused.
	for i := 0; i <= 1000; i++ {
		_ = flood.Subscribe("flood-"+strconv.Itoa(i), client.SubscribeOptions{})
	}
	eventually(t, "every flooded message answered", func() bool {
		return pongs.Load() == n && errs.Load() == n && subscribed.Load() == 1000 && limited.Load() == 1
	})
	select {
	case <-flood.Done():
		code, _ := flood.CloseCode()
		t.Fatalf("the flooding socket was closed (%d)", code)
	default:
	}
}

// TestSlowReaderIsDroppedAlone: a client that stops reading while a
// channel streams megabytes (a stalled tab, a dead mobile link) is closed
// with 4100 once its queue passes the limit; fast readers on the same
// channel get every event and other clients notice nothing.
func TestSlowReaderIsDroppedAlone(t *testing.T) {
	t.Parallel()
	h := start(t, editTestApp(func(a *config.App) { a.MaxEventSize = 64 << 10 }))
	h.connect("js", "pusher-js", nil)
	h.subscribe("js", "calm")
	mark := h.d.Mark()

	release := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	slow, err := client.Dial(ctx, client.Options{URL: h.srv.WSURL, Key: testserver.AppKey, OnEvent: func(client.Event) { <-release }})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	var fastCount atomic.Int64
	fast, err := client.Dial(ctx, client.Options{URL: h.srv.WSURL, Key: testserver.AppKey, OnEvent: func(e client.Event) {
		if e.Event == "chunk" {
			fastCount.Add(1)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	for _, c := range []*client.Client{slow, fast} {
		if err := c.Subscribe("storm", client.SubscribeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(ch string) int {
		var info struct {
			SubscriptionCount int `json:"subscription_count"`
		}
		h.ok("sdk.get", args{"path": "/channels/" + ch, "params": args{"info": "subscription_count"}}, &info)
		return info.SubscriptionCount
	}
	eventually(t, "both readers on storm", func() bool { return count("storm") == 2 })

	// 16 MB: far more than the 1 MiB queue plus what the kernel buffers.
	api := &client.API{BaseURL: h.srv.URL, AppID: testserver.AppID, Key: testserver.AppKey, Secret: testserver.AppSecret}
	chunk := strings.Repeat("x", 60<<10)
	const batches, perBatch = 28, 10
	for i := 0; i < batches; i++ {
		events := make([]client.TriggerEvent, perBatch)
		for j := range events {
			events[j] = client.TriggerEvent{Channel: "storm", Name: "chunk", Data: chunk}
		}
		if _, err := api.Batch(context.Background(), events); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	eventually(t, "the slow reader is dropped and the fast one has everything", func() bool {
		return count("storm") == 1 && fastCount.Load() == batches*perBatch
	})
	var conns struct{ Connections int }
	h.ok("sdk.get", args{"path": "/connections"}, &conns)
	if conns.Connections != 2 {
		t.Errorf("connections %d, want 2 (js and the fast reader)", conns.Connections)
	}
	// When the slow client reads again it finds the 4100 close (reconnect
	// after a back-off).
	close(release)
	if code := waitClosed(t, slow, 15*time.Second); code != protocol.CodeOverCapacity {
		t.Errorf("slow reader close code %d, want 4100", code)
	}
	h.trigger("calm", "still-calm", "yes")
	h.d.WaitAfter(mark, "js still gets events", jsdriver.Event("js", "calm", "still-calm"))
	h.d.NeverAfter(mark, "js is disturbed", 0, func(r jsdriver.Report) bool { return r.Type == "error" || r.Type == "state" })
}
