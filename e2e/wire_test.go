package e2e

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/internal/testserver"
)

// Helpers that look at WebSocket frames on the wire: a proxy that records
// what passes between a client and the server, and a minimal client that
// speaks RFC 6455 and RFC 7692 itself, so tests can offer extensions,
// send compressed frames and see the RSV1 bit of what the server sends.

// wsFrame is one WebSocket frame as seen on the wire.
type wsFrame struct {
	fin     bool
	rsv1    bool
	opcode  byte
	wire    int    // payload bytes on the wire
	payload []byte // unmasked, and inflated when rsv1 is set
}

// inflateMessage undoes permessage-deflate on one message's payload.
func inflateMessage(p []byte) ([]byte, error) {
	return io.ReadAll(flate.NewReader(io.MultiReader(bytes.NewReader(p), strings.NewReader("\x00\x00\xff\xff\x01\x00\x00\xff\xff"))))
}

// deflateMessage compresses a message as a permessage-deflate sender does.
func deflateMessage(p []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	_, _ = w.Write(p)
	_ = w.Flush()
	return bytes.TrimSuffix(buf.Bytes(), []byte{0, 0, 0xff, 0xff})
}

// parseFrame reads one complete frame at the start of b (unmasking and
// inflating it as needed) and the bytes it took; 0 when b holds no whole
// frame.
func parseFrame(b []byte) (wsFrame, int, error) {
	if len(b) < 2 {
		return wsFrame{}, 0, nil
	}
	length, head := uint64(b[1]&0x7f), 2
	switch length {
	case 126:
		if len(b) < 4 {
			return wsFrame{}, 0, nil
		}
		length, head = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return wsFrame{}, 0, nil
		}
		length, head = binary.BigEndian.Uint64(b[2:]), 10
	}
	masked := b[1]&0x80 != 0
	if masked {
		head += 4
	}
	if uint64(len(b)) < uint64(head)+length {
		return wsFrame{}, 0, nil
	}
	f := wsFrame{fin: b[0]&0x80 != 0, rsv1: b[0]&0x40 != 0, opcode: b[0] & 0x0f, wire: int(length)}
	f.payload = append([]byte(nil), b[head:head+int(length)]...)
	if masked {
		mask := b[head-4 : head]
		for i := range f.payload {
			f.payload[i] ^= mask[i%4]
		}
	}
	if f.rsv1 {
		inflated, err := inflateMessage(f.payload)
		if err != nil {
			return wsFrame{}, 0, err
		}
		f.payload = inflated
	}
	return f, head + int(length), nil
}

// parseFrames reads every complete frame in b.
func parseFrames(b []byte) ([]wsFrame, error) {
	var frames []wsFrame
	for {
		f, n, err := parseFrame(b)
		if err != nil || n == 0 {
			return frames, err
		}
		frames = append(frames, f)
		b = b[n:]
	}
}

// wireProxy forwards TCP connections to a server and records both
// directions of each.
type wireProxy struct {
	port int

	mu    sync.Mutex
	conns []*proxiedConn
}

type proxiedConn struct {
	mu       sync.Mutex
	up, down bytes.Buffer // client to server, server to client
}

func (c *proxiedConn) record(buf *bytes.Buffer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		return buf.Write(p)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// startWireProxy listens on a free loopback port and forwards every
// connection to target.
func startWireProxy(t *testing.T, target string) *wireProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &wireProxy{port: ln.Addr().(*net.TCPAddr).Port}
	var wg sync.WaitGroup
	var open []net.Conn
	var openMu sync.Mutex
	t.Cleanup(func() {
		_ = ln.Close()
		openMu.Lock()
		for _, c := range open {
			_ = c.Close()
		}
		openMu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				_ = client.Close()
				continue
			}
			openMu.Lock()
			open = append(open, client, server)
			openMu.Unlock()
			c := &proxiedConn{}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			wg.Add(2)
			go func() {
				defer wg.Done()
				_, _ = io.Copy(io.MultiWriter(server, c.record(&c.up)), client)
				_ = server.Close()
			}()
			go func() {
				defer wg.Done()
				_, _ = io.Copy(io.MultiWriter(client, c.record(&c.down)), server)
				_ = client.Close()
			}()
		}
	}()
	return p
}

