//go:build linux

package connection

import (
	"net/http"
	"syscall"
	"time"

	"github.com/quaver-dev/quaver/apps"
	"github.com/quaver-dev/quaver/protocol"
)

// servePolled upgrades a plain-TCP request and hands the socket to the
// poll loops. Refusals are sent as pusher-js expects: a pusher:error frame,
// then a close with the same code.
func (w *WebSocket) servePolled(rw http.ResponseWriter, r *http.Request, app *apps.App, failure *protocol.Error) {
	accept, err := checkUpgrade(r)
	if err != nil {
		http.Error(rw, "Bad Request: "+err.Error(), http.StatusBadRequest)
		return
	}
	enc, subprotocol := negotiateEncoding(r, w.deflater)
	var extensions string
	if enc.deflate != nil {
		extensions = deflateResponse
	}
	nc, early, err := hijackUpgrade(rw, accept, subprotocol, extensions)
	if err != nil {
		return
	}
	if failure != nil {
		refuse(nc, failure, enc)
		return
	}
	fd, err := detachFD(nc)
	if err != nil {
		_ = nc.Close()
		return
	}
	t := &tcpTransport{fd: fd, writers: w.writers, enc: enc, frames: frameReader{maxMessage: w.maxMessageSize, deflate: enc.deflate != nil}}
	c, failure := w.hub.Admit(app, t)
	if failure != nil {
		// Not admitted, so not a connection: no cleanup, no end to report.
		_, _ = t.write(refusal(failure, enc))
		_ = syscall.Close(fd)
		return
	}
	t.conn = c
	c.Open()
	// Frames the client sent with its handshake come before what the loop
	// reads later.
	if len(early) > 0 {
		if err := t.frames.feed(early, t); err != nil {
			c.TransportClosed("malformed first frames")
			t.shutdown()
			return
		}
	}
	if err := w.poller.add(t); err != nil {
		c.TransportClosed("cannot watch the socket: " + err.Error())
		t.shutdown()
	}
}

// refusal is the pusher:error frame, in the connection's encoding, and the
// close frame that refuse a connection.
func refusal(failure *protocol.Error, enc encoding) []byte {
	b := enc.appendFrame(nil, protocol.ErrorFrame(failure.Code, failure.Message, ""))
	return appendControlFrame(b, opClose, closePayload(uint16(failure.Code), failure.Message))
}

// refuse sends the refusal on a connection not yet detached and closes it.
func refuse(nc interface {
	Write([]byte) (int, error)
	SetWriteDeadline(time.Time) error
	Close() error
}, failure *protocol.Error, enc encoding) {
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = nc.Write(refusal(failure, enc))
	_ = nc.Close()
}
