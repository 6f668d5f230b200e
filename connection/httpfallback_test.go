package connection

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/protocol"
)

// fallbackTest is a hub with the HTTP fallback endpoint on a test server,
// and a client speaking the transport as pusher-js does.
type fallbackTest struct {
	t   *testing.T
	h   *harness
	f   *HTTPFallback
	srv *httptest.Server
}

func newFallbackTest(t *testing.T, o HTTPFallbackOptions, configure ...func(*apps.App, *Options)) *fallbackTest {
	t.Helper()
	h := newHarness(t, configure...)
	if o.Heartbeat == 0 {
		o.Heartbeat = time.Minute
	}
	if o.SessionTimeout == 0 {
		o.SessionTimeout = 200 * time.Millisecond
	}
	f := NewHTTPFallback(h.hub, o)
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return &fallbackTest{t: t, h: h, f: f, srv: srv}
}

// url is a request URL of a session as pusher-js builds it.
func (ft *fallbackTest) url(session, kind string) string {
	u := ft.srv.URL + "/pusher/app/" + testKey + "/123/" + session + "/" + kind
	if kind == "xhr_send" {
		return u + "?t=1&n=1"
	}
	return u + "?protocol=7&client=js&version=8.6.0&t=1&n=1"
}

func (ft *fallbackTest) request(ctx context.Context, method, url, body string, header http.Header) *http.Response {
	ft.t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		ft.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := ft.srv.Client().Do(req)
	if err != nil {
		ft.t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp
}

// stream is an open xhr_streaming response, read line by line.
type stream struct {
	t      *testing.T
	resp   *http.Response
	lines  chan string
	cancel context.CancelFunc
	chars  int // UTF-16 units read, as pusher-js counts them
}

func (ft *fallbackTest) openStream(session string, header http.Header) *stream {
	ft.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	resp := ft.request(ctx, http.MethodPost, ft.url(session, "xhr_streaming"), "", header)
	s := &stream{t: ft.t, resp: resp, lines: make(chan string, 1024), cancel: cancel}
	ft.t.Cleanup(s.abort)
	go func() {
		defer close(s.lines)
		r := bufio.NewReaderSize(resp.Body, 1<<20)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			s.lines <- strings.TrimSuffix(line, "\n")
		}
	}()
	return s
}

// next returns the next line; "" once the response has ended.
func (s *stream) next() string {
	s.t.Helper()
	select {
	case line, ok := <-s.lines:
		if !ok {
			return ""
		}
		s.chars += utf16Length([]byte(line)) + 1
		return line
	case <-time.After(5 * time.Second):
		s.t.Fatal("no line within 5s")
		return ""
	}
}

// quiet fails if a line arrives within d.
func (s *stream) quiet(d time.Duration) {
	s.t.Helper()
	select {
	case line, ok := <-s.lines:
		if ok {
			s.t.Fatalf("unexpected line %.200q", line)
		}
	case <-time.After(d):
	}
}

// abort ends the request as pusher-js does: it just goes away.
func (s *stream) abort() {
	s.cancel()
	_ = s.resp.Body.Close()
}

// poll runs one xhr request and returns its lines.
func (ft *fallbackTest) poll(ctx context.Context, session string) []string {
	ft.t.Helper()
	resp := ft.request(ctx, http.MethodPost, ft.url(session, "xhr"), "", nil)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		ft.t.Fatalf("poll: %d %v", resp.StatusCode, err)
	}
	return strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
}

