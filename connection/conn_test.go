package connection

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/metrics"
	"github.com/quaver-dev/quaver/protocol"
)

func TestHandshake(t *testing.T) {
	tests := []struct {
		name     string
		activity time.Duration
		want     int
	}{
		{"default activity timeout", 0, 30},
		{"configured activity timeout", 120 * time.Second, 120},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(a *apps.App, _ *Options) { a.ActivityTimeout = tt.activity })
			tr := &fakeTransport{}
			c, failure := h.hub.Admit(h.app, tr)
			if failure != nil {
				t.Fatal(failure)
			}
			tr.conn = c
			if got := tr.take(); len(got) != 0 {
				t.Fatalf("frames before Open: %q", jsons(got))
			}
			c.Open()
			frames := expectEvents(t, tr, protocol.EventConnectionEstablished)
			f := frames[0]
			if f.Kind != protocol.DataString || f.Channel != "" {
				t.Fatalf("connection_established must carry string data: %s", f.JSON)
			}
			var d struct {
				SocketID        string `json:"socket_id"`
				ActivityTimeout int    `json:"activity_timeout"`
			}
			if err := json.Unmarshal([]byte(f.Data), &d); err != nil {
				t.Fatal(err)
			}
			if d.SocketID != c.SocketID() || !socketIDPattern.MatchString(d.SocketID) || d.ActivityTimeout != tt.want {
				t.Fatalf("data %s for socket %s, want activity_timeout %d", f.Data, c.SocketID(), tt.want)
			}
			if h.hub.Lookup(c.SocketID()) != c || h.hub.Connections(testAppID) != 1 {
				t.Fatal("connection not indexed by the hub")
			}
		})
	}
}

func TestSocketIDsAreUnique(t *testing.T) {
	h := newHarness(t)
	seen := map[string]bool{}
	for range 1000 {
		c, _ := h.connect(t)
		if seen[c.SocketID()] || !socketIDPattern.MatchString(c.SocketID()) {
			t.Fatalf("socket id %q repeated or malformed", c.SocketID())
		}
		seen[c.SocketID()] = true
	}
}

func TestAdmitQuota(t *testing.T) {
	h := newHarness(t, func(a *apps.App, _ *Options) { a.MaxConnections = 2 })
	first, firstTransport := h.connect(t)
	h.connect(t)
	if _, failure := h.hub.Admit(h.app, &fakeTransport{}); failure != protocol.ErrOverQuota {
		t.Fatalf("third connection: %v, want ErrOverQuota (4004)", failure)
	}
	if n := h.hub.Connections(testAppID); n != 2 {
		t.Fatalf("Connections = %d after a refused admit, want 2", n)
	}
	first.TransportClosed("peer left")
	if got := firstTransport.closed(); got != nil {
		t.Fatalf("a transport that ended was asked to send a close: %+v", got)
	}
	h.connect(t)
}

