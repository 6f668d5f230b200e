//go:build linux

package client

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/quaver-dev/quaver/protocol"
)

// Fleet holds many client connections for load generation. Its
// connections cost no goroutine: one epoll loop per reader reads every
// socket with a single read(2) per readiness and hands each text frame,
// raw and undecoded, to a callback. It speaks plain ws:// only and is
// Linux-only; it answers the server's pings so connections stay up.
type Fleet struct {
	readers []*fleetReader
	dials   atomic.Uint64
	stop    context.CancelFunc // ends the readers Start began
	stopped sync.WaitGroup

	mu    sync.Mutex // guards conns
	conns []*fleetConn
}

type fleetConn struct {
	id      int
	net     net.Conn // kept so the descriptor stays open
	fd      int
	onFrame func(raw []byte)
	onClose func(code int)
	pending []byte // the start of a frame split across reads
	writeMu sync.Mutex
	// throttle limits the reading (see Fleet.Throttle); unlimited unless set.
	throttle readThrottle
}

type fleetReader struct {
	epfd int
	// poll is epfd registered with the Go runtime's poller, so waiting for
	// events parks a goroutine instead of blocking a thread.
	poll *os.File
	mu   sync.Mutex // guards byFD
	byFD map[int]*fleetConn
}

// NewFleet returns an empty fleet read by the given number of epoll loops.
func NewFleet(readers int) (*Fleet, error) {
	f := &Fleet{}
	for range max(readers, 1) {
		epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err == nil {
			err = syscall.SetNonblock(epfd, true)
		}
		if err != nil {
			f.Close()
			return nil, err
		}
		f.readers = append(f.readers, &fleetReader{epfd: epfd, poll: os.NewFile(uintptr(epfd), "epoll"), byFD: map[int]*fleetConn{}})
	}
	return f, nil
}

// Dial opens a connection to a ws:// server URL, completes the WebSocket
// and Pusher handshakes, and adds it to the fleet. It returns the
// connection's index and socket id. onFrame receives the connection's text
// frames, in order, on a reader goroutine (once Run runs); the slice is
// only valid during the call.
func (f *Fleet) Dial(ctx context.Context, serverURL, key string, onFrame func(raw []byte)) (int, string, error) {
	return f.DialWith(ctx, serverURL, key, FleetDialOptions{OnFrame: onFrame})
}

// DialWith is Dial with the options of one connection.
func (f *Fleet) DialWith(ctx context.Context, serverURL, key string, o FleetDialOptions) (int, string, error) {
	u, err := url.Parse(serverURL)
	if err != nil || u.Scheme != "ws" {
		return 0, "", fmt.Errorf("client: fleet needs a ws:// URL, not %q", serverURL)
	}
	nc, err := f.dialer(u.Hostname(), o).DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return 0, "", err
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(deadline)
	} else {
		_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	}
	rest, socketID, err := handshake(nc, u, key)
	if err != nil {
		_ = nc.Close()
		return 0, "", err
	}
	_ = nc.SetDeadline(time.Time{})
	fd, err := socketFD(nc)
	if err != nil {
		_ = nc.Close()
		return 0, "", err
	}
	f.mu.Lock()
	c := &fleetConn{id: len(f.conns), net: nc, fd: fd, onFrame: o.OnFrame, onClose: o.OnClose, pending: rest}
	f.conns = append(f.conns, c)
	f.mu.Unlock()
	r := f.readers[c.id%len(f.readers)]
	c.throttle.arm = func(on bool) { r.arm(c, on) }
	r.mu.Lock()
	r.byFD[fd] = c
	r.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
	if err := syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return 0, "", err
	}
	return c.id, socketID, nil
}

// ipBindAddressNoPort is Linux's IP_BIND_ADDRESS_NO_PORT socket option.
const ipBindAddressNoPort = 24

// dialer returns the dialer for the next connection. Towards a loopback
// server, connections come from 127.0.0.2-127.0.0.255 in turn, with the
// port chosen at connect time: tens of thousands of connections from one
// source address exhaust its ephemeral ports, and the kernel's search for
// a free one then dominates the cost of connecting.
func (f *Fleet) dialer(host string, o FleetDialOptions) *net.Dialer {
	d := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { setSocketOptions(int(fd), o) })
	}}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() || ip.To4() == nil {
		return d
	}
	n := f.dials.Add(1)
	d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+n%254))}
	d.Control = func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
			setSocketOptions(int(fd), o)
		})
	}
	return d
}

