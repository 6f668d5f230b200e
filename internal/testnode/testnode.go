// Package testnode runs real quaver processes for tests that need what an
// in-process server cannot give: the binary as a user runs it, several
// nodes, SIGKILL, restarts. The binary comes from testenv.Binary.
package testnode

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/internal/testenv"
)

// Test app credentials of every node started without Options.Bare.
const (
	AppID     = "test-app"
	AppKey    = "test-key"
	AppSecret = "test-secret"
)

// Options configure a node.
type Options struct {
	// Args are command-line arguments after `start` and, unless Bare,
	// after --port and the test app's flags.
	Args []string
	// Env are KEY=VALUE entries added to the environment, which keeps no
	// QUAVER_ or REVERB_ setting of the developer's own (testenv.Environ).
	Env []string
	// Bare leaves out --port and the test app's flags, for tests of how
	// quaver is configured: Args, Env or a file choose the port and apps,
	// and Port must be the port they choose.
	Bare bool
	// Port is the port the node listens on; zero picks a free one (not
	// with Bare).
	Port int
	// TLS, when set, means the node serves https and wss on its port: URL
	// and WSURL say so, and /up is asked trusting this configuration.
	TLS *tls.Config
	// Binary is the quaver binary to run; testenv.Binary's plain build
	// when empty.
	Binary string
	// ExitZero makes Stop, and so the end of the test, fail the test
	// unless the process exits 0, on SIGTERM or on its own before it; a
	// run ended by Kill is not judged. Without ExitZero only a process that
	// does not exit at all fails the test.
	ExitZero bool
}

// stopTimeout bounds how long Stop waits after SIGTERM.
const stopTimeout = 20 * time.Second

// Node is one quaver process, started again on the same port by Restart.
type Node struct {
	t    testing.TB
	Port int
	Host string
	// URL is http://host:port (https with TLS); WSURL ws://host:port
	// (wss with TLS).
	URL    string
	WSURL  string
	opts   Options
	client *http.Client

	mu  sync.Mutex // guards run
	run *run
}

// run is one run of the process: its output and how it ended.
type run struct {
	cmd    *exec.Cmd
	stdout syncBuffer
	logs   syncBuffer // stdout and stderr as they interleave
	done   chan struct{}
	err    error // the exit status, set before done is closed

	mu      sync.Mutex // guards stopped
	stopped bool       // Stop or Kill has dealt with this run
}

// Start runs a node and waits until /up answers: without Options.Bare, on
// a free port with the test app. The node is stopped (Stop) when the test
// ends, and its output logged if the test failed.
func Start(t testing.TB, o Options) *Node {
	t.Helper()
	if o.Port == 0 {
		if o.Bare {
			t.Fatal("testnode: Bare needs the Port that Args, Env or a file choose")
		}
		o.Port = testenv.FreePort(t)
	}
	if o.Binary == "" {
		o.Binary = testenv.Binary(t)
	}
	n := &Node{t: t, Host: "127.0.0.1", Port: o.Port, opts: o, client: http.DefaultClient}
	hostPort := net.JoinHostPort(n.Host, strconv.Itoa(n.Port))
	n.URL, n.WSURL = "http://"+hostPort, "ws://"+hostPort
	if o.TLS != nil {
		n.URL, n.WSURL = "https://"+hostPort, "wss://"+hostPort
		n.client = &http.Client{Transport: &http.Transport{TLSClientConfig: o.TLS}}
		t.Cleanup(n.client.CloseIdleConnections)
	}
	n.start()
	t.Cleanup(func() {
		n.Stop()
		if t.Failed() {
			t.Logf("node :%d log:\n%s", n.Port, n.Logs())
		}
	})
	return n
}

