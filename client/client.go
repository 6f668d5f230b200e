package client

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/lxzan/gws"
	"github.com/quaver-dev/quaver/protocol"
)

// Event is one message received from the server.
type Event struct {
	Event   string
	Channel string
	// Data is the data field as sent: for server events usually a JSON
	// string holding JSON (see DataString).
	Data   json.RawMessage
	UserID string
	// Received is when the message was read.
	Received time.Time
}

// DataString returns Data decoded from a JSON string, or Data itself when it
// is not a string.
func (e Event) DataString() string {
	var s string
	if len(e.Data) > 0 && e.Data[0] == '"' && json.Unmarshal(e.Data, &s) == nil {
		return s
	}
	return string(e.Data)
}

// Options configure a connection.
type Options struct {
	// URL is the server's base URL: ws://host:port or wss://host:port,
	// optionally with a path prefix.
	URL string
	Key string
	// Secret, when set, lets Subscribe sign private and presence channels
	// itself (tests and load tools; browsers get signatures from an auth
	// endpoint instead).
	Secret string
	// Query is added to the connection URL (protocol=7 is set by default).
	Query  url.Values
	Header http.Header
	// OnEvent, when set, receives every event on the connection's reader
	// goroutine; otherwise events queue for Next. It must not block long.
	OnEvent func(Event)
	// OnFrame, when set, receives every message after the handshake as the
	// raw frame payload (JSON text, or MessagePack), undecoded, on the
	// reader goroutine; the slice is only valid during the call. It is for load tools, which cannot afford to
	// decode every delivery. OnEvent and Next see nothing then.
	OnFrame func(raw []byte)
	// Queue bounds the events waiting for Next; when full the reader waits,
	// as a slow browser would. Default 1024.
	Queue int
	// HandshakeTimeout bounds Dial. Default 10 s.
	HandshakeTimeout time.Duration
	// Compression negotiates permessage-deflate.
	Compression bool
	// MessagePack asks for Quaver's MessagePack encoding of the Pusher
	// messages (the pusher.msgpack subprotocol; see the README, "Compact
	// framing"). Events arrive decoded the same either way, and Send
	// encodes in MessagePack once the server has agreed. A server that
	// does not know the subprotocol fails the dial.
	MessagePack bool
	// TLSConfig is used for wss:// URLs (e.g. to trust a private CA); nil
	// means the system roots.
	TLSConfig *tls.Config
}

// Client is one connection.
type Client struct {
	opts   Options
	socket *gws.Conn
	// msgpack is set when the server agreed to the MessagePack encoding.
	msgpack  bool
	SocketID string
	// ActivityTimeout is what the server advertised.
	ActivityTimeout time.Duration

	events chan Event
	closed chan struct{}

	mu         sync.Mutex
	closeCode  int
	closeText  string
	closeOnce  sync.Once
	handshaken chan error
}

// ErrClosed is returned once the connection has ended.
var ErrClosed = errors.New("client: connection closed")

// Dial connects and waits for pusher:connection_established. A pusher:error
// instead of it is returned as a *protocol.Error.
func Dial(ctx context.Context, o Options) (*Client, error) {
	if o.Queue == 0 {
		o.Queue = 1024
	}
	if o.HandshakeTimeout == 0 {
		o.HandshakeTimeout = 10 * time.Second
	}
	q := url.Values{"protocol": {"7"}, "client": {"go"}, "version": {"1"}}
	for k, v := range o.Query {
		q[k] = v
	}
	addr := strings.TrimSuffix(o.URL, "/") + "/app/" + o.Key + "?" + q.Encode()
	c := &Client{opts: o, closed: make(chan struct{}), handshaken: make(chan error, 1)}
	if o.OnEvent == nil && o.OnFrame == nil {
		c.events = make(chan Event, o.Queue)
	}
	header := o.Header.Clone()
	if o.MessagePack {
		if header == nil {
			header = http.Header{}
		}
		header.Set("Sec-WebSocket-Protocol", protocol.SubprotocolMsgpack)
	}
	socket, resp, err := gws.NewClient(handler{c}, &gws.ClientOption{
		Addr:               addr,
		RequestHeader:      header,
		HandshakeTimeout:   o.HandshakeTimeout,
		PermessageDeflate:  gws.PermessageDeflate{Enabled: o.Compression},
		ReadMaxPayloadSize: 64 << 20,
		TlsConfig:          o.TLSConfig.Clone(), // gws sets ServerName on it
	})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("client: dial %s: HTTP %d: %w", addr, resp.StatusCode, err)
		}
		return nil, fmt.Errorf("client: dial %s: %w", addr, err)
	}
	c.socket = socket
	c.msgpack = socket.SubProtocol() == protocol.SubprotocolMsgpack
	go socket.ReadLoop()
	timer := time.NewTimer(o.HandshakeTimeout)
	defer timer.Stop()
	select {
	case err := <-c.handshaken:
		if err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	case <-timer.C:
		c.Close()
		return nil, errors.New("client: no connection_established within the handshake timeout")
	case <-ctx.Done():
		c.Close()
		return nil, ctx.Err()
	}
}

