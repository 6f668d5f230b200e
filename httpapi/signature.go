package httpapi

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/protocol"
)

// MaxClockSkew is how far auth_timestamp may be from the server's clock.
const MaxClockSkew = 600 * time.Second

type contextKey struct{}

// signed is what the signature middleware hands the handlers: the app the
// request authenticated as and the body it signed.
type signed struct {
	app  *apps.App
	body []byte
}

func signedFrom(ctx context.Context) *signed { return ctx.Value(contextKey{}).(*signed) }

// authenticate resolves the app from the path, reads the body within the
// size limit and checks the Pusher request signature: auth_key, a fresh
// auth_timestamp, body_md5 recomputed from the body received (so a changed
// body fails), and auth_signature over METHOD, the decoded path and the
// sorted query, compared in constant time.
func (a *API) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		app, err := a.opts.Apps.ByID(r.Context(), pathParam(r, "appID"))
		if err != nil {
			writeError(w, &apiError{http.StatusNotFound, "Unknown app id"})
			return
		}
		if app.Disabled {
			writeError(w, &apiError{http.StatusForbidden, "App is disabled"})
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.opts.MaxRequestSize))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, tooLarge("Request body is larger than "+strconv.FormatInt(tooBig.Limit, 10)+" bytes"))
			} else {
				writeError(w, badRequest("Could not read the request body"))
			}
			return
		}
		if failure := a.verify(app, r, body); failure != nil {
			writeError(w, failure)
			return
		}
		ctx := context.WithValue(r.Context(), contextKey{}, &signed{app: app, body: body})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func (a *API) verify(app *apps.App, r *http.Request, body []byte) *apiError {
	query := r.URL.Query()
	if query.Get("auth_key") != app.Key {
		return unauthorized("auth_key does not match the app")
	}
	ts, err := strconv.ParseInt(query.Get("auth_timestamp"), 10, 64)
	if err != nil {
		return unauthorized("auth_timestamp is missing or not a number")
	}
	if skew := a.opts.Now().Sub(time.Unix(ts, 0)); skew > MaxClockSkew || skew < -MaxClockSkew {
		return unauthorized("auth_timestamp is more than 600 seconds from the server time; check the clock")
	}
	if len(body) > 0 {
		sum := md5.Sum(body)
		query.Set("body_md5", hex.EncodeToString(sum[:]))
	}
	path := strings.TrimPrefix(r.URL.Path, a.opts.PathPrefix)
	if !protocol.ValidSignature(app.Secret, protocol.APISigningString(r.Method, path, query), query.Get("auth_signature")) {
		return unauthorized("Invalid signature: expected HMAC SHA256 hex digest of METHOD\\nPATH\\nQUERY")
	}
	return nil
}