func TestReceive(t *testing.T) {
	tests := []struct {
		name    string
		message string
		want    []string // events written in reply
		code    int      // pusher:error code when want is an error
	}{
		{"ping", `{"event":"pusher:ping","data":{}}`, []string{protocol.EventPong}, 0},
		{"ping without data", `{"event":"pusher:ping"}`, []string{protocol.EventPong}, 0},
		{"pong", `{"event":"pusher:pong","data":{}}`, nil, 0},
		{"invalid json", `{"event":`, []string{protocol.EventError}, protocol.CodeReconnect},
		{"no event", `{"data":{}}`, []string{protocol.EventError}, protocol.CodeReconnect},
		{"unknown pusher event", `{"event":"pusher:bogus","data":{}}`, []string{protocol.EventError}, protocol.CodeReconnect},
		{"unknown internal event", `{"event":"pusher_internal:member_added","data":{}}`, []string{protocol.EventError}, protocol.CodeReconnect},
		{"application event ignored", `{"event":"my-event","data":{}}`, nil, 0},
		{"subscribe without data", `{"event":"pusher:subscribe"}`, []string{protocol.EventError}, protocol.CodeReconnect},
		{"subscribe with array data", `{"event":"pusher:subscribe","data":["my-channel"]}`, []string{protocol.EventError}, protocol.CodeReconnect},
		{"unsubscribe with string data", `{"event":"pusher:unsubscribe","data":"my-channel"}`, []string{protocol.EventError}, protocol.CodeReconnect},
		{"too large", `{"event":"pusher:ping","data":"` + strings.Repeat("x", 10_000) + `"}`, []string{protocol.EventError}, protocol.CodeClientEventRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			c, tr := h.connect(t)
			c.Receive([]byte(tt.message))
			frames := expectEvents(t, tr, tt.want...)
			if tt.code != 0 {
				if d := decodeError(t, frames[0]); d.Code == nil || *d.Code != tt.code {
					t.Fatalf("error %s, want code %d", frames[0].JSON, tt.code)
				}
			}
			notClosed(t, c, tr)
			// The connection still works afterwards.
			send(t, c, protocol.EventPing, "", map[string]any{})
			expect(t, tr, `{"event":"pusher:pong","data":{}}`)
		})
	}
}

func TestReceiveBinary(t *testing.T) {
	h := newHarness(t)
	c, tr := h.connect(t)
	c.ReceiveBinary()
	expectError(t, tr, protocol.CodeReconnect, "")
	notClosed(t, c, tr)
}

func TestReceiveAfterClose(t *testing.T) {
	h := newHarness(t)
	c, tr := h.connect(t)
	c.TransportClosed("gone")
	send(t, c, protocol.EventPing, "", map[string]any{})
	subscribe(t, c, "my-channel", "")
	if got := tr.take(); len(got) != 0 {
		t.Fatalf("a closed connection answered: %q", jsons(got))
	}
	if n := h.registry.Count(testAppID, "my-channel"); n != 0 {
		t.Fatalf("a closed connection subscribed: Count %d", n)
	}
}

func TestHeartbeat(t *testing.T) {
	// Activity timeout 30 s (the default), pong timeout 10 s (harness).
	type step struct {
		at       int64 // seconds after connecting
		activity bool  // the client sends a message at this time
		want     string
	}
	const (
		nothing = ""
		ping    = protocol.EventPing
		closed  = "close 4201"
	)
	tests := []struct {
		name  string
		steps []step
	}{
		{"silent client is pinged then closed", []step{{29, false, nothing}, {30, false, ping}, {31, false, nothing}, {39, false, nothing}, {40, false, closed}}},
		{"pong keeps the connection", []step{{30, false, ping}, {35, true, nothing}, {45, false, nothing}, {64, false, nothing}, {65, false, ping}, {75, false, closed}}},
		{"activity before the timeout delays the ping", []step{{20, true, nothing}, {30, false, nothing}, {49, false, nothing}, {50, false, ping}}},
		{"answer after the pong timeout but before the check", []step{{30, false, ping}, {41, true, nothing}, {42, false, nothing}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			c, tr := h.connect(t)
			subscribe(t, c, "my-channel", "")
			tr.take()
			for _, s := range tt.steps {
				now := int64(startClock) + s.at
				h.hub.clock.Store(now)
				if s.activity {
					send(t, c, protocol.EventPong, "", map[string]any{})
				}
				h.hub.heartbeat(now)
				frames := tr.take()
				switch s.want {
				case nothing:
					if len(frames) != 0 || tr.closed() != nil {
						t.Fatalf("at %ds: frames %q, close %+v; want nothing", s.at, jsons(frames), tr.closed())
					}
				case ping:
					if got := jsons(frames); len(got) != 1 || got[0] != `{"event":"pusher:ping","data":{}}` {
						t.Fatalf("at %ds: frames %q, want a ping", s.at, got)
					}
				case closed:
					expectClosed(t, tr, protocol.CodePongTimeout)
					if n := h.registry.Count(testAppID, "my-channel"); n != 0 || h.hub.Lookup(c.SocketID()) != nil {
						t.Fatal("a timed-out connection was not cleaned up")
					}
				}
			}
		})
	}
}

