package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/broadcast"
	"github.com/quaver-dev/quaver/presence"
)

// Options configure the API.
type Options struct {
	Apps      apps.Store
	Publisher *broadcast.Publisher
	Presence  presence.Store
	State     State
	Health    Health
	Logger    *slog.Logger
	// Transports, when set, adds this node's connections by transport to
	// /up.
	Transports Transports
	// MaxRequestSize bounds a request body. Default 1 MiB; each event's
	// data is also bounded by its app's MaxEventSize.
	MaxRequestSize int64
	// PathPrefix is stripped from the path before signatures are checked,
	// when the API is mounted below a prefix.
	PathPrefix string
	// Now is the clock for timestamp checks; default time.Now.
	Now func() time.Time
}

// API is the Pusher HTTP API.
type API struct {
	opts    Options
	router  chi.Router
	signers sync.Map // app secret → *protocol.Signer
}

// New builds the API's routes.
func New(o Options) *API {
	if o.MaxRequestSize == 0 {
		o.MaxRequestSize = 1 << 20
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{opts: o}
	r := chi.NewRouter()
	r.Get("/up", a.up)
	r.Route("/apps/{appID}", func(r chi.Router) {
		r.Post("/events", a.authenticate(a.triggerEvent))
		r.Post("/batch_events", a.authenticate(a.triggerBatch))
		r.Get("/channels", a.authenticate(a.listChannels))
		r.Get("/channels/{channel}", a.authenticate(a.showChannel))
		r.Get("/channels/{channel}/users", a.authenticate(a.listUsers))
		r.Get("/channels/{channel}/history", a.authenticate(a.channelHistory))
		r.Get("/connections", a.authenticate(a.connections))
		r.Post("/users/{userID}/terminate_connections", a.authenticate(a.terminate))
		// Below an app, only a signed request learns which paths exist.
		r.NotFound(a.authenticate(func(w http.ResponseWriter, _ *http.Request, _ *apps.App, _ []byte) { notFound(w) }))
		r.MethodNotAllowed(a.authenticate(func(w http.ResponseWriter, _ *http.Request, _ *apps.App, _ []byte) { methodNotAllowed(w) }))
	})
	r.NotFound(func(w http.ResponseWriter, _ *http.Request) { notFound(w) })
	r.MethodNotAllowed(func(w http.ResponseWriter, _ *http.Request) { methodNotAllowed(w) })
	a.router = r
	return a
}

func notFound(w http.ResponseWriter) { writeError(w, &apiError{http.StatusNotFound, "Not found"}) }

func methodNotAllowed(w http.ResponseWriter) {
	writeError(w, &apiError{http.StatusMethodNotAllowed, "Method not allowed"})
}

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.router.ServeHTTP(w, r) }

// up answers load balancers and Reverb's health check, unsigned. It is 200
// while the node serves its local clients; a dependency that is down (Redis)
// is reported but does not fail the check, because local delivery goes on.
func (a *API) up(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{"health": "OK"}
	if a.opts.Health != nil {
		for k, v := range a.opts.Health.Health(r.Context()) {
			body[k] = v
		}
	}
	if a.opts.Transports != nil {
		body["connections"] = a.opts.Transports.ConnectionsByTransport()
	}
	writeJSON(w, http.StatusOK, body)
}

func (a *API) connections(w http.ResponseWriter, r *http.Request, app *apps.App, _ []byte) {
	n, err := a.opts.State.Connections(r.Context(), app.ID)
	if err != nil {
		a.stateError(w, r.Context(), err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"connections": n})
}

func (a *API) terminate(w http.ResponseWriter, r *http.Request, app *apps.App, _ []byte) {
	if err := a.opts.State.Terminate(r.Context(), app.ID, pathParam(r, "userID")); err != nil {
		a.stateError(w, r.Context(), err)
		return
	}
	writeEmpty(w)
}

func (a *API) stateError(w http.ResponseWriter, ctx context.Context, err error) {
	a.opts.Logger.ErrorContext(ctx, "http api: reading channel state", "err", err)
	writeError(w, unavailable("Channel state is unavailable, try again"))
}

// pathParam returns a route parameter percent-decoded. chi matches against
// r.URL.RawPath when net/url kept one (the client escaped differently than
// net/url would: %2F, lowercase hex, an escaped letter) and its parameters
// are then still escaped; otherwise they come from the decoded r.URL.Path.
// The signature is checked over the decoded path, so handlers must see the
// same decoded values.
func pathParam(r *http.Request, name string) string {
	v := chi.URLParam(r, name)
	if r.URL.RawPath == "" {
		return v
	}
	if decoded, err := url.PathUnescape(v); err == nil {
		return decoded
	}
	return v
}