// handshake upgrades nc and reads pusher:connection_established. It returns
// the bytes read past that frame and the socket id.
func handshake(nc net.Conn, u *url.URL, key string) ([]byte, string, error) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	path := strings.TrimSuffix(u.Path, "/") + "/app/" + key + "?protocol=7&client=quaver-fleet&version=1"
	req := "GET " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(nonce) + "\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		return nil, "", err
	}
	br := bufio.NewReaderSize(nc, 4096)
	status, err := br.ReadString('\n')
	if err != nil {
		return nil, "", err
	}
	if !strings.HasPrefix(status, "HTTP/1.1 101") {
		return nil, "", fmt.Errorf("client: upgrade refused: %s", strings.TrimSpace(status))
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, "", err
		}
		if line == "\r\n" {
			break
		}
	}
	var buf []byte
	for {
		payload, opcode, n := parseFrame(buf)
		if n > 0 {
			if opcode != 1 {
				return nil, "", fmt.Errorf("client: unexpected frame opcode %d in the handshake", opcode)
			}
			socketID, err := establishedSocketID(payload)
			return append([]byte(nil), buf[n:]...), socketID, err
		}
		chunk := make([]byte, 4096)
		m, err := br.Read(chunk)
		if err != nil {
			return nil, "", err
		}
		buf = append(buf, chunk[:m]...)
	}
}

func establishedSocketID(payload []byte) (string, error) {
	var msg struct {
		Event string `json:"event"`
		Data  string `json:"data"`
	}
	if err := json.Unmarshal(payload, &msg); err != nil {
		return "", err
	}
	if msg.Event != protocol.EventConnectionEstablished {
		var d struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		}
		var raw struct {
			Data json.RawMessage `json:"data"`
		}
		_ = json.Unmarshal(payload, &raw)
		_ = json.Unmarshal(raw.Data, &d)
		return "", &protocol.Error{Code: d.Code, Message: d.Message}
	}
	var d struct {
		SocketID string `json:"socket_id"`
	}
	if err := json.Unmarshal([]byte(msg.Data), &d); err != nil || d.SocketID == "" {
		return "", errors.New("client: connection_established without socket_id")
	}
	return d.SocketID, nil
}

// parseFrame reads one unmasked server frame at the start of b: its payload,
// opcode and total length, or n == 0 when b holds no complete frame.
func parseFrame(b []byte) (payload []byte, opcode byte, n int) {
	if len(b) < 2 {
		return nil, 0, 0
	}
	opcode = b[0] & 0x0f
	length, head := int(b[1]&0x7f), 2
	switch length {
	case 126:
		if len(b) < 4 {
			return nil, 0, 0
		}
		length, head = int(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return nil, 0, 0
		}
		length, head = int(binary.BigEndian.Uint64(b[2:])), 10
	}
	if len(b) < head+length {
		return nil, 0, 0
	}
	return b[head : head+length], opcode, head + length
}

func socketFD(nc net.Conn) (int, error) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return 0, errors.New("client: connection has no descriptor")
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, err
	}
	var fd int
	err = raw.Control(func(f uintptr) { fd = int(f) })
	return fd, err
}

// Send writes one text message, masked as clients must, on connection i.
func (f *Fleet) Send(i int, message []byte) error {
	f.mu.Lock()
	c := f.conns[i]
	f.mu.Unlock()
	return c.send(1, message)
}

func (c *fleetConn) send(opcode byte, payload []byte) error {
	var mask [4]byte
	_, _ = rand.Read(mask[:])
	frame := AppendMaskedFrame(make([]byte, 0, len(payload)+14), 0x80|opcode, payload, mask)
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	_, err := c.net.Write(frame)
	return err
}