// A client that stops reading while a stream runs falls past the soft
// limit: its tokens merge, it stays connected, and when it reads again it
// has exactly the producer's text, in fewer frames, with the other events
// where they were.
func TestSlowClientGetsMergedTokens(t *testing.T) {
	h := newHarness(t, func(_ *apps.App, o *Options) { o.OutboxSoftLimit, o.OutboxHardLimit = 500, 100_000 })
	c, tr := h.connect(t)
	subscribe(t, c, "my-channel", "")
	tr.take()
	tr.mu.Lock()
	tr.paused = true
	tr.mu.Unlock()

	var text strings.Builder
	for i := range 300 {
		d := fmt.Sprintf("w%d ", i)
		text.WriteString(d)
		h.registry.Broadcast(testAppID, "my-channel", tokenFrame("my-channel", `"s"`, int64(i), d, false), "")
		if i == 150 {
			h.registry.Broadcast(testAppID, "my-channel", protocol.NewFrame("tool-call", "my-channel", "{}", protocol.DataString, ""), "")
		}
	}
	h.registry.Broadcast(testAppID, "my-channel", tokenFrame("my-channel", `"s"`, 300, "", true), "")
	if c.isClosed() {
		t.Fatal("a client within the hard limit was closed")
	}
	tr.resume()
	frames := tr.take()
	var got strings.Builder
	seq, toolAt := int64(-1), -1
	for i, f := range frames {
		if f.Token == nil {
			toolAt = got.Len()
			continue
		}
		if f.Token.Seq <= seq {
			t.Fatalf("frame %d: seq %d after %d", i, f.Token.Seq, seq)
		}
		seq = f.Token.Seq
		got.WriteString(f.Token.Delta)
	}
	if got.String() != text.String() || seq != 300 {
		t.Fatalf("the client pieced together %q up to seq %d, want the producer's text up to 300", got.String(), seq)
	}
	if before := text.String()[:toolAt]; !strings.HasSuffix(before, "w150 ") {
		t.Fatalf("the tool-call event arrived after %q, want right after token 150", before[max(0, len(before)-20):])
	}
	if len(frames) > 60 {
		t.Fatalf("%d frames for 301 tokens: the tokens were not merged", len(frames))
	}
}

func TestOutboxOverflowCloses(t *testing.T) {
	h := newHarness(t, func(_ *apps.App, o *Options) { o.OutboxHardLimit = 1000 })
	c, tr := h.connect(t)
	subscribe(t, c, "my-channel", "")
	tr.take()
	tr.mu.Lock()
	tr.paused = true // the peer stops reading
	tr.mu.Unlock()

	f := protocol.NewFrame("e", "my-channel", strings.Repeat("x", 200), protocol.DataString, "")
	sent := 0
	for h.registry.Broadcast(testAppID, "my-channel", f, "") == 1 {
		sent++
		if sent > 10 {
			t.Fatal("the outbox grew past its limit")
		}
	}
	if sent*f.Size() > 1000 || (sent+1)*f.Size() <= 1000 {
		t.Fatalf("%d frames of %d bytes queued before overflow, limit 1000", sent, f.Size())
	}
	eventually(t, "the slow connection is closed", c.isClosed)
	eventually(t, "the slow connection leaves its channels", func() bool { return h.registry.Count(testAppID, "my-channel") == 0 })
	tr.resume()
	// What it had queued is dropped; it learns why it is closed.
	expect(t, tr, string(protocol.ErrorFrame(protocol.CodeOverCapacity, protocol.ErrSlowConsumer.Message, "").JSON))
	expectClosed(t, tr, protocol.CodeOverCapacity)
}

