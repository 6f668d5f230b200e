package connection

import (
	"encoding/json"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/broadcast"
	"github.com/quaver-dev/quaver/channels"
	"github.com/quaver-dev/quaver/presence"
	"github.com/quaver-dev/quaver/protocol"
)

const (
	testAppID  = "app"
	testKey    = "app-key"
	testSecret = "app-secret"
	// startClock is the hub clock when tests connect (Unix seconds).
	startClock = 1_000_000
)

// fakeTransport captures the frames a connection writes. Like the real
// transports it drains the outbox when woken, here synchronously; paused,
// it only counts wake-ups, as a writer stuck on a slow peer would.
type fakeTransport struct {
	conn *Conn

	mu      sync.Mutex
	frames  []*protocol.Frame
	closing *Closing
	paused  bool
	wakes   int
}

func (t *fakeTransport) Name() string { return "fake" }

func (t *fakeTransport) Wake() {
	t.mu.Lock()
	t.wakes++
	paused := t.paused
	t.mu.Unlock()
	if !paused {
		t.drain()
	}
}

// drain takes everything queued, as a transport's writer loop does.
func (t *fakeTransport) drain() {
	for {
		frames, closing := t.conn.Take(nil, 64<<10)
		if len(frames) == 0 {
			if closing != nil {
				t.mu.Lock()
				t.closing = closing
				t.mu.Unlock()
			}
			return
		}
		t.mu.Lock()
		t.frames = append(t.frames, frames...)
		t.mu.Unlock()
	}
}

// resume unpauses the transport and writes what waited.
func (t *fakeTransport) resume() {
	t.mu.Lock()
	t.paused = false
	t.mu.Unlock()
	t.drain()
}

// take returns the frames written since the last take.
func (t *fakeTransport) take() []*protocol.Frame {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := t.frames
	t.frames = nil
	return out
}

// closed returns the close the transport was asked to send, if any.
func (t *fakeTransport) closed() *Closing {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closing
}

// harness is a hub over real channels, presence and broadcast, with one app.
type harness struct {
	hub       *Hub
	app       *apps.App
	registry  *channels.Registry
	presence  *presence.Memory
	publisher *broadcast.Publisher
}

func newHarness(t testing.TB, configure ...func(*apps.App, *Options)) *harness {
	t.Helper()
	app := apps.App{ID: testAppID, Key: testKey, Secret: testSecret, UserAuthentication: true}
	h := &harness{registry: channels.NewRegistry(nil), presence: presence.NewMemory()}
	h.publisher = broadcast.NewPublisher(broadcast.Options{Registry: h.registry})
	o := Options{Registry: h.registry, Presence: h.presence, Publisher: h.publisher, PongTimeout: 10 * time.Second}
	for _, c := range configure {
		c(&app, &o)
	}
	store, err := apps.NewStatic([]apps.App{app})
	if err != nil {
		t.Fatal(err)
	}
	o.Apps = store
	h.app, _ = store.ByID(t.Context(), testAppID)
	h.hub = NewHub(o)
	h.hub.clock.Store(startClock)
	return h
}

// connect admits and opens a connection, and drops its
// connection_established frame.
func (h *harness) connect(t testing.TB) (*Conn, *fakeTransport) {
	t.Helper()
	tr := &fakeTransport{}
	c, failure := h.hub.Admit(h.app, tr)
	if failure != nil {
		t.Fatalf("Admit: %v", failure)
	}
	tr.conn = c
	c.Open()
	if got := tr.take(); len(got) != 1 || got[0].Event != protocol.EventConnectionEstablished {
		t.Fatalf("first frames %v, want connection_established", events(got))
	}
	return c, tr
}

