package connection

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/lxzan/gws"
	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/protocol"
)

// WebSocketOptions configure the WebSocket endpoint.
type WebSocketOptions struct {
	// MaxMessageSize bounds an inbound WebSocket message for every app; a
	// larger one closes the socket with 1009. Apps may set a lower limit,
	// which is answered with a pusher:error instead. Default 64 KiB.
	MaxMessageSize int
	// ReadBufferSize is the read buffer of each gws connection (TLS, or
	// GoroutinePerConnection). It is held for the connection's life, so it
	// is small; larger messages are read through it. Default 512 bytes.
	ReadBufferSize int
	// GoroutinePerConnection serves every connection with gws's read loop
	// goroutine, as TLS connections always are, instead of the poll loops.
	GoroutinePerConnection bool
	// Deflate negotiates permessage-deflate (RFC 7692) with clients that
	// offer it, as browsers do, without context takeover: each message is
	// compressed on its own, once per broadcast.
	Deflate bool
	// DeflateThreshold is the payload size in bytes below which frames
	// are sent uncompressed; 0 compresses every frame.
	DeflateThreshold int
}

// WebSocket serves /app/{key}: it checks the handshake as Pusher does,
// upgrades with gws and runs the connection over it.
type WebSocket struct {
	hub *Hub
	// upgraders are gws's, for JSON and for MessagePack (which answers the
	// subprotocol); gws refuses a handshake that offers none of an
	// upgrader's subprotocols, so one upgrader cannot serve both.
	upgrader        *gws.Upgrader
	msgpackUpgrader *gws.Upgrader
	// deflater compresses frames for connections that negotiated
	// permessage-deflate; nil when it is off.
	deflater *deflater
	writers  *writerPool
	// poller serves plain-TCP connections without a goroutine each; nil
	// where it is not available, and for TLS connections, which gws serves.
	poller         *poller
	maxMessageSize int
}

// Run writes the connections' frames until ctx ends; the server runs it for
// as long as connections may need writing, shutdown included.
func (w *WebSocket) Run(ctx context.Context) error {
	if w.poller != nil {
		go w.poller.run(ctx)
	}
	w.writers.run(ctx, runtime.GOMAXPROCS(0))
	return ctx.Err()
}

// NewWebSocket returns the WebSocket endpoint for the hub's connections.
func NewWebSocket(h *Hub, o WebSocketOptions) *WebSocket {
	if o.MaxMessageSize == 0 {
		o.MaxMessageSize = 64 << 10
	}
	if o.ReadBufferSize == 0 {
		o.ReadBufferSize = 512
	}
	w := &WebSocket{hub: h, writers: newWriterPool(h.opts.WriteTimeout), maxMessageSize: o.MaxMessageSize}
	if !o.GoroutinePerConnection {
		w.poller = newPollerIfSupported(runtime.GOMAXPROCS(0), h.opts.WriteTimeout, h.opts.Logger)
	}
	if o.Deflate {
		w.deflater = newDeflater(o.DeflateThreshold)
	}
	w.upgrader = gws.NewUpgrader(wsEvents{}, w.gwsOptions(o, nil))
	w.msgpackUpgrader = gws.NewUpgrader(wsEvents{}, w.gwsOptions(o, []string{protocol.SubprotocolMsgpack}))
	return w
}

// gwsOptions configure gws for the connections it serves. gws decompresses
// inbound messages itself; outbound frames are compressed by the deflater,
// since they are written by the writer pool. Its handshake agrees to
// permessage-deflate whenever the request names it, so ServeHTTP leaves
// the extension header in the request only when acceptsDeflate agrees.
func (w *WebSocket) gwsOptions(o WebSocketOptions, subprotocols []string) *gws.ServerOption {
	return &gws.ServerOption{
		ReadMaxPayloadSize: o.MaxMessageSize,
		ReadBufferSize:     o.ReadBufferSize,
		CheckUtf8Enabled:   true,
		HandshakeTimeout:   5 * time.Second,
		NewSession:         func() gws.SessionStorage { return new(wsSession) },
		Logger:             gwsLogger{w.hub},
		SubProtocols:       subprotocols,
		PermessageDeflate: gws.PermessageDeflate{
			Enabled:               o.Deflate,
			Level:                 deflateLevel,
			Threshold:             max(o.DeflateThreshold, 1),
			PoolSize:              4, // for the few frames gws writes itself
			ServerContextTakeover: false,
			ClientContextTakeover: false,
		},
	}
}