// TestNoteStalled: a socket that took nothing for the write timeout is cut
// as a slow consumer, counted once like one past the hard limit however
// many times its cut is reported.
func TestNoteStalled(t *testing.T) {
	m := metrics.New()
	h := newHarness(t, func(_ *apps.App, o *Options) { o.Metrics = m })
	c, _ := h.connect(t)
	c.noteStalled(10 * time.Second)
	c.noteStalled(10 * time.Second)
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if want := `quaver_slow_consumer_closes_total{app="` + testAppID + `"} 1`; !strings.Contains(rec.Body.String(), want) {
		t.Fatalf("metrics lack %s", want)
	}
}

func TestOutboxTakeBatches(t *testing.T) {
	h := newHarness(t)
	tr := &fakeTransport{paused: true}
	c, _ := h.hub.Admit(h.app, tr)
	tr.conn = c
	f := protocol.NewFrame("e", "", strings.Repeat("x", 100), protocol.DataString, "")
	for range 10 {
		c.Send(f)
	}
	if tr.wakes != 1 {
		t.Fatalf("woken %d times for one idle period, want 1", tr.wakes)
	}
	batch, closing := c.Take(nil, 3*f.Size())
	if len(batch) != 3 || closing != nil {
		t.Fatalf("took %d frames (close %+v), want 3 within the byte limit", len(batch), closing)
	}
	batch, _ = c.Take(nil, 1)
	if len(batch) != 1 {
		t.Fatalf("took %d frames with a tiny limit, want at least one", len(batch))
	}
	batch, _ = c.Take(nil, 1<<20)
	if len(batch) != 6 {
		t.Fatalf("took %d frames, want the remaining 6", len(batch))
	}
	if batch, closing = c.Take(nil, 1<<20); len(batch) != 0 || closing != nil {
		t.Fatal("an empty outbox handed out something")
	}
	c.Send(f)
	if tr.wakes != 2 {
		t.Fatalf("a send after the writer went idle must wake it: %d wakes", tr.wakes)
	}
}

func TestCloseWith(t *testing.T) {
	tests := []struct {
		name      string
		err       *protocol.Error
		flush     bool
		busy      bool // the writer is busy (frames queued, not yet taken)
		wantQueue bool // queued frames go out before the pusher:error
	}{
		{"flush with an idle writer", protocol.ErrTerminated, true, false, false},
		{"flush with a busy writer", protocol.ErrShuttingDown, true, true, true},
		{"no flush with an idle writer", protocol.ErrPongTimeout, false, false, false},
		{"no flush with a busy writer", protocol.ErrSlowConsumer, false, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			c, tr := h.connect(t)
			queued := protocol.NewFrame("queued", "", "", protocol.DataNone, "")
			if tt.busy {
				tr.mu.Lock()
				tr.paused = true
				tr.mu.Unlock()
				c.Send(queued)
			}
			c.CloseWith(tt.err, tt.flush)
			c.CloseWith(protocol.ErrAppDisabled, true) // only the first close counts
			if tt.busy {
				tr.resume()
			}
			var want []string
			if tt.wantQueue {
				want = append(want, string(queued.JSON))
			}
			want = append(want, string(protocol.ErrorFrame(tt.err.Code, tt.err.Message, "").JSON))
			expect(t, tr, want...)
			expectClosed(t, tr, tt.err.Code)
			if c.Send(queued) {
				t.Fatal("Send accepted a frame after the close")
			}
			if h.hub.Lookup(c.SocketID()) != nil || h.hub.Connections(testAppID) != 0 {
				t.Fatal("closed connection still in the hub")
			}
		})
	}
}