// send posts messages to xhr_send and returns the status.
func (ft *fallbackTest) send(session string, messages ...any) int {
	ft.t.Helper()
	list := []string{}
	for _, m := range messages {
		b, _ := json.Marshal(m)
		list = append(list, string(b))
	}
	body, _ := json.Marshal(list)
	resp := ft.request(context.Background(), http.MethodPost, ft.url(session, "xhr_send"), string(body), nil)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// decodeLine returns the Pusher messages of an "a[...]" line.
func decodeLine(t *testing.T, line string) []map[string]any {
	t.Helper()
	if !strings.HasPrefix(line, "a") {
		t.Fatalf("line %.200q is not an array", line)
	}
	var texts []string
	if err := json.Unmarshal([]byte(line[1:]), &texts); err != nil {
		t.Fatalf("line %.200q: %v", line, err)
	}
	out := make([]map[string]any, len(texts))
	for i, text := range texts {
		if err := json.Unmarshal([]byte(text), &out[i]); err != nil {
			t.Fatalf("element %.200q is not a Pusher message: %v", text, err)
		}
	}
	return out
}

// nextEvents reads the next line and returns its event names.
func (s *stream) nextEvents() []string {
	s.t.Helper()
	var names []string
	for _, m := range decodeLine(s.t, s.next()) {
		names = append(names, m["event"].(string))
	}
	return names
}

// socketID reads connection_established from a line.
func socketID(t *testing.T, line string) string {
	t.Helper()
	m := decodeLine(t, line)
	if len(m) == 0 || m[0]["event"] != protocol.EventConnectionEstablished {
		t.Fatalf("line %q is not connection_established", line)
	}
	var d struct {
		SocketID string `json:"socket_id"`
	}
	_ = json.Unmarshal([]byte(m[0]["data"].(string)), &d)
	return d.SocketID
}

func subscribeMessage(channel string, data map[string]any) map[string]any {
	if data == nil {
		data = map[string]any{"channel": channel, "auth": ""}
	}
	return map[string]any{"event": protocol.EventSubscribe, "data": data}
}

// A streaming session speaks pusher-js's framing over one long response:
// o, then every frame as a[...], heartbeats when idle, and its messages
// come in through xhr_send.
func TestFallbackStreaming(t *testing.T) {
	ft := newFallbackTest(t, HTTPFallbackOptions{Heartbeat: 300 * time.Millisecond})
	s := ft.openStream("abcdefgh", nil)
	if s.resp.StatusCode != 200 || s.resp.Header.Get("X-Accel-Buffering") != "no" ||
		!strings.Contains(s.resp.Header.Get("Cache-Control"), "no-store") {
		t.Fatalf("response %d %v", s.resp.StatusCode, s.resp.Header)
	}
	if line := s.next(); line != "o" {
		t.Fatalf("first line %q, want o", line)
	}
	id := socketID(t, s.next())
	if c := ft.h.hub.Lookup(id); c == nil || c.transport.Name() != NameXHRStreaming {
		t.Fatalf("socket %s not in the hub as xhr_streaming", id)
	}
	if got := ft.h.hub.ConnectionsByTransport(); got[NameXHRStreaming] != 1 || got["ws"] != 0 {
		t.Fatalf("connections by transport %v", got)
	}

	if status := ft.send("abcdefgh", subscribeMessage("news", nil)); status != http.StatusNoContent {
		t.Fatalf("xhr_send answered %d", status)
	}
	if got := s.nextEvents(); len(got) != 1 || got[0] != protocol.EventSubscriptionSucceeded {
		t.Fatalf("after subscribe: %v", got)
	}
	for i := range 3 {
		ft.h.registry.Broadcast(testAppID, "news", protocol.NewFrame("story", "news", strconv.Itoa(i), protocol.DataString, ""), "")
	}
	var data []string
	for len(data) < 3 {
		for _, m := range decodeLine(t, s.next()) {
			data = append(data, m["data"].(string))
		}
	}
	if strings.Join(data, ",") != "0,1,2" {
		t.Fatalf("story data %v", data)
	}

	// Idle, the stream carries heartbeats.
	for range 2 {
		start := time.Now()
		if line := s.next(); line != "h" || time.Since(start) < 200*time.Millisecond {
			t.Fatalf("idle line %q after %v, want h after the heartbeat", line, time.Since(start))
		}
	}
}

// pusher-js pings an HTTP transport by posting [] and wants any frame back
// within its pong timeout: a ping after a quiet spell is answered at once
// with h, while the [] that answers a heartbeat is not answered again (or
// client and server would ping-pong forever). pusher:ping gets pusher:pong.
func TestFallbackPong(t *testing.T) {
	ft := newFallbackTest(t, HTTPFallbackOptions{Heartbeat: time.Minute})
	s := ft.openStream("pong0000", nil)
	s.next()
	s.next()
	time.Sleep(pongAfter + 50*time.Millisecond)
	start := time.Now()
	ft.send("pong0000")
	if line := s.next(); line != "h" || time.Since(start) > 250*time.Millisecond {
		t.Fatalf("pong %q after %v", line, time.Since(start))
	}
	ft.send("pong0000")
	s.quiet(150 * time.Millisecond)

	ft.send("pong0000", map[string]any{"event": protocol.EventPing, "data": map[string]any{}})
	if got := s.nextEvents(); len(got) != 1 || got[0] != protocol.EventPong {
		t.Fatalf("after pusher:ping: %v", got)
	}
}

// pusher-js aborts a stream once it has read 256 KiB and continues the
// session on a new request: the server stops writing at that point, sends
// no second "o", and the new request gets everything that came meanwhile,
// in order, nothing lost and nothing twice.
func TestFallbackRollover(t *testing.T) {
	ft := newFallbackTest(t, HTTPFallbackOptions{}, func(_ *apps.App, o *Options) { o.OutboxHardLimit = 4 << 20 })
	s := ft.openStream("roll0000", nil)
	s.next()
	id := socketID(t, s.next())
	ft.send("roll0000", subscribeMessage("private-burst", subscribeData(ft.h.hub.Lookup(id), "private-burst", "")))
	s.nextEvents()

	// 60 events of ~20 KB, each with non-ASCII text so that bytes and
	// UTF-16 units differ (é is 2 bytes and 1 unit, 😀 4 bytes and 2 units).
	const events = 60
	chunk := strings.Repeat("aé😀", 2000)
	for i := range events {
		data := strconv.Itoa(i) + ":" + chunk
		ft.h.registry.Broadcast(testAppID, "private-burst", protocol.NewFrame("burst", "private-burst", data, protocol.DataString, ""), "")
	}
	var got []int
	read := func(s *stream, stopAtRollover bool) {
		for len(got) < events {
			for _, m := range decodeLine(t, s.next()) {
				n, _ := strconv.Atoi(strings.SplitN(m["data"].(string), ":", 2)[0])
				got = append(got, n)
			}
			if stopAtRollover && s.chars > rolloverChars {
				return
			}
		}
	}
	read(s, true)
	if len(got) == events {
		t.Fatal("the whole burst fitted in one response; make it bigger")
	}
	// Past 256 KiB the server writes nothing more on this response.
	s.quiet(200 * time.Millisecond)
	s.abort()

	s2 := ft.openStream("roll0000", nil)
	read(s2, false)
	for i, n := range got {
		if n != i {
			t.Fatalf("event %d arrived as number %d: %v", i, n, got)
		}
	}
	if c := ft.h.hub.Lookup(id); c == nil || c.isClosed() {
		t.Fatal("the session's connection did not survive the roll-over")
	}
	s2.quiet(100 * time.Millisecond)
}

// Long polling: the first poll opens, later polls are held until there is
// data, answered with h after the heartbeat, and a newer poll answers the
// held one.
func TestFallbackPolling(t *testing.T) {
	ft := newFallbackTest(t, HTTPFallbackOptions{Heartbeat: 300 * time.Millisecond})
	ctx := t.Context()
	first := ft.poll(ctx, "poll0000")
	if len(first) != 2 || first[0] != "o" {
		t.Fatalf("first poll %q", first)
	}
	id := socketID(t, first[1])
	if c := ft.h.hub.Lookup(id); c == nil || c.transport.Name() != NameXHRPolling {
		t.Fatalf("socket %s not in the hub as xhr_polling", id)
	}

	// A held poll is answered when a frame comes.
	answer := make(chan []string, 1)
	go func() { answer <- ft.poll(ctx, "poll0000") }()
	eventually(t, "the poll is held", func() bool {
		s := ft.f.lookup(ft.h.app.Key + "/123/poll0000")
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.receiver != nil
	})
	ft.send("poll0000", subscribeMessage("news", nil))
	lines := <-answer
	if len(lines) != 1 || !strings.Contains(lines[0], protocol.EventSubscriptionSucceeded) {
		t.Fatalf("held poll answered %q", lines)
	}

	// Nothing to say: h after the heartbeat.
	start := time.Now()
	if lines := ft.poll(ctx, "poll0000"); len(lines) != 1 || lines[0] != "h" || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("idle poll answered %q after %v", lines, time.Since(start))
	}

	// A second poll answers the first one with h at once and takes over.
	go func() { answer <- ft.poll(ctx, "poll0000") }()
	time.Sleep(50 * time.Millisecond)
	go func() { answer <- ft.poll(ctx, "poll0000") }()
	select {
	case lines := <-answer:
		if len(lines) != 1 || lines[0] != "h" {
			t.Fatalf("older poll answered %q", lines)
		}
	case <-time.After(200 * time.Millisecond):
		t.Fatal("the older poll was not answered when a newer one came")
	}
	ft.h.registry.Broadcast(testAppID, "news", protocol.NewFrame("story", "news", "x", protocol.DataString, ""), "")
	if lines := <-answer; len(lines) != 1 || !strings.Contains(lines[0], "story") {
		t.Fatalf("newer poll answered %q", lines)
	}
}

