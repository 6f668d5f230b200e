package httpapi

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/protocol"
)

// MaxClockSkew is how far auth_timestamp may be from the server's clock.
const MaxClockSkew = 600 * time.Second

// maxQueryParams bounds the parameters of a signed request's query; an SDK
// sends about six.
const maxQueryParams = 64

// maxPooledBody is the largest request body buffer kept for reuse; a rare
// big batch must not pin its megabyte in the pool.
const maxPooledBody = 64 << 10

// scratch is one signed request's reusable memory: the body, the query and
// the string it signs. Reusing them keeps a trigger (an AI backend sends one
// per token) from making garbage of what it needs only until it returns.
type scratch struct {
	body    bytes.Buffer
	query   protocol.Query
	signing []byte
}

var scratches = sync.Pool{New: func() any { return new(scratch) }}

func (s *scratch) release() {
	if s.body.Cap() > maxPooledBody {
		return
	}
	s.body.Reset()
	clear(s.query)
	s.query = s.query[:0]
	scratches.Put(s)
}

// signedHandler serves a request whose signature checked out, as app, with
// the body it signed. The body is only valid until the handler returns.
type signedHandler func(w http.ResponseWriter, r *http.Request, app *apps.App, body []byte)

// authenticate resolves the app from the path, reads the body within the
// size limit and checks the Pusher request signature: auth_key, a fresh
// auth_timestamp, body_md5 recomputed from the body received (so a changed
// body fails), and auth_signature over METHOD, the decoded path and the
// sorted query, compared in constant time.
func (a *API) authenticate(next signedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		app, err := a.opts.Apps.ByID(r.Context(), pathParam(r, "appID"))
		if err != nil {
			writeError(w, &apiError{http.StatusNotFound, "Unknown app id"})
			return
		}
		if app.Disabled {
			writeError(w, &apiError{http.StatusForbidden, "App is disabled"})
			return
		}
		s := scratches.Get().(*scratch)
		defer s.release()
		if _, err := s.body.ReadFrom(http.MaxBytesReader(w, r.Body, a.opts.MaxRequestSize)); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				writeError(w, tooLarge("Request body is larger than "+strconv.FormatInt(tooBig.Limit, 10)+" bytes"))
			} else {
				writeError(w, badRequest("Could not read the request body"))
			}
			return
		}
		if failure := a.verify(app, r, s); failure != nil {
			writeError(w, failure)
			return
		}
		next(w, r, app, s.body.Bytes())
	}
}

func (a *API) verify(app *apps.App, r *http.Request, s *scratch) *apiError {
	if strings.Count(r.URL.RawQuery, "&") >= maxQueryParams {
		return badRequest("The query has more than " + strconv.Itoa(maxQueryParams) + " parameters")
	}
	query := protocol.ParseQuery(s.query[:0], r.URL.RawQuery)
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
	signature := query.Get("auth_signature")
	if body := s.body.Bytes(); len(body) > 0 {
		sum := md5.Sum(body)
		query = query.Replace("body_md5", hex.EncodeToString(sum[:]))
	}
	s.query = query
	path := strings.TrimPrefix(r.URL.Path, a.opts.PathPrefix)
	s.signing = protocol.AppendAPISigningString(s.signing[:0], r.Method, path, query)
	if !a.signer(app.Secret).Valid(s.signing, signature) {
		return unauthorized("Invalid signature: expected HMAC SHA256 hex digest of METHOD\\nPATH\\nQUERY")
	}
	return nil
}

// signer returns the Signer for an app secret, made once per secret.
func (a *API) signer(secret string) *protocol.Signer {
	if s, ok := a.signers.Load(secret); ok {
		return s.(*protocol.Signer)
	}
	s, _ := a.signers.LoadOrStore(secret, protocol.NewSigner(secret))
	return s.(*protocol.Signer)
}
