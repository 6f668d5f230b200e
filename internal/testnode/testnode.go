// Package testnode runs real quaver processes for tests that need what an
// in-process server cannot give: several nodes, SIGKILL, restarts. The
// binary is built from cmd/quaver once per test process into bin/.
package testnode

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Test app credentials of every node.
const (
	AppID     = "test-app"
	AppKey    = "test-key"
	AppSecret = "test-secret"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// Binary builds cmd/quaver (once per test process) and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			buildErr = err
			return
		}
		binary = filepath.Join(root, "bin", "quaver-test")
		cmd := exec.Command("go", "build", "-o", binary, "./cmd/quaver")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatalf("testnode: %v", buildErr)
	}
	return binary
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testnode: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Options configure a node. Args are extra command-line arguments; Env
// extra KEY=VALUE environment entries.
type Options struct {
	Args []string
	Env  []string
}

// Node is one running quaver process.
type Node struct {
	t    testing.TB
	Port int
	Host string
	// URL is http://host:port; WSURL ws://host:port.
	URL   string
	WSURL string
	opts  Options

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	logs *bytes.Buffer
}

// Start runs a node with the test app on a free port and waits until /up
// answers. The node is stopped (SIGTERM) when the test ends.
func Start(t testing.TB, o Options) *Node {
	t.Helper()
	n := &Node{t: t, Host: "127.0.0.1", Port: freePort(t), opts: o}
	n.URL = "http://" + net.JoinHostPort(n.Host, strconv.Itoa(n.Port))
	n.WSURL = "ws://" + net.JoinHostPort(n.Host, strconv.Itoa(n.Port))
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
	args := append([]string{"start", "--port", strconv.Itoa(n.Port),
		"--app-id", AppID, "--app-key", AppKey, "--app-secret", AppSecret}, n.opts.Args...)
	cmd := exec.Command(Binary(n.t), args...)
	cmd.Env = append(os.Environ(), n.opts.Env...)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: logs, mu: &n.mu}, &lockedWriter{w: logs, mu: &n.mu}
	if err := cmd.Start(); err != nil {
		n.t.Fatalf("testnode: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	n.mu.Lock()
	n.cmd, n.done, n.logs = cmd, done, logs
	n.mu.Unlock()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if n.up() {
			return
		}
		select {
		case <-done:
			n.t.Fatalf("testnode: quaver exited at start:\n%s", n.Logs())
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("testnode: quaver did not answer /up:\n%s", n.Logs())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (n *Node) up() bool {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.URL+"/up", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Kill ends the process with SIGKILL, as a crash would: no cleanup runs.
func (n *Node) Kill() { n.signal(syscall.SIGKILL) }

// Stop ends the process with SIGTERM and waits for its graceful exit.
func (n *Node) Stop() { n.signal(syscall.SIGTERM) }

// Restart starts the process again on the same port.
func (n *Node) Restart() {
	n.Stop()
	n.start()
}

func (n *Node) signal(sig syscall.Signal) {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		n.t.Errorf("testnode: quaver :%d did not exit within 20s of %v", n.Port, sig)
	}
}

// Logs returns what the node printed so far.
func (n *Node) Logs() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.logs.String()
}

// LogContains reports whether the node's log has s.
func (n *Node) LogContains(s string) bool { return strings.Contains(n.Logs(), s) }

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
