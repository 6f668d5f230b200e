package connection

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/protocol"
)

// Transport names of pusher-js's HTTP fallback sessions, as metrics and
// /up report them.
const (
	NameXHRStreaming = "xhr_streaming"
	NameXHRPolling   = "xhr_polling"
)

// HTTPFallbackOptions configure the HTTP fallback endpoint. Zero values
// take the defaults noted.
type HTTPFallbackOptions struct {
	// MaxMessageSize bounds one inbound message for every app, as for a
	// WebSocket: an xhr_send body larger than the messages it may carry
	// closes the session with 1009. Default 64 KiB.
	MaxMessageSize int
	// Heartbeat is how long a streaming response stays silent before it
	// gets an "h" line, and how long a poll is held without data. It must
	// stay below pusher-js's 30 s pong timeout. Default 25 s.
	Heartbeat time.Duration
	// SessionTimeout is how long a session lives with no receive request
	// attached before it is closed as if its socket had dropped. Default
	// 5 s, like SockJS.
	SessionTimeout time.Duration
	// RolloverGrace is how long a streaming response that reached
	// pusher-js's 256 KiB limit waits for the client to replace it before
	// writing on regardless. Default 10 s.
	RolloverGrace time.Duration
}

func (o *HTTPFallbackOptions) defaults() {
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = 64 << 10
	}
	if o.Heartbeat == 0 {
		o.Heartbeat = 25 * time.Second
	}
	if o.SessionTimeout == 0 {
		o.SessionTimeout = 5 * time.Second
	}
	if o.RolloverGrace == 0 {
		o.RolloverGrace = 10 * time.Second
	}
}

// HTTPFallback serves pusher-js's HTTP fallback transports, used when a
// WebSocket cannot be opened:
//
//	POST {httpPath}/app/{key}/{server}/{session}/xhr_streaming  receive, streamed
//	POST {httpPath}/app/{key}/{server}/{session}/xhr            receive, long-polled
//	POST {httpPath}/app/{key}/{server}/{session}/xhr_send       send
//
// Each session is one Conn, admitted by the Hub like a WebSocket, so every
// Pusher feature, limit, close code and metric applies unchanged; only the
// framing differs (o, a[...], h and c[code,"reason"] lines). A session lives
// on the node that created it; a request for a session this node does not
// know starts a new one (receive) or gets 404 (send), and pusher-js then
// reconnects cleanly.
type HTTPFallback struct {
	hub  *Hub
	opts HTTPFallbackOptions

	mu       sync.Mutex // guards sessions
	sessions map[string]*httpSession
}

// NewHTTPFallback returns the HTTP fallback endpoint for the hub's
// connections.
func NewHTTPFallback(h *Hub, o HTTPFallbackOptions) *HTTPFallback {
	o.defaults()
	return &HTTPFallback{hub: h, opts: o, sessions: make(map[string]*httpSession)}
}

// Sessions returns the number of live sessions on this node.
func (f *HTTPFallback) Sessions() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sessions)
}

// fallbackRequest is what the path of a fallback request names.
type fallbackRequest struct {
	key  string // the app key
	id   string // key/server/session: the session's identity
	kind string // xhr_streaming, xhr or xhr_send
}

// parsePath reads .../app/{key}/{server}/{session}/{kind} from the end of
// the path, so the endpoint can be mounted under any prefix.
func parsePath(path string) (fallbackRequest, bool) {
	parts := strings.Split(path, "/")
	if len(parts) < 5 {
		return fallbackRequest{}, false
	}
	parts = parts[len(parts)-5:]
	if parts[0] != "app" || parts[1] == "" || !validServer(parts[2]) || !validSession(parts[3]) {
		return fallbackRequest{}, false
	}
	switch parts[4] {
	case "xhr_streaming", "xhr", "xhr_send":
	default:
		return fallbackRequest{}, false
	}
	return fallbackRequest{key: parts[1], id: parts[1] + "/" + parts[2] + "/" + parts[3], kind: parts[4]}, true
}

