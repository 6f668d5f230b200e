package client

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/quaver-dev/quaver/protocol"
)

// APIConn calls the HTTP API over one dedicated keep-alive connection,
// synchronously, with none of net/http's per-request goroutines. It is for
// load tools, where each publisher owns one connection; it is not safe for
// concurrent use and speaks plain http:// only.
type APIConn struct {
	api  *API
	host string
	path string // base path prefix
	conn net.Conn
	br   *bufio.Reader
	buf  []byte
}

// DialAPI connects to the API of a plain http:// base URL.
func DialAPI(ctx context.Context, api *API) (*APIConn, error) {
	u, err := url.Parse(api.BaseURL)
	if err != nil || u.Scheme != "http" {
		return nil, fmt.Errorf("client: APIConn needs an http:// URL, not %q", api.BaseURL)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	return &APIConn{api: api, host: u.Host, path: strings.TrimSuffix(u.Path, "/"), conn: conn, br: bufio.NewReaderSize(conn, 4096)}, nil
}

// Close closes the connection.
func (c *APIConn) Close() error { return c.conn.Close() }

// Trigger publishes one event and returns the response body.
func (c *APIConn) Trigger(ev TriggerEvent) ([]byte, error) {
	body, _ := json.Marshal(ev)
	return c.post("/events", body)
}

// Batch publishes several events in one request.
func (c *APIConn) Batch(events []TriggerEvent) ([]byte, error) {
	body, _ := json.Marshal(map[string]any{"batch": events})
	return c.post("/batch_events", body)
}

func (c *APIConn) post(path string, body []byte) ([]byte, error) {
	now := time.Now
	if c.api.Now != nil {
		now = c.api.Now
	}
	sum := md5.Sum(body)
	q := url.Values{
		"auth_key":       {c.api.Key},
		"auth_timestamp": {strconv.FormatInt(now().Unix(), 10)},
		"auth_version":   {"1.0"},
		"body_md5":       {hex.EncodeToString(sum[:])},
	}
	full := "/apps/" + c.api.AppID + path
	q.Set("auth_signature", protocol.Sign(c.api.Secret, protocol.APISigningString("POST", full, q)))
	b := c.buf[:0]
	b = append(b, "POST "...)
	b = append(b, c.path...)
	b = append(b, full...)
	b = append(b, '?')
	b = append(b, q.Encode()...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.host...)
	b = append(b, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	c.buf = b
	if _, err := c.conn.Write(b); err != nil {
		return nil, err
	}
	return c.readResponse()
}

// readResponse reads one HTTP/1.1 response with a Content-Length body.
func (c *APIConn) readResponse() ([]byte, error) {
	status, err := c.br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	parts := strings.SplitN(status, " ", 3)
	if len(parts) < 2 {
		return nil, fmt.Errorf("client: malformed status line %q", status)
	}
	code, err := strconv.Atoi(parts[1])
	if err != nil {
		return nil, fmt.Errorf("client: malformed status line %q", status)
	}
	length := -1
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if line == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "content-length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if length < 0 {
		return nil, errors.New("client: response without Content-Length")
	}
	body := make([]byte, length)
	if _, err := io.ReadFull(c.br, body); err != nil {
		return nil, err
	}
	if code/100 != 2 {
		return body, &StatusError{Status: code, Body: string(body)}
	}
	return body, nil
}