func TestTerminate(t *testing.T) {
	h := newHarness(t)
	signedIn, signedInTransport := h.connect(t)
	send(t, signedIn, protocol.EventSignin, "", signinData(signedIn, `{"id":"u1"}`))
	expectEvents(t, signedInTransport, protocol.EventSigninSuccess)
	present, presentTransport := h.connect(t)
	subscribe(t, present, "presence-room", member("u1", "Alice"))
	presentTransport.take()
	other, otherTransport := h.connect(t)
	subscribe(t, other, "presence-room", member("u2", "Bob"))
	otherTransport.take()
	expectEvents(t, presentTransport, protocol.EventMemberAdded)

	if n := h.hub.Terminate(testAppID, "u1"); n != 2 {
		t.Fatalf("Terminate closed %d connections, want 2", n)
	}
	for _, tr := range []*fakeTransport{signedInTransport, presentTransport} {
		expectError(t, tr, protocol.CodeUnauthorized, "")
		expectClosed(t, tr, protocol.CodeUnauthorized)
	}
	notClosed(t, other, otherTransport)
	expectEvents(t, otherTransport, protocol.EventMemberRemoved)
	if n := h.hub.Terminate(testAppID, "u1"); n != 0 {
		t.Fatalf("second Terminate closed %d", n)
	}
	if n := h.hub.Terminate("other-app", "u2"); n != 0 {
		t.Fatalf("Terminate of another app closed %d", n)
	}
}

// TestCloseCleansUp closes a connection that is in every kind of channel
// and signed in, and checks nothing of it is left anywhere.
func TestCloseCleansUp(t *testing.T) {
	closers := []struct {
		name  string
		close func(c *Conn)
	}{
		{"transport closed", func(c *Conn) { c.TransportClosed("peer went away") }},
		{"closed by the server", func(c *Conn) { c.CloseWith(protocol.ErrShuttingDown, true) }},
		{"closed without flush", func(c *Conn) { c.CloseWith(protocol.ErrPongTimeout, false) }},
	}
	for _, tt := range closers {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			c, tr := h.connect(t)
			watcher, watcherTransport := h.connect(t)
			subscribe(t, watcher, "presence-room", member("u2", "Bob"))
			send(t, c, protocol.EventSignin, "", signinData(c, `{"id":"u1"}`))
			for _, ch := range []string{"my-channel", "private-chat.1", "private-encrypted-x", "cache-x", "#server-to-user-u1"} {
				subscribe(t, c, ch, "")
			}
			subscribe(t, c, "presence-room", member("u1", "Alice"))
			subscribe(t, c, "presence-lobby", member("u1", "Alice"))
			tr.take()
			watcherTransport.take()
			if n := h.registry.Count(testAppID, "presence-room"); n != 2 {
				t.Fatalf("setup: presence-room has %d subscribers", n)
			}

			tt.close(c)

			for ch := range h.registry.Channels(testAppID, "") {
				if ch != "presence-room" {
					t.Errorf("channel %s still has subscribers", ch)
				}
			}
			if n := h.registry.Count(testAppID, "presence-room"); n != 1 {
				t.Errorf("presence-room has %d subscribers, want the watcher only", n)
			}
			for ch, want := range map[string]int{"presence-room": 1, "presence-lobby": 0} {
				if n, _ := h.presence.Count(context.Background(), testAppID, ch); n != want {
					t.Errorf("presence count of %s = %d, want %d", ch, n, want)
				}
			}
			h.hub.users.mu.Lock()
			users := len(h.hub.users.conns)
			h.hub.users.mu.Unlock()
			if users != 1 { // the watcher, as u2
				t.Errorf("user index holds %d users, want 1", users)
			}
			if h.hub.Lookup(c.SocketID()) != nil || h.hub.Connections(testAppID) != 1 {
				t.Error("connection still in the hub")
			}
			expect(t, watcherTransport, `{"event":"pusher_internal:member_removed","channel":"presence-room","data":"{\"user_id\":\"u1\"}"}`)
			watcher.TransportClosed("done")
			if n, _ := h.presence.Count(context.Background(), testAppID, "presence-room"); n != 0 || h.hub.Connections(testAppID) != 0 {
				t.Errorf("after the last close: presence %d, connections %d", n, h.hub.Connections(testAppID))
			}
		})
	}
}