// validServer accepts pusher-js's server part: a number below 1000.
func validServer(s string) bool {
	if s == "" || len(s) > 3 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validSession accepts pusher-js's session part (8 base-32 digits) and
// other clients' similar ids, up to 64 letters, digits, - and _.
func validSession(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ServeHTTP routes a fallback request by the last elements of its path.
func (f *HTTPFallback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, ok := parsePath(r.URL.Path)
	if !ok {
		http.Error(w, "Not found", http.StatusNotFound)
		return
	}
	switch r.Method {
	case http.MethodOptions:
		f.preflight(w, r, req)
	case http.MethodPost:
		if req.kind == "xhr_send" {
			f.send(w, r, req)
			return
		}
		f.receive(w, r, req)
	default:
		w.Header().Set("Allow", "POST, OPTIONS")
		http.Error(w, "Method not allowed", http.StatusMethodNotAllowed)
	}
}

// CORS. pusher-js sends every request as an XHR POST with Content-Type
// application/json and without credentials, so a page on another origin
// needs a preflight answer. Receive requests are readable from any origin,
// so that a page whose origin the app does not allow reads the refusal
// (c[4009,...]) just as a WebSocket would receive it; sends are accepted
// only from allowed origins, and no session is ever created for another.

// allowOrigin adds the CORS headers that let origin read the response.
func allowOrigin(w http.ResponseWriter, origin string) {
	h := w.Header()
	h.Add("Vary", "Origin")
	if origin != "" {
		h.Set("Access-Control-Allow-Origin", origin)
	}
}

func (f *HTTPFallback) preflight(w http.ResponseWriter, r *http.Request, req fallbackRequest) {
	origin := r.Header.Get("Origin")
	if req.kind == "xhr_send" {
		app, err := f.hub.opts.Apps.ByKey(r.Context(), req.key)
		if err != nil || !app.OriginAllowed(origin) {
			w.Header().Add("Vary", "Origin")
			w.WriteHeader(http.StatusForbidden)
			return
		}
	}
	allowOrigin(w, origin)
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	if asked := r.Header.Get("Access-Control-Request-Headers"); asked != "" {
		h.Set("Access-Control-Allow-Headers", asked)
	} else {
		h.Set("Access-Control-Allow-Headers", "Content-Type")
	}
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// send delivers the messages of one xhr_send POST: a JSON array of
// strings, each a Pusher message; [] is pusher-js's ping.
func (f *HTTPFallback) send(w http.ResponseWriter, r *http.Request, req fallbackRequest) {
	s := f.lookup(req.id)
	if s == nil {
		allowOrigin(w, r.Header.Get("Origin"))
		http.Error(w, "Session not found", http.StatusNotFound)
		return
	}
	if !s.conn.app.OriginAllowed(r.Header.Get("Origin")) {
		w.Header().Add("Vary", "Origin")
		http.Error(w, "Origin not allowed", http.StatusForbidden)
		return
	}
	allowOrigin(w, r.Header.Get("Origin"))
	// The array escapes each message once more, so it may be about twice
	// as long as the longest message it carries.
	body := http.MaxBytesReader(w, r.Body, int64(2*f.opts.MaxMessageSize+1024))
	var messages []string
	if err := json.NewDecoder(body).Decode(&messages); err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			s.conn.closeProtocol(closeMessageTooLarge, "message too big")
			http.Error(w, "Message too big", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "Broken JSON encoding", http.StatusBadRequest)
		return
	}
	if len(messages) == 0 {
		s.ping()
	}
	for _, m := range messages {
		s.conn.Receive([]byte(m))
	}
	w.WriteHeader(http.StatusNoContent)
}

// receive serves xhr_streaming and xhr: it continues the session, or
// starts one when this node does not know it.
func (f *HTTPFallback) receive(w http.ResponseWriter, r *http.Request, req fallbackRequest) {
	origin := r.Header.Get("Origin")
	allowOrigin(w, origin)
	streaming := req.kind == "xhr_streaming"
	s := f.lookup(req.id)
	if s != nil && !s.conn.app.OriginAllowed(origin) {
		// Only the page that opened a session may continue it.
		refuseHTTP(w, protocol.ErrOriginNotAllowed)
		return
	}
	opened := false
	if s == nil {
		var failure *protocol.Error
		if s, failure = f.open(r, req, streaming); failure != nil {
			refuseHTTP(w, failure)
			return
		}
		opened = true
	}
	s.serve(w, r, streaming, opened)
}

// open checks the first request of a session as the WebSocket endpoint
// checks a handshake, then admits the session's connection.
func (f *HTTPFallback) open(r *http.Request, req fallbackRequest, streaming bool) (*httpSession, *protocol.Error) {
	app, failure := f.check(r, req.key)
	if failure != nil {
		return nil, failure
	}
	name := NameXHRPolling
	if streaming {
		name = NameXHRStreaming
	}
	s := &httpSession{fallback: f, id: req.id, name: name}
	f.mu.Lock()
	if existing := f.sessions[req.id]; existing != nil {
		// Two first requests raced; the other one created it.
		f.mu.Unlock()
		return existing, nil
	}
	conn, failure := f.hub.Admit(app, s)
	if failure != nil {
		f.mu.Unlock()
		return nil, failure
	}
	s.conn = conn
	f.sessions[req.id] = s
	f.mu.Unlock()
	conn.Open()
	return s, nil
}

// check applies the WebSocket endpoint's handshake checks (protocol
// version, app, disabled app, origin) to the first request of a session,
// whose query string pusher-js copies from the WebSocket URL.
func (f *HTTPFallback) check(r *http.Request, key string) (*apps.App, *protocol.Error) {
	shallow := *r
	u := *r.URL
	u.Path = "/app/" + key
	shallow.URL = &u
	return (&WebSocket{hub: f.hub}).check(&shallow)
}

// refuseHTTP answers a receive request that cannot start a session the way
// pusher-js reads a refused WebSocket: open, pusher:error, close.
func refuseHTTP(w http.ResponseWriter, failure *protocol.Error) {
	streamHeaders(w)
	w.WriteHeader(http.StatusOK)
	b := []byte("o\n")
	b = appendArrayLine(b, []*protocol.Frame{protocol.ErrorFrame(failure.Code, failure.Message, "")})
	b = appendCloseLine(b, &Closing{Code: failure.Code, Reason: failure.Message})
	_, _ = w.Write(b)
}

func (f *HTTPFallback) lookup(id string) *httpSession {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sessions[id]
}

func (f *HTTPFallback) remove(s *httpSession) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.sessions[s.id] == s {
		delete(f.sessions, s.id)
	}
}

// streamHeaders are the headers of every receive response: never cached,
// never buffered by a proxy (nginx honours X-Accel-Buffering).
func streamHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "application/javascript; charset=UTF-8")
	h.Set("Cache-Control", "no-store, no-cache, must-revalidate, max-age=0")
	h.Set("X-Accel-Buffering", "no")
	h.Set("X-Content-Type-Options", "nosniff")
}