// A session with no receive request attached expires and is cleaned up
// as a dropped WebSocket: presence members see member_removed, counts drop,
// and the session is unknown afterwards.
func TestFallbackExpiry(t *testing.T) {
	ft := newFallbackTest(t, HTTPFallbackOptions{SessionTimeout: 300 * time.Millisecond})
	watcher, tr := ft.h.connect(t)
	subscribe(t, watcher, "presence-room", member("w", "Watcher"))
	tr.take()

	s := ft.openStream("gone0000", nil)
	s.next()
	id := socketID(t, s.next())
	ft.send("gone0000", subscribeMessage("presence-room", subscribeData(ft.h.hub.Lookup(id), "presence-room", member("u", "User"))))
	s.nextEvents()
	eventually(t, "member_added", func() bool { return len(tr.take()) == 1 })

	s.abort()
	start := time.Now()
	eventually(t, "member_removed", func() bool {
		for _, f := range tr.take() {
			if f.Event == protocol.EventMemberRemoved {
				return true
			}
		}
		return false
	})
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Fatalf("expired after %v, before the session timeout", d)
	}
	if ft.h.hub.Lookup(id) != nil || ft.h.hub.Connections(testAppID) != 1 || ft.f.Sessions() != 0 {
		t.Fatalf("not cleaned up: %d connections, %d sessions", ft.h.hub.Connections(testAppID), ft.f.Sessions())
	}
	if status := ft.send("gone0000", subscribeMessage("news", nil)); status != http.StatusNotFound {
		t.Fatalf("send to an expired session: %d, want 404", status)
	}
}