// ServeHTTP upgrades the request. The app key is the last path element, so
// the handler can be mounted under any prefix. Handshake failures are sent
// the way pusher-js expects them: a pusher:error frame, then a close with
// the same code.
func (w *WebSocket) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	app, failure := w.check(r)
	if w.poller != nil && r.TLS == nil {
		w.servePolled(rw, r, app, failure)
		return
	}
	enc, subprotocol := negotiateEncoding(r, w.deflater)
	if enc.deflate != nil {
		r.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate")
	} else {
		r.Header.Del("Sec-WebSocket-Extensions")
	}
	upgrader := w.upgrader
	if subprotocol != "" {
		upgrader = w.msgpackUpgrader
	}
	socket, err := upgrader.Upgrade(rw, r)
	if err != nil {
		return // gws has answered with 400
	}
	t := &wsTransport{socket: socket, net: socket.NetConn(), raw: rawConn(socket.NetConn()), writers: w.writers, enc: enc}
	if failure == nil {
		t.conn, failure = w.hub.Admit(app, t)
	}
	if failure != nil {
		_ = t.net.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = t.net.Write(enc.appendFrame(nil, protocol.ErrorFrame(failure.Code, failure.Message, "")))
		_ = socket.WriteClose(uint16(failure.Code), []byte(failure.Message))
		return
	}
	socket.Session().(*wsSession).transport = t
	t.conn.Open()
	go socket.ReadLoop()
}

// check validates the handshake request: protocol version, app, origin.
func (w *WebSocket) check(r *http.Request) (*apps.App, *protocol.Error) {
	// pusher-js and Echo send protocol=7, the Java client 5; a client that
	// sends none is refused with 4008, as Pusher documents.
	v := r.URL.Query().Get("protocol")
	if v == "" {
		return nil, protocol.ErrNoProtocol
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return nil, protocol.ErrInvalidVersion
	}
	if n < 5 || n > 7 {
		return nil, protocol.ErrUnsupportedProtocol
	}
	app, err := w.hub.opts.Apps.ByKey(r.Context(), path.Base(r.URL.Path))
	if err != nil {
		return nil, protocol.ErrAppNotFound
	}
	if app.Disabled {
		return nil, protocol.ErrAppDisabled
	}
	if !app.OriginAllowed(r.Header.Get("Origin")) {
		return nil, protocol.ErrOriginNotAllowed
	}
	return app, nil
}

// wsTransport writes a connection's frames to its socket. Frames are framed
// here rather than by gws so that a whole batch leaves in one write; gws
// still reads, answers control frames and sends the close frame, each with
// a single Write that cannot interleave with ours (writes to one socket
// are serialized by the runtime).
type wsTransport struct {
	socket *gws.Conn
	net    net.Conn
	// raw is the socket's descriptor for non-blocking writes; nil on TLS.
	raw     syscall.RawConn
	conn    *Conn
	writers *writerPool
	enc     encoding
}

func (t *wsTransport) Name() string { return "ws" }

// finishes marks wsTransport as a finisher: OnClose reports its end, after
// the close frame was written (gws closes the socket after writing it).
func (t *wsTransport) finishes() {}

func (t *wsTransport) Wake() { t.writers.schedule(t) }

// wsSession is the per-socket storage gws keeps; it holds only the
// transport, instead of gws's default map.
type wsSession struct{ transport *wsTransport }

func (s *wsSession) Len() int                     { return 0 }
func (s *wsSession) Load(string) (any, bool)      { return nil, false }
func (s *wsSession) Delete(string)                {}
func (s *wsSession) Store(string, any)            {}
func (s *wsSession) Range(func(string, any) bool) {}
func transportOf(socket *gws.Conn) *wsTransport   { return socket.Session().(*wsSession).transport }

// wsEvents routes gws callbacks to the socket's connection.
type wsEvents struct{}

func (wsEvents) OnOpen(*gws.Conn) {}

func (wsEvents) OnClose(socket *gws.Conn, err error) {
	if t := transportOf(socket); t != nil {
		t.conn.TransportClosed(err.Error())
		t.conn.TransportEnded()
	}
}

func (wsEvents) OnPing(socket *gws.Conn, payload []byte) {
	_ = socket.WritePong(payload)
	if t := transportOf(socket); t != nil {
		t.conn.Touch()
	}
}

func (wsEvents) OnPong(socket *gws.Conn, _ []byte) {
	if t := transportOf(socket); t != nil {
		t.conn.Touch()
	}
}

func (wsEvents) OnMessage(socket *gws.Conn, message *gws.Message) {
	defer message.Close()
	t := transportOf(socket)
	if t == nil {
		return
	}
	t.conn.receiveWebSocket(message.Opcode == gws.OpcodeBinary, t.enc.msgpack, message.Bytes())
}

// gwsLogger sends gws's own errors to the hub's logger.
type gwsLogger struct{ h *Hub }

func (l gwsLogger) Error(v ...any) {
	l.h.opts.Logger.Warn("websocket", "detail", fmt.Sprint(v...))
}