// Subscribe sends pusher:subscribe for a public channel on connection i.
func (f *Fleet) Subscribe(i int, channel string) error {
	msg, _ := json.Marshal(map[string]any{"event": protocol.EventSubscribe, "data": map[string]string{"channel": channel, "auth": ""}})
	return f.Send(i, msg)
}

// Start reads every connection in the background until Close. Call it
// once, before or after dialling.
func (f *Fleet) Start() {
	ctx, stop := context.WithCancel(context.Background())
	f.stop = stop
	for _, r := range f.readers {
		f.stopped.Add(1)
		go func() {
			defer f.stopped.Done()
			r.run(ctx)
		}()
	}
}

var (
	pingMessage = []byte(protocol.EventPing)
	pongMessage = []byte(`{"event":"pusher:pong","data":{}}`)
)

func (r *fleetReader) run(ctx context.Context) {
	events := make([]syscall.EpollEvent, 256)
	buf := make([]byte, 64<<10)
	raw, err := r.poll.SyscallConn()
	if err != nil {
		return
	}
	stop := context.AfterFunc(ctx, func() { _ = r.poll.SetReadDeadline(time.Now()) })
	defer stop()
	for ctx.Err() == nil {
		n := 0
		var werr error
		// Read waits (in the runtime's poller) until the epoll descriptor
		// is readable, that is until some connection has data.
		err := raw.Read(func(fd uintptr) bool {
			n, werr = syscall.EpollWait(int(fd), events, 0)
			return n != 0 || (werr != nil && werr != syscall.EINTR)
		})
		if err != nil || werr != nil {
			return
		}
		for _, ev := range events[:n] {
			r.mu.Lock()
			c := r.byFD[int(ev.Fd)]
			r.mu.Unlock()
			if c != nil {
				r.read(c, buf)
			}
		}
	}
}

// read does one read(2), as much as the connection's throttle allows, and
// delivers every complete frame.
func (r *fleetReader) read(c *fleetConn, scratch []byte) {
	throttled := c.throttle.on.Load()
	if throttled {
		if n := c.throttle.allowance(len(scratch), time.Now()); n < len(scratch) {
			if n == 0 {
				return
			}
			scratch = scratch[:n]
		}
	}
	m, err := syscall.Read(c.fd, scratch)
	if err == syscall.EAGAIN || err == syscall.EINTR {
		return
	}
	if err != nil || m == 0 {
		r.drop(c, 0)
		return
	}
	if throttled {
		c.throttle.spent(m, time.Now())
	}
	data := scratch[:m]
	if len(c.pending) > 0 {
		c.pending = append(c.pending, data...)
		data = c.pending
	}
	for {
		payload, opcode, n := parseFrame(data)
		if n == 0 {
			break
		}
		switch opcode {
		case 1:
			if len(payload) < 64 && bytes.Contains(payload, pingMessage) {
				_ = c.send(1, pongMessage)
			} else {
				c.onFrame(payload)
			}
		case 8:
			code := 1005
			if len(payload) >= 2 {
				code = int(binary.BigEndian.Uint16(payload))
			}
			r.drop(c, code)
			return
		case 9:
			_ = c.send(10, payload)
		}
		data = data[n:]
	}
	if len(data) == 0 {
		c.pending = c.pending[:0]
	} else {
		c.pending = append(c.pending[:0:0], data...)
	}
}

// drop ends a connection the server closed (code as for OnClose).
func (r *fleetReader) drop(c *fleetConn, code int) {
	c.throttle.close()
	_ = syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	r.mu.Lock()
	delete(r.byFD, c.fd)
	r.mu.Unlock()
	_ = c.net.Close()
	if c.onClose != nil {
		c.onClose(code)
	}
}

// Close stops the readers, waits for them, and closes every connection
// and the readers' epoll descriptors.
func (f *Fleet) Close() {
	if f.stop != nil {
		f.stop()
		f.stopped.Wait()
	}
	f.mu.Lock()
	conns := f.conns
	f.conns = nil
	f.mu.Unlock()
	for _, c := range conns {
		c.throttle.close()
		_ = c.net.Close()
	}
	for _, r := range f.readers {
		_ = r.poll.Close()
	}
}

// Len returns the number of connections dialed.
func (f *Fleet) Len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.conns)
}
