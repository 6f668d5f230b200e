package client

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/quaver-dev/quaver/protocol"
)

// API calls a server's Pusher HTTP API with signed requests, as the Pusher
// server SDKs do.
type API struct {
	// BaseURL is http(s)://host:port, optionally with a path prefix.
	BaseURL string
	AppID   string
	Key     string
	Secret  string
	// HTTP defaults to a client with keep-alive connections.
	HTTP *http.Client
	// Now defaults to time.Now; tests move it to check timestamp rules.
	Now func() time.Time
}

// TriggerEvent is one event for Trigger and Batch.
type TriggerEvent struct {
	Name     string   `json:"name"`
	Data     string   `json:"data"`
	Channels []string `json:"channels,omitempty"`
	Channel  string   `json:"channel,omitempty"`
	SocketID string   `json:"socket_id,omitempty"`
	Info     string   `json:"info,omitempty"`
}

// Trigger publishes one event (POST /events) and returns the response body.
func (a *API) Trigger(ctx context.Context, ev TriggerEvent) ([]byte, error) {
	body, _ := json.Marshal(ev)
	return a.Do(ctx, http.MethodPost, "/events", nil, body)
}

// Batch publishes several events at once (POST /batch_events).
func (a *API) Batch(ctx context.Context, events []TriggerEvent) ([]byte, error) {
	body, _ := json.Marshal(map[string]any{"batch": events})
	return a.Do(ctx, http.MethodPost, "/batch_events", nil, body)
}

// Get performs a signed GET of path (relative to /apps/{id}).
func (a *API) Get(ctx context.Context, path string, params url.Values) ([]byte, error) {
	return a.Do(ctx, http.MethodGet, path, params, nil)
}

// StatusError is a non-2xx answer.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

// Do sends a signed request to /apps/{id}{path} and returns the body of a
// 2xx answer, or a *StatusError.
func (a *API) Do(ctx context.Context, method, path string, params url.Values, body []byte) ([]byte, error) {
	req, err := a.Request(ctx, method, path, params, body)
	if err != nil {
		return nil, err
	}
	hc := a.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		return out, &StatusError{Status: resp.StatusCode, Body: string(out)}
	}
	return out, nil
}

// Request builds a signed request without sending it.
func (a *API) Request(ctx context.Context, method, path string, params url.Values, body []byte) (*http.Request, error) {
	now := time.Now
	if a.Now != nil {
		now = a.Now
	}
	q := url.Values{}
	for k, v := range params {
		q[k] = v
	}
	q.Set("auth_key", a.Key)
	q.Set("auth_timestamp", strconv.FormatInt(now().Unix(), 10))
	q.Set("auth_version", "1.0")
	if len(body) > 0 {
		sum := md5.Sum(body)
		q.Set("body_md5", hex.EncodeToString(sum[:]))
	}
	fullPath := "/apps/" + a.AppID + path
	q.Set("auth_signature", protocol.Sign(a.Secret, protocol.APISigningString(method, fullPath, q)))
	u, err := url.Parse(a.BaseURL)
	if err != nil {
		return nil, err
	}
	prefix := u.Path
	u.Path = prefix + fullPath
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}