// A roll-over gap shorter than the session timeout keeps the session.
func TestFallbackReattachKeepsSession(t *testing.T) {
	ft := newFallbackTest(t, HTTPFallbackOptions{SessionTimeout: 300 * time.Millisecond})
	s := ft.openStream("keep0000", nil)
	s.next()
	id := socketID(t, s.next())
	for range 5 {
		s.abort()
		time.Sleep(100 * time.Millisecond)
		s = ft.openStream("keep0000", nil)
		s.quiet(20 * time.Millisecond) // no second o
	}
	if ft.h.hub.Lookup(id) == nil {
		t.Fatal("session lost although a request came back within the timeout")
	}
}

// A close from the server is a c[code,"reason"] line after the
// pusher:error, and ends the response and the session.
func TestFallbackServerClose(t *testing.T) {
	ft := newFallbackTest(t, HTTPFallbackOptions{})
	s := ft.openStream("shut0000", nil)
	s.next()
	id := socketID(t, s.next())
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := ft.h.hub.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown did not finish: %v", err)
	}
	if got := s.nextEvents(); len(got) != 1 || got[0] != protocol.EventError {
		t.Fatalf("before the close: %v", got)
	}
	if line := s.next(); line != `c[4200,"Server is shutting down, reconnect"]` {
		t.Fatalf("close line %q", line)
	}
	if line := s.next(); line != "" {
		t.Fatalf("after the close %q, want the end", line)
	}
	if ft.h.hub.Lookup(id) != nil || ft.f.Sessions() != 0 {
		t.Fatal("session kept after its close")
	}
	// While shutting down, a new session is refused with 4200.
	s = ft.openStream("late0000", nil)
	if got := []string{s.next(), s.next(), s.next()}; got[0] != "o" || !strings.HasPrefix(got[2], "c[4200,") {
		t.Fatalf("late session %q", got)
	}
}

