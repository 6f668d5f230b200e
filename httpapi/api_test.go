package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/broadcast"
	"github.com/quaver-dev/quaver/channels"
	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/httpapi"
	"github.com/quaver-dev/quaver/presence"
	"github.com/quaver-dev/quaver/protocol"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

// The main app uses the credentials of the protocol reference's worked
// examples, so its requests can be checked against them.
const (
	appID     = "123456"
	appKey    = "278d425bdf160c739803"
	appSecret = "7ad3773142a6692b25b8"
	// requestLimit is the API's MaxRequestSize in these tests.
	requestLimit = 4096
)

// now is the server's clock, the time of the worked examples.
var now = time.Unix(1700000000, 0)

// fakeState answers from the registry, like a single node, with a fixed
// connection count, and records terminations. fail makes every call fail.
type fakeState struct {
	registry *channels.Registry
	fail     error

	mu         sync.Mutex
	terminated []string
}

func (s *fakeState) Channels(_ context.Context, app, prefix string) (map[string]int, error) {
	if s.fail != nil {
		return nil, s.fail
	}
	return s.registry.Channels(app, prefix), nil
}

func (s *fakeState) SubscriptionCount(_ context.Context, app, channel string) (int, error) {
	if s.fail != nil {
		return 0, s.fail
	}
	return s.registry.Count(app, channel), nil
}

func (s *fakeState) Connections(_ context.Context, app string) (int, error) {
	if s.fail != nil {
		return 0, s.fail
	}
	if app == appID {
		return 7, nil
	}
	return 0, nil
}

func (s *fakeState) Terminate(_ context.Context, app, userID string) error {
	if s.fail != nil {
		return s.fail
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.terminated = append(s.terminated, app+"/"+userID)
	return nil
}

type health map[string]string

func (h health) Health(context.Context) map[string]string { return h }

// capture is a channel subscriber that records the frames it gets.
type capture struct {
	id     string
	mu     sync.Mutex
	frames []string
}

func (c *capture) SocketID() string { return c.id }

func (c *capture) Send(f *protocol.Frame) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames = append(c.frames, string(f.JSON))
	return true
}

func (c *capture) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.frames...)
}

// env is an API over real channels, presence and broadcast, with these
// subscribers:
//
//	my-channel        1.1, 1.2
//	private-chat.1    2.1
//	presence-room     3.1 and 3.2 (user u1), 3.3 (user u2)
//	presence-lobby    4.1 (user u3)
type env struct {
	api      *httpapi.API
	state    *fakeState
	registry *channels.Registry
	presence *presence.Memory
	subs     map[string]*capture // by socket id
}