// send delivers a client message built from its parts.
func send(t testing.TB, c *Conn, event, channel string, data any) {
	t.Helper()
	m := map[string]any{"event": event}
	if channel != "" {
		m["channel"] = channel
	}
	if data != nil {
		m["data"] = data
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	c.Receive(b)
}

// subscribeData builds pusher:subscribe data signed for c, as an auth
// endpoint would sign it.
func subscribeData(c *Conn, channel, channelData string) map[string]any {
	d := map[string]any{"channel": channel, "auth": ""}
	info := channels.Classify(channel)
	if channelData != "" {
		d["channel_data"] = channelData
	}
	if info.NeedsAuth() {
		msg := protocol.ChannelAuthMessage(c.SocketID(), channel, channelData, info.Kind == channels.Presence)
		d["auth"] = testKey + ":" + protocol.Sign(testSecret, msg)
	}
	return d
}

func subscribe(t testing.TB, c *Conn, channel, channelData string) {
	t.Helper()
	send(t, c, protocol.EventSubscribe, "", subscribeData(c, channel, channelData))
}

// member is presence channel_data for a user.
func member(userID, name string) string {
	b, _ := json.Marshal(map[string]any{"user_id": userID, "user_info": map[string]string{"name": name}})
	return string(b)
}

// signinData builds pusher:signin data signed for c.
func signinData(c *Conn, userData string) map[string]any {
	return map[string]any{
		"auth":      testKey + ":" + protocol.Sign(testSecret, protocol.UserAuthMessage(c.SocketID(), userData)),
		"user_data": userData,
	}
}

func events(frames []*protocol.Frame) []string {
	out := make([]string, len(frames))
	for i, f := range frames {
		out[i] = f.Event
	}
	return out
}

func jsons(frames []*protocol.Frame) []string {
	out := make([]string, len(frames))
	for i, f := range frames {
		out[i] = string(f.JSON)
	}
	return out
}

// expect checks the frames written since the last take, by JSON text.
func expect(t testing.TB, tr *fakeTransport, want ...string) {
	t.Helper()
	got := jsons(tr.take())
	if !slices.Equal(got, want) {
		t.Fatalf("frames:\n got %q\nwant %q", got, want)
	}
}

// expectEvents checks the events of the frames written since the last take.
func expectEvents(t testing.TB, tr *fakeTransport, want ...string) []*protocol.Frame {
	t.Helper()
	frames := tr.take()
	if got := events(frames); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q (%q)", got, want, jsons(frames))
	}
	return frames
}

// errorData decodes a pusher:error or pusher:subscription_error frame.
type errorData struct {
	Code    *int   `json:"code"`
	Message string `json:"message"`
	Type    string `json:"type"`
	Error   string `json:"error"`
	Status  int    `json:"status"`
}

func decodeError(t testing.TB, f *protocol.Frame) errorData {
	t.Helper()
	var m struct {
		Data errorData `json:"data"`
	}
	if err := json.Unmarshal(f.JSON, &m); err != nil {
		t.Fatalf("%s: %v", f.JSON, err)
	}
	return m.Data
}

// expectError checks that exactly one pusher:error with the code was written.
func expectError(t testing.TB, tr *fakeTransport, code int, channel string) errorData {
	t.Helper()
	frames := expectEvents(t, tr, protocol.EventError)
	d := decodeError(t, frames[0])
	if d.Code == nil || *d.Code != code || frames[0].Channel != channel {
		t.Fatalf("error %s, want code %d on %q", frames[0].JSON, code, channel)
	}
	return d
}

// expectSubscriptionError checks for one subscription_error of the type and
// status on the channel.
func expectSubscriptionError(t testing.TB, tr *fakeTransport, channel, kind string, status int) {
	t.Helper()
	frames := expectEvents(t, tr, protocol.EventSubscriptionError)
	d := decodeError(t, frames[0])
	if frames[0].Channel != channel || d.Type != kind || d.Status != status || d.Error == "" {
		t.Fatalf("subscription error %s, want %s %d on %s", frames[0].JSON, kind, status, channel)
	}
}

// expectClosed checks the close the transport was asked to send.
func expectClosed(t testing.TB, tr *fakeTransport, code int) {
	t.Helper()
	if got := tr.closed(); got == nil || got.Code != code {
		t.Fatalf("close %+v, want code %d", got, code)
	}
}

func notClosed(t testing.TB, c *Conn, tr *fakeTransport) {
	t.Helper()
	if c.isClosed() || tr.closed() != nil {
		t.Fatalf("connection closed: %+v", tr.closed())
	}
}

// eventually polls cond until it holds or a few seconds pass.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

var socketIDPattern = regexp.MustCompile(`^\d+\.\d+$`)