func (n *Node) start() {
	n.t.Helper()
	args := []string{"start"}
	if !n.opts.Bare {
		args = append(args, "--port", strconv.Itoa(n.Port),
			"--app-id", AppID, "--app-key", AppKey, "--app-secret", AppSecret)
	}
	r := &run{cmd: exec.Command(n.opts.Binary, append(args, n.opts.Args...)...), done: make(chan struct{})}
	r.cmd.Env = testenv.Environ(n.opts.Env...)
	r.cmd.Stdout, r.cmd.Stderr = io.MultiWriter(&r.stdout, &r.logs), &r.logs
	if err := r.cmd.Start(); err != nil {
		n.t.Fatalf("testnode: %v", err)
	}
	go func() { r.err = r.cmd.Wait(); close(r.done) }()
	n.mu.Lock()
	n.run = r
	n.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if n.up() {
			return
		}
		select {
		case <-r.done:
			n.t.Fatalf("testnode: quaver %v exited at start (%v):\n%s", n.opts.Args, r.err, r.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("testnode: quaver did not answer /up:\n%s", r.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (n *Node) up() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.URL+"/up", nil)
	resp, err := n.client.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (n *Node) current() *run {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.run
}

// Kill ends the process with SIGKILL, as a crash would: no cleanup runs.
func (n *Node) Kill() {
	n.t.Helper()
	r := n.current()
	if !r.claim() {
		return
	}
	if err := r.end(syscall.SIGKILL, stopTimeout); errors.Is(err, errStillRunning) {
		n.t.Errorf("testnode: quaver :%d: %v", n.Port, err)
	}
}

// Stop ends the process with SIGTERM and waits for its graceful exit. It
// fails the test if the process has not exited within 20 s, or, with
// Options.ExitZero, if it exits other than 0. Each run is judged once:
// Stop after Stop or Kill does nothing.
func (n *Node) Stop() {
	n.t.Helper()
	r := n.current()
	if !r.claim() {
		return
	}
	err := r.end(syscall.SIGTERM, stopTimeout)
	if errors.Is(err, errStillRunning) || (err != nil && n.opts.ExitZero) {
		n.t.Errorf("testnode: quaver :%d: %v\n%s", n.Port, err, r.logs.String())
	}
}

// Terminate sends SIGTERM, as systemd and Kubernetes do, and waits up to
// within for the process to exit. It returns an error if the process was
// still running then (it is killed) or has exited other than 0, whether
// or not it was running when Terminate was called. The test goes on
// either way: the caller decides what the error means.
func (n *Node) Terminate(within time.Duration) error {
	r := n.current()
	r.claim()
	return r.end(syscall.SIGTERM, within)
}

// Restart starts the process again on the same port, stopping it first
// if it is running.
func (n *Node) Restart() {
	n.t.Helper()
	n.Stop()
	n.start()
}

// Stdout returns what the process wrote to stdout so far (since its last
// start).
func (n *Node) Stdout() string { return n.current().stdout.String() }

// Logs returns what the process wrote to stdout and stderr so far (since
// its last start).
func (n *Node) Logs() string { return n.current().logs.String() }

// LogContains reports whether the node's log has s.
func (n *Node) LogContains(s string) bool { return strings.Contains(n.Logs(), s) }

var errStillRunning = errors.New("still running")

// claim reports whether no Stop or Kill has dealt with r yet, and makes
// sure the next call reports false.
func (r *run) claim() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	first := !r.stopped
	r.stopped = true
	return first
}

// end sends sig unless the process has exited, and waits up to within
// for it to exit; then it kills it. It returns the exit status, or an
// error wrapping errStillRunning.
func (r *run) end(sig syscall.Signal, within time.Duration) error {
	select {
	case <-r.done:
		if r.err != nil {
			return fmt.Errorf("had already exited: %w", r.err)
		}
		return nil
	default:
	}
	_ = r.cmd.Process.Signal(sig)
	select {
	case <-r.done:
	case <-time.After(within):
		_ = r.cmd.Process.Kill()
		<-r.done
		return fmt.Errorf("%w %v after signal %q", errStillRunning, within, sig)
	}
	if r.err != nil {
		return fmt.Errorf("exited with %w after signal %q", r.err, sig)
	}
	return nil
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