// Handshake failures are answered as pusher-js reads them: o, pusher:error,
// c[code,...]; requests this node cannot serve get plain HTTP errors.
func TestFallbackRefusals(t *testing.T) {
	ft := newFallbackTest(t, HTTPFallbackOptions{}, func(a *apps.App, _ *Options) {
		a.AllowedOrigins = []string{"good.example"}
		a.MaxConnections = 1
	})
	refused := func(url string, header http.Header) string {
		resp := ft.request(t.Context(), http.MethodPost, url, "", header)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		lines := strings.Split(strings.TrimSpace(string(body)), "\n")
		if resp.StatusCode != 200 || len(lines) != 3 || lines[0] != "o" || !strings.Contains(lines[1], protocol.EventError) {
			t.Fatalf("%s: %d %q", url, resp.StatusCode, body)
		}
		return lines[2]
	}
	base := ft.srv.URL + "/pusher/app/"
	for _, tt := range []struct {
		name, url, origin, want string
	}{
		{"unknown app", base + "nope/1/aaaa/xhr_streaming?protocol=7", "", `c[4001,"Application does not exist"]`},
		{"no protocol", base + testKey + "/1/aaaa/xhr", "", `c[4008,"No protocol version supplied"]`},
		{"old protocol", base + testKey + "/1/aaaa/xhr?protocol=4", "", `c[4007,"Unsupported protocol version"]`},
		{"origin", base + testKey + "/1/aaaa/xhr_streaming?protocol=7", "https://evil.example", `c[4009,"Origin not allowed"]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			if got := refused(tt.url, h); got != tt.want {
				t.Fatalf("close %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("quota", func(t *testing.T) {
		s := ft.openStream("quota000", nil)
		s.next()
		if got := refused(ft.url("quota001", "xhr"), nil); got != `c[4004,"Application is over connection quota"]` {
			t.Fatalf("close %q", got)
		}
	})
	for _, tt := range []struct {
		name, method, path string
		want               int
	}{
		{"send to an unknown session", http.MethodPost, "/pusher/app/" + testKey + "/1/zzzz/xhr_send", 404},
		{"unknown kind", http.MethodPost, "/pusher/app/" + testKey + "/1/zzzz/jsonp", 404},
		{"bad server part", http.MethodPost, "/pusher/app/" + testKey + "/x1/zzzz/xhr", 404},
		{"bad session part", http.MethodPost, "/pusher/app/" + testKey + "/1/a.b/xhr", 404},
		{"method", http.MethodPut, "/pusher/app/" + testKey + "/1/zzzz/xhr", 405},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := ft.request(t.Context(), tt.method, ft.srv.URL+tt.path, "", nil)
			_ = resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("%s %s: %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
			}
		})
	}
}

// Browsers: preflights and responses carry CORS headers for the page's
// origin; sends are accepted only from origins the app allows.
func TestFallbackCORS(t *testing.T) {
	ft := newFallbackTest(t, HTTPFallbackOptions{}, func(a *apps.App, _ *Options) {
		a.AllowedOrigins = []string{"*.good.example"}
	})
	good := http.Header{"Origin": {"https://app.good.example"}}
	preflight := func(kind string, origin string) *http.Response {
		h := http.Header{"Origin": {origin}, "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"content-type"}}
		resp := ft.request(t.Context(), http.MethodOptions, ft.url("cors0000", kind), "", h)
		_ = resp.Body.Close()
		return resp
	}
	for _, kind := range []string{"xhr_streaming", "xhr", "xhr_send"} {
		resp := preflight(kind, "https://app.good.example")
		if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.good.example" ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "POST") ||
			!strings.EqualFold(resp.Header.Get("Access-Control-Allow-Headers"), "content-type") {
			t.Fatalf("preflight %s: %d %v", kind, resp.StatusCode, resp.Header)
		}
	}
	if resp := preflight("xhr_send", "https://evil.example"); resp.StatusCode != 403 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight of a send from a foreign origin: %d %v", resp.StatusCode, resp.Header)
	}

	s := ft.openStream("cors0000", good)
	if got := s.resp.Header.Get("Access-Control-Allow-Origin"); got != "https://app.good.example" {
		t.Fatalf("stream Access-Control-Allow-Origin %q", got)
	}
	s.next()
	s.next()
	resp := ft.request(t.Context(), http.MethodPost, ft.url("cors0000", "xhr_send"), `[]`, http.Header{"Origin": {"https://evil.example"}})
	_ = resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("send from a foreign origin: %d", resp.StatusCode)
	}
	resp = ft.request(t.Context(), http.MethodPost, ft.url("cors0000", "xhr_send"), `[]`, good)
	_ = resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.good.example" {
		t.Fatalf("send from the page: %d %v", resp.StatusCode, resp.Header)
	}
}

// An xhr_send larger than any message may be closes the session with
// 1009, as an oversized WebSocket message does; a body that is not a JSON
// array of strings is answered 400 and changes nothing.
func TestFallbackSendLimits(t *testing.T) {
	ft := newFallbackTest(t, HTTPFallbackOptions{MaxMessageSize: 1000})
	s := ft.openStream("big00000", nil)
	s.next()
	s.next()
	resp := ft.request(t.Context(), http.MethodPost, ft.url("big00000", "xhr_send"), `{"not":"an array"}`, nil)
	_ = resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("malformed send: %d", resp.StatusCode)
	}
	if status := ft.send("big00000", map[string]any{"event": "client-x", "data": strings.Repeat("x", 5000)}); status != 413 {
		t.Fatalf("oversized send: %d", status)
	}
	if line := s.next(); line != `c[1009,"message too big"]` {
		t.Fatalf("close %q", line)
	}
}

func TestUTF16Length(t *testing.T) {
	for _, tt := range []struct {
		text string
		want int
	}{
		{"", 0}, {"abc", 3}, {"é", 1}, {"€", 1}, {"😀", 2}, {"a😀é\n", 5},
	} {
		if got := utf16Length([]byte(tt.text)); got != tt.want {
			t.Errorf("utf16Length(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
}

func TestParsePath(t *testing.T) {
	for _, tt := range []struct {
		path string
		ok   bool
		id   string
	}{
		{"/pusher/app/key/160/2475h5ln/xhr_streaming", true, "key/160/2475h5ln"},
		{"/reverb/x/app/key/0/a/xhr_send", true, "key/0/a"},
		{"/pusher/app/key/1000/a/xhr", false, ""},
		{"/pusher/apps/key/1/a/xhr", false, ""},
		{"/pusher/app//1/a/xhr", false, ""},
		{"app/key/1/a/xhr_polling", false, ""},
	} {
		req, ok := parsePath(tt.path)
		if ok != tt.ok || req.id != tt.id {
			t.Errorf("parsePath(%q) = %+v, %v", tt.path, req, ok)
		}
	}
}

// A session whose client is gone does not hold a shutdown for the session
// timeout: once closed, it waits only a moment for a request to carry the
// close, even with frames queued for it.
func TestFallbackShutdownDetached(t *testing.T) {
	ft := newFallbackTest(t, HTTPFallbackOptions{SessionTimeout: time.Minute})
	s := ft.openStream("away0000", nil)
	s.next()
	id := socketID(t, s.next())
	ft.send("away0000", subscribeMessage("news", nil))
	s.nextEvents()
	s.abort()
	eventually(t, "the stream is detached", func() bool {
		ses := ft.f.lookup(ft.h.app.Key + "/123/away0000")
		ses.mu.Lock()
		defer ses.mu.Unlock()
		return ses.receiver == nil
	})
	ft.h.registry.Broadcast(testAppID, "news", protocol.NewFrame("story", "news", "queued", protocol.DataString, ""), "")
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := ft.h.hub.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
	if ft.h.hub.Lookup(id) != nil || ft.f.Sessions() != 0 {
		t.Fatal("the session outlived the shutdown")
	}
}

// pipeListener hands an http.Server the server end of one in-memory,
// unbuffered connection, so a test controls exactly when bytes are taken.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}
func (l *pipeListener) Close() error   { return nil }
func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// TestLineWriterRenewsItsDeadline: an HTTP fallback response, like a
// WebSocket, keeps a client that reads slowly but steadily (16 KiB every
// 100 ms, a 64 KiB line in 400 ms, over a 300 ms write timeout).
func TestLineWriterRenewsItsDeadline(t *testing.T) {
	const line = 64 << 10
	wrote := make(chan error, 1)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
		out := newLineWriter(w, 300*time.Millisecond)
		wrote <- out.write([]byte(strings.Repeat("x", line-1) + "\n"))
	})}
	ln := &pipeListener{conns: make(chan net.Conn, 1), done: make(chan struct{})}
	server, client := net.Pipe()
	ln.conns <- server
	go func() { _ = srv.Serve(ln) }()
	defer func() { close(ln.done); _ = srv.Close(); _ = client.Close() }()

	if _, err := client.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	// The client reads 16 KiB every 100 ms until the line is written (the
	// response's head and chunk framing come on top of the line).
	got := 0
	buf := make([]byte, 16<<10)
	for {
		select {
		case err := <-wrote:
			if err != nil {
				t.Fatalf("the write failed after the client read %d bytes: %v", got, err)
			}
			if got < line-(16<<10) {
				t.Fatalf("the write of a %d-byte line returned when the client had read %d bytes", line, got)
			}
			return
		case <-time.After(100 * time.Millisecond):
		}
		_ = client.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, err := io.ReadFull(client, buf)
		got += n
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read after %d bytes: %v", got, err)
		}
	}
}
