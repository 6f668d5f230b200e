package connection

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
)

// websocketGUID is the fixed key suffix of RFC 6455 section 1.3.
const websocketGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

var errNotWebSocket = errors.New("not a WebSocket handshake")

// checkUpgrade validates a WebSocket opening handshake and returns the
// Sec-WebSocket-Accept value to answer with.
func checkUpgrade(r *http.Request) (string, error) {
	if r.Method != http.MethodGet ||
		!headerHasToken(r.Header, "Connection", "upgrade") ||
		!headerHasToken(r.Header, "Upgrade", "websocket") ||
		r.Header.Get("Sec-WebSocket-Version") != "13" {
		return "", errNotWebSocket
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if decoded, err := base64.StdEncoding.DecodeString(key); err != nil || len(decoded) != 16 {
		return "", errNotWebSocket
	}
	sum := sha1.Sum([]byte(key + websocketGUID))
	return base64.StdEncoding.EncodeToString(sum[:]), nil
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// hijackUpgrade takes the connection over from net/http and completes the
// handshake, answering with the subprotocol and extensions when they are
// not empty. It returns the connection and any bytes the client already
// sent after its request.
func hijackUpgrade(w http.ResponseWriter, accept, subprotocol, extensions string) (net.Conn, []byte, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("connection cannot be taken over")
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	if _, err := conn.Write(switchingProtocols(accept, subprotocol, extensions)); err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	return conn, buffered(brw.Reader), nil
}

// switchingProtocols is the 101 response that completes a handshake.
func switchingProtocols(accept, subprotocol, extensions string) []byte {
	b := make([]byte, 0, 160+len(subprotocol)+len(extensions))
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, accept...)
	if subprotocol != "" {
		b = append(b, "\r\nSec-WebSocket-Protocol: "...)
		b = append(b, subprotocol...)
	}
	if extensions != "" {
		b = append(b, "\r\nSec-WebSocket-Extensions: "...)
		b = append(b, extensions...)
	}
	return append(b, "\r\n\r\n"...)
}

func buffered(br *bufio.Reader) []byte {
	n := br.Buffered()
	if n == 0 {
		return nil
	}
	b, _ := br.Peek(n)
	return append([]byte(nil), b...)
}