// Send sends one message. data is marshalled to JSON unless it is a
// json.RawMessage; in the MessagePack encoding a string is sent as a str
// and anything else as its JSON text in a bin.
func (c *Client) Send(event, channel string, data any) error {
	if c.msgpack {
		b, err := encodeMsgpack(event, channel, data)
		if err != nil {
			return err
		}
		return c.SendBinary(b)
	}
	msg := map[string]any{"event": event}
	if channel != "" {
		msg["channel"] = channel
	}
	if data != nil {
		msg["data"] = data
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	return c.SendRaw(b)
}

// SendRaw sends one text message as given.
func (c *Client) SendRaw(b []byte) error {
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	return c.socket.WriteMessage(gws.OpcodeText, b)
}

// SendBinary sends one binary message.
func (c *Client) SendBinary(b []byte) error {
	select {
	case <-c.closed:
		return ErrClosed
	default:
	}
	return c.socket.WriteMessage(gws.OpcodeBinary, b)
}

// MessagePack reports whether the connection uses the MessagePack
// encoding.
func (c *Client) MessagePack() bool { return c.msgpack }

// Next returns the next event, waiting until one arrives, the connection
// ends or ctx ends. It is only for clients without OnEvent.
func (c *Client) Next(ctx context.Context) (Event, error) {
	select {
	case e := <-c.events:
		return e, nil
	default:
	}
	select {
	case e := <-c.events:
		return e, nil
	case <-c.closed:
		select {
		case e := <-c.events:
			return e, nil
		default:
			return Event{}, ErrClosed
		}
	case <-ctx.Done():
		return Event{}, ctx.Err()
	}
}

// NextMatching returns the next event for which match is true, discarding
// the others.
func (c *Client) NextMatching(ctx context.Context, match func(Event) bool) (Event, error) {
	for {
		e, err := c.Next(ctx)
		if err != nil || match(e) {
			return e, err
		}
	}
}

// Close closes the connection with 1000.
func (c *Client) Close() {
	_ = c.socket.WriteClose(1000, nil)
	_ = c.socket.NetConn().Close()
}

// Abort drops the TCP connection without a close frame, like a client
// that vanished.
func (c *Client) Abort() { _ = c.socket.NetConn().Close() }

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.closed }

// CloseCode returns the WebSocket close code and reason the server sent
// (0 if the connection ended without one or is still open).
func (c *Client) CloseCode() (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode, c.closeText
}

func (c *Client) deliver(e Event) {
	if e.Event == protocol.EventConnectionEstablished && c.SocketID == "" {
		var d struct {
			SocketID        string `json:"socket_id"`
			ActivityTimeout int    `json:"activity_timeout"`
		}
		err := json.Unmarshal([]byte(e.DataString()), &d)
		if err == nil && d.SocketID == "" {
			err = errors.New("client: connection_established without socket_id")
		}
		c.SocketID = d.SocketID
		c.ActivityTimeout = time.Duration(d.ActivityTimeout) * time.Second
		c.handshaken <- err
		return
	}
	if e.Event == protocol.EventError && c.SocketID == "" {
		var d struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal([]byte(e.DataString()), &d)
		select {
		case c.handshaken <- &protocol.Error{Code: d.Code, Message: d.Message}:
		default:
		}
		return
	}
	if c.opts.OnEvent != nil {
		c.opts.OnEvent(e)
		return
	}
	select {
	case c.events <- e:
	case <-c.closed:
	}
}

type handler struct{ c *Client }

func (h handler) OnOpen(*gws.Conn) {}

func (h handler) OnClose(_ *gws.Conn, err error) {
	c := h.c
	c.closeOnce.Do(func() {
		var ce *gws.CloseError
		if errors.As(err, &ce) {
			c.mu.Lock()
			c.closeCode, c.closeText = int(ce.Code), string(ce.Reason)
			c.mu.Unlock()
		}
		close(c.closed)
		select {
		case c.handshaken <- ErrClosed:
		default:
		}
	})
}

func (h handler) OnPing(socket *gws.Conn, payload []byte) { _ = socket.WritePong(payload) }

func (h handler) OnPong(*gws.Conn, []byte) {}

func (h handler) OnMessage(_ *gws.Conn, m *gws.Message) {
	defer m.Close()
	if h.c.opts.OnFrame != nil && h.c.SocketID != "" {
		h.c.opts.OnFrame(m.Bytes())
		return
	}
	now := time.Now()
	if m.Opcode == gws.OpcodeBinary {
		if e, err := decodeMsgpack(m.Bytes()); err == nil {
			e.Received = now
			h.c.deliver(e)
		}
		return
	}
	var raw struct {
		Event   string          `json:"event"`
		Channel string          `json:"channel"`
		Data    json.RawMessage `json:"data"`
		UserID  string          `json:"user_id"`
	}
	if err := json.Unmarshal(m.Bytes(), &raw); err != nil {
		return
	}
	h.c.deliver(Event{Event: raw.Event, Channel: raw.Channel, Data: raw.Data, UserID: raw.UserID, Received: now})
}