func newEnv(t testing.TB, configure ...func(*httpapi.Options)) *env {
	t.Helper()
	store, err := apps.NewStatic([]apps.App{
		{ID: appID, Key: appKey, Secret: appSecret},
		{ID: "small", Key: "small-key", Secret: "small-secret", MaxEventSize: 16, MaxChannelsPerEvent: 2, MaxBatchSize: 2},
		{ID: "off", Key: "off-key", Secret: "off-secret", Disabled: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{registry: channels.NewRegistry(nil), presence: presence.NewMemory(), subs: map[string]*capture{}}
	e.state = &fakeState{registry: e.registry}
	add := func(channel, socket, user string) {
		c := e.subs[socket]
		if c == nil {
			c = &capture{id: socket}
			e.subs[socket] = c
		}
		e.registry.Add(appID, channel, c)
		if user != "" {
			if _, err := e.presence.Join(t.Context(), appID, channel, socket, presence.Member{UserID: user}, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	add("my-channel", "1.1", "")
	add("my-channel", "1.2", "")
	add("private-chat.1", "2.1", "")
	add("presence-room", "3.1", "u1")
	add("presence-room", "3.2", "u1")
	add("presence-room", "3.3", "u2")
	add("presence-lobby", "4.1", "u3")
	o := httpapi.Options{
		Apps:           store,
		Publisher:      broadcast.NewPublisher(broadcast.Options{Registry: e.registry}),
		Presence:       e.presence,
		State:          e.state,
		MaxRequestSize: requestLimit,
		Now:            func() time.Time { return now },
	}
	for _, c := range configure {
		c(&o)
	}
	e.api = httpapi.New(o)
	return e
}

// signer signs like the Pusher server SDKs.
func signer(id, key, secret string, at time.Time) *client.API {
	return &client.API{BaseURL: "http://quaver.test", AppID: id, Key: key, Secret: secret, Now: func() time.Time { return at }}
}

var mainApp = signer(appID, appKey, appSecret, now)

func signed(t testing.TB, s *client.API, method, path string, params url.Values, body string) *http.Request {
	t.Helper()
	req, err := s.Request(context.Background(), method, path, params, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// withQuery changes the query of a signed request after signing.
func withQuery(req *http.Request, change func(q url.Values)) *http.Request {
	q := req.URL.Query()
	change(q)
	req.URL.RawQuery = q.Encode()
	return req
}

// withBody replaces the body of a signed request after signing.
func withBody(req *http.Request, body string) *http.Request {
	req.Body = io.NopCloser(strings.NewReader(body))
	req.ContentLength = int64(len(body))
	return req
}

func (e *env) serve(req *http.Request) (int, string) {
	rec := httptest.NewRecorder()
	e.api.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// golden compares a response with testdata/name.golden, or rewrites it
// with -update.
func golden(t *testing.T, name string, status int, body string) {
	t.Helper()
	got := []byte(http.StatusText(status) + "\n" + body)
	got = append(bytes.TrimSuffix(got, []byte("\n")), '\n')
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("response differs from %s\n got: %s\nwant: %s", path, got, want)
	}
}

func fileName(testName string) string {
	r := strings.NewReplacer(" ", "_", "/", "_", ",", "", "'", "")
	return strings.ToLower(r.Replace(testName))
}

// apiCase is one request, its expected status, a golden body, and an
// optional check of what it did.
type apiCase struct {
	name       string
	configure  func(*httpapi.Options)
	request    func(t *testing.T) *http.Request
	wantStatus int
	check      func(t *testing.T, e *env)
}

func runGolden(t *testing.T, cases []apiCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var configure []func(*httpapi.Options)
			if tc.configure != nil {
				configure = append(configure, tc.configure)
			}
			e := newEnv(t, configure...)
			status, body := e.serve(tc.request(t))
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", status, tc.wantStatus, body)
			}
			golden(t, fileName(t.Name()), status, body)
			if tc.check != nil {
				tc.check(t, e)
			}
		})
	}
}

// received asserts which sockets got exactly the frame want, and that no
// other socket got anything.
func received(t *testing.T, e *env, want string, sockets ...string) {
	t.Helper()
	for id, c := range e.subs {
		got := c.received()
		should := false
		for _, s := range sockets {
			should = should || s == id
		}
		switch {
		case should && (len(got) != 1 || got[0] != want):
			t.Errorf("socket %s received %q, want %s", id, got, want)
		case !should && len(got) != 0:
			t.Errorf("socket %s received %q, want nothing", id, got)
		}
	}
}

func nothingReceived(t *testing.T, e *env) { t.Helper(); received(t, e, "") }

func TestUpGolden(t *testing.T) {
	runGolden(t, []apiCase{
		{
			name:       "up",
			request:    func(*testing.T) *http.Request { return httptest.NewRequest("GET", "/up", nil) },
			wantStatus: 200,
		},
		{
			name:       "up with dependencies",
			configure:  func(o *httpapi.Options) { o.Health = health{"redis": "down: connection refused"} },
			request:    func(*testing.T) *http.Request { return httptest.NewRequest("GET", "/up", nil) },
			wantStatus: 200,
		},
		{
			name:       "unknown route",
			request:    func(*testing.T) *http.Request { return httptest.NewRequest("GET", "/nope", nil) },
			wantStatus: 404,
		},
	})
}

func TestStateUnavailableGolden(t *testing.T) {
	down := func(o *httpapi.Options) { o.State.(*fakeState).fail = errors.New("redis: connection refused") }
	runGolden(t, []apiCase{
		{"channels", down, func(t *testing.T) *http.Request { return signed(t, mainApp, "GET", "/channels", nil, "") }, 503, nil},
		{"channel", down, func(t *testing.T) *http.Request { return signed(t, mainApp, "GET", "/channels/my-channel", nil, "") }, 503, nil},
		{"connections", down, func(t *testing.T) *http.Request { return signed(t, mainApp, "GET", "/connections", nil, "") }, 503, nil},
		{"terminate", down, func(t *testing.T) *http.Request {
			return signed(t, mainApp, "POST", "/users/u1/terminate_connections", nil, "{}")
		}, 503, nil},
		{"events info", down, func(t *testing.T) *http.Request {
			return signed(t, mainApp, "POST", "/events", nil, `{"name":"e","data":"x","channels":["my-channel"],"info":"subscription_count"}`)
		}, 503, nil},
	})
}