func TestShutdown(t *testing.T) {
	h := newHarness(t)
	var transports []*fakeTransport
	for range 5 {
		c, tr := h.connect(t)
		subscribe(t, c, "my-channel", "")
		tr.take()
		transports = append(transports, tr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.hub.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tr := range transports {
		expectError(t, tr, protocol.CodeReconnect, "")
		expectClosed(t, tr, protocol.CodeReconnect)
	}
	if _, failure := h.hub.Admit(h.app, &fakeTransport{}); failure != protocol.ErrShuttingDown {
		t.Fatalf("Admit during shutdown: %v", failure)
	}
	if n := h.registry.Count(testAppID, "my-channel"); n != 0 {
		t.Fatalf("Count %d after shutdown", n)
	}
}

func TestShutdownTimesOut(t *testing.T) {
	h := newHarness(t)
	c, _ := h.connect(t)
	// A connection whose cleanup has not run (it is stuck) keeps Shutdown
	// waiting until its context ends.
	c.once.Do(func() {})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := h.hub.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the context's deadline", err)
	}
}

// TestBlockingWriteRenewsItsDeadline: the blocking writer (TLS, or a full
// socket) keeps a peer that reads slowly but steadily; it cuts one that
// stops reading.
func TestBlockingWriteRenewsItsDeadline(t *testing.T) {
	const timeout = 300 * time.Millisecond
	read := func(peer net.Conn, every time.Duration, total int) int {
		got := 0
		buf := make([]byte, 16<<10)
		for got < total {
			time.Sleep(every)
			_ = peer.SetReadDeadline(time.Now().Add(time.Second))
			n, err := io.ReadFull(peer, buf[:min(len(buf), total-got)])
			got += n
			if err != nil {
				break
			}
		}
		return got
	}
	for _, tt := range []struct {
		name    string
		every   time.Duration // the peer reads 16 KiB (a TLS record) this often
		wantCut bool
	}{
		{"a chunk every 100 ms", 100 * time.Millisecond, false},
		{"a chunk every 600 ms", 600 * time.Millisecond, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := metrics.New()
			h := newHarness(t, func(_ *apps.App, o *Options) { o.Metrics = m })
			c, _ := h.connect(t)
			server, peer := net.Pipe()
			defer peer.Close()
			tr := &wsTransport{net: server, conn: c}
			const total = 64 << 10 // 400 ms at the slow rate, more than the timeout
			done := make(chan struct{})
			go func() { defer close(done); tr.flushBlocking(make([]byte, total), timeout) }()
			got := read(peer, tt.every, total)
			<-done
			if cut := c.isClosed(); cut != tt.wantCut {
				t.Fatalf("closed %v after the peer read %d of %d bytes, want %v", cut, got, total, tt.wantCut)
			}
			if !tt.wantCut && got != total {
				t.Fatalf("the peer read %d of %d bytes", got, total)
			}
			if rec := httptest.NewRecorder(); tt.wantCut {
				m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
				if want := `quaver_slow_consumer_closes_total{app="` + testAppID + `"} 1`; !strings.Contains(rec.Body.String(), want) {
					t.Fatalf("metrics lack %s", want)
				}
			}
		})
	}
}

// TestRememberCoveredAtItsBound: a snapshot with more streams than a
// connection remembers fills the memory to its bound, and the connection
// knows it has streams to check.
func TestRememberCoveredAtItsBound(t *testing.T) {
	h := newHarness(t)
	c, _ := h.connect(t)
	tokens := make(map[string]int64, maxCovered+1)
	for i := range maxCovered + 1 {
		tokens[strconv.Itoa(i)] = 1
	}
	c.holdMu.Lock()
	c.rememberCovered("private-ai", tokens)
	n := len(c.covered)
	c.holdMu.Unlock()
	if n != maxCovered || !c.hasCovered.Load() {
		t.Fatalf("%d streams remembered (hasCovered %v), want %d and true", n, c.hasCovered.Load(), maxCovered)
	}
}