// proxied is what one proxied connection carried so far.
type proxied struct {
	request, response string    // the HTTP heads
	up, down          []wsFrame // frames after them
}

// connections returns what each connection carried, in accept order.
func (p *wireProxy) connections(t *testing.T) []proxied {
	t.Helper()
	p.mu.Lock()
	conns := append([]*proxiedConn(nil), p.conns...)
	p.mu.Unlock()
	var out []proxied
	for _, c := range conns {
		c.mu.Lock()
		up, down := append([]byte(nil), c.up.Bytes()...), append([]byte(nil), c.down.Bytes()...)
		c.mu.Unlock()
		var r proxied
		var err error
		r.request, r.up, err = splitHead(up)
		if err != nil {
			t.Fatalf("client to server: %v", err)
		}
		if r.response, r.down, err = splitHead(down); err != nil {
			t.Fatalf("server to client: %v", err)
		}
		out = append(out, r)
	}
	return out
}

func splitHead(b []byte) (string, []wsFrame, error) {
	i := bytes.Index(b, []byte("\r\n\r\n"))
	if i < 0 {
		return "", nil, nil
	}
	frames, err := parseFrames(b[i+4:])
	return string(b[:i+4]), frames, err
}

// headerValue returns a header's value from an HTTP head, "" if absent.
func headerValue(head, name string) string {
	for _, line := range strings.Split(head, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// rawSocket is a WebSocket client written for tests: it offers what it is
// told, sends frames as given, and reports each frame it receives.
type rawSocket struct {
	t        *testing.T
	conn     net.Conn
	br       *bufio.Reader
	response *http.Response
	pending  []byte
}

// dialRawSocket opens a WebSocket to the test app with extra handshake headers
// and query parameters; tlsConfig selects wss.
func dialRawSocket(t *testing.T, srv *testserver.Server, tlsConfig *tls.Config, key, query string, header http.Header) *rawSocket {
	t.Helper()
	addr := net.JoinHostPort(srv.Host, strconv.Itoa(srv.Port))
	var conn net.Conn
	var err error
	if tlsConfig != nil {
		conn, err = tls.Dial("tcp", addr, tlsConfig)
	} else {
		conn, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	req := "GET /app/" + key + "?protocol=7&client=raw&version=1" + query + " HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
		base64.StdEncoding.EncodeToString(nonce) + "\r\n"
	for name, values := range header {
		for _, v := range values {
			req += name + ": " + v + "\r\n"
		}
	}
	if _, err := conn.Write([]byte(req + "\r\n")); err != nil {
		t.Fatal(err)
	}
	s := &rawSocket{t: t, conn: conn, br: bufio.NewReader(conn)}
	if s.response, err = http.ReadResponse(s.br, nil); err != nil {
		t.Fatal(err)
	}
	if s.response.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake answered %s", s.response.Status)
	}
	return s
}

// next returns the next frame from the server, failing the test after
// 10 s.
func (s *rawSocket) next() wsFrame {
	s.t.Helper()
	_ = s.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		f, n, err := parseFrame(s.pending)
		if err != nil {
			s.t.Fatal(err)
		}
		if n > 0 {
			s.pending = s.pending[n:]
			return f
		}
		buf := make([]byte, 64<<10)
		m, err := s.br.Read(buf)
		if err != nil {
			s.t.Fatalf("reading a frame: %v", err)
		}
		s.pending = append(s.pending, buf[:m]...)
	}
}

// nextMessage skips control frames and returns the next data frame.
func (s *rawSocket) nextMessage() wsFrame {
	s.t.Helper()
	for {
		if f := s.next(); f.opcode < 8 {
			return f
		}
	}
}

// closeCode waits for the server's close frame and returns its code.
func (s *rawSocket) closeCode() int {
	s.t.Helper()
	for {
		f := s.next()
		if f.opcode == 8 {
			if len(f.payload) < 2 {
				return 1005
			}
			return int(binary.BigEndian.Uint16(f.payload))
		}
	}
}

// send writes one masked, final frame; b0 carries the opcode and RSV bits.
func (s *rawSocket) send(b0 byte, payload []byte) {
	s.t.Helper()
	frame := client.AppendMaskedFrame(nil, 0x80|b0, payload, [4]byte{0x5a, 0x13, 0xc7, 0x01})
	_ = s.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.conn.Write(frame); err != nil {
		s.t.Fatal(err)
	}
}
