// Package redistest starts real redis-server processes for tests: a single
// server or a Redis Cluster of several masters, on free loopback ports,
// without persistence, stopped when the test ends. redis-server comes from
// Debian; `make test` installs it when missing.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/internal/testenv"
	"github.com/redis/go-redis/v9"
)

// Server is one running redis-server.
type Server struct {
	t    testing.TB
	Addr string
	Port int
	dir  string
	args []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// URL returns redis://addr.
func (s *Server) URL() string { return "redis://" + s.Addr }

// Start runs a redis-server on a free port.
func Start(t testing.TB, extraArgs ...string) *Server {
	t.Helper()
	port := testenv.FreePort(t)
	s := &Server{t: t, Port: port, Addr: "127.0.0.1:" + strconv.Itoa(port), dir: t.TempDir()}
	s.args = append([]string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--protected-mode", "no",
	}, extraArgs...)
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start() {
	s.t.Helper()
	cmd := exec.Command("redis-server", s.args...)
	log, err := os.Create(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redistest: starting redis-server (run ./scripts/test-deps.sh): %v", err)
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	go func() { _ = cmd.Wait(); _ = log.Close() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
		err := c.Ping(context.Background()).Err()
		_ = c.Close()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			s.t.Fatalf("redistest: redis-server on %s did not answer: %v\n%s", s.Addr, err, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server (its data is lost, as with a crash).
func (s *Server) Stop() {
	s.mu.Lock()
	cmd := s.cmd
	s.cmd = nil
	s.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if conn, err := net.DialTimeout("tcp", s.Addr, 50*time.Millisecond); err != nil {
				return
			} else {
				_ = conn.Close()
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// Restart kills the server and starts it again on the same port, empty.
func (s *Server) Restart() {
	s.Stop()
	s.start()
}

// Revive starts a stopped server again on the same port, empty.
func (s *Server) Revive() { s.start() }

// Client returns a go-redis client for the server, closed at test end.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	s.t.Cleanup(func() { _ = c.Close() })
	return c
}

// Cluster is a running Redis Cluster.
type Cluster struct {
	Masters []*Server
}

// Addrs returns the masters' addresses, the seeds for a cluster client.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Masters))
	for i, m := range c.Masters {
		out[i] = m.Addr
	}
	return out
}

// StartCluster runs a Redis Cluster of n masters (no replicas), created
// with redis-cli --cluster create, and waits until every slot is served.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	c := &Cluster{}
	for range n {
		// The cluster bus gets its own free port: the default, port+10000,
		// may be taken or out of range.
		bus := strconv.Itoa(testenv.FreePort(t))
		c.Masters = append(c.Masters, Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000", "--cluster-port", bus))
	}
	args := append([]string{"--cluster", "create"}, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command("redis-cli", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c.ready() {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: cluster not ready:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) ready() bool {
	for _, m := range c.Masters {
		cl := redis.NewClient(&redis.Options{Addr: m.Addr})
		info, err := cl.ClusterInfo(context.Background()).Result()
		_ = cl.Close()
		if err != nil || !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_ok:16384") {
			return false
		}
	}
	return true
}

// Client returns a cluster client, closed at test end.
func (c *Cluster) Client(t testing.TB) *redis.ClusterClient {
	cl := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs()})
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

// Keys lists the keys of a single server matching pattern, for tests that
// check nothing is left behind.
func (s *Server) Keys(pattern string) []string {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	var out []string
	iter := c.Scan(context.Background(), 0, pattern, 1000).Iterator()
	for iter.Next(context.Background()) {
		out = append(out, iter.Val())
	}
	return out
}

// Log returns the server's log, for failure messages.
func (s *Server) Log() string {
	f, err := os.Open(filepath.Join(s.dir, "redis.log"))
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fmt.Fprintln(&b, sc.Text())
	}
	return b.String()
}
