package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/internal/jsdriver"
	"github.com/quaver-dev/quaver/internal/redistest"
	"github.com/quaver-dev/quaver/internal/testenv"
	"github.com/quaver-dev/quaver/internal/testnode"
)

// Two nodes behind the shipped load balancer configurations, with the real
// HAProxy and nginx: clients connect through the balancer, land on both
// nodes, and behave as if there were one server.
func TestBehindLoadBalancer(t *testing.T) {
	t.Parallel()
	for _, lb := range []string{"haproxy", "nginx"} {
		t.Run(lb, func(t *testing.T) {
			t.Parallel()
			c := startCluster(t, 2, redisURLArgs(redistest.Start(t)))
			port := startBalancer(t, lb, c.nodes)
			c.d.Call("createSdk", args{"name": "lb", "appId": testnode.AppID, "key": testnode.AppKey, "secret": testnode.AppSecret,
				"host": "127.0.0.1", "port": port, "encryptionMasterKeyBase64": masterKey})
			const ch = "presence-lobby"
			names := []string{"ann", "bob", "cid", "dan"}
			for i, name := range names {
				lib := []string{"pusher-js", "echo-reverb"}[i%2]
				c.connect(name, lib, args{"port": port, "sdk": "lb", "channelData": member("u"+name, name)})
				if lib == "pusher-js" {
					c.subscribe(name, ch)
				} else {
					c.echoSubscribe(name, "join", "lobby")
				}
			}
			// leastconn spreads the four clients over both nodes.
			for i, n := range c.nodes {
				eventually(t, fmt.Sprintf("node %d has clients", i), func() bool {
					return localConnections(t, n) >= 1
				})
			}
			c.ok("sdk.trigger", args{"sdk": "lb", "channels": []string{ch}, "event": "news", "data": args{"via": lb}}, nil)
			for _, name := range names {
				c.d.Wait(name+" gets the event through "+lb, jsdriver.And(jsdriver.Type("event", name), func(r jsdriver.Report) bool {
					return r.Channel == ch && strings.HasSuffix(r.Event, "news")
				}))
			}
			var users struct {
				Users []struct{ ID string } `json:"users"`
			}
			c.ok("sdk.get", args{"sdk": "lb", "path": "/channels/" + ch + "/users"}, &users)
			if len(users.Users) != len(names) {
				t.Errorf("users through %s: %v", lb, users.Users)
			}
			if body := getText(t, "http://127.0.0.1:"+strconv.Itoa(port)+"/up"); !strings.Contains(body, `"health":"OK"`) {
				t.Errorf("/up through %s: %s", lb, body)
			}
		})
	}
}

// localConnections reads a node's own connection gauge from /metrics.
func localConnections(t *testing.T, n *testnode.Node) int {
	return int(metricValue(t, getText(t, n.URL+"/metrics"), `quaver_connections{app="`+testnode.AppID+`",transport="ws"}`))
}

// startBalancer runs HAProxy or nginx with the configuration in deploy/,
// pointed at the nodes, and returns its port.
func startBalancer(t *testing.T, lb string, nodes []*testnode.Node) int {
	t.Helper()
	root := testenv.RepoRoot(t)
	port := testenv.FreePort(t)
	dir := t.TempDir()
	var cmd *exec.Cmd
	switch lb {
	case "haproxy":
		cmd = exec.Command(sbin(t, "haproxy"), "-db", "-f", filepath.Join(root, "deploy", "haproxy.cfg"))
		cmd.Env = append(os.Environ(),
			"QUAVER_LB_BIND=127.0.0.1:"+strconv.Itoa(port),
			"QUAVER_NODE1=127.0.0.1:"+strconv.Itoa(nodes[0].Port),
			"QUAVER_NODE2=127.0.0.1:"+strconv.Itoa(nodes[1].Port))
	case "nginx":
		// nginx has no environment variables: the shipped file is used
		// with its addresses and paths replaced.
		raw, err := os.ReadFile(filepath.Join(root, "deploy", "nginx.conf"))
		if err != nil {
			t.Fatal(err)
		}
		conf := strings.NewReplacer(
			"listen 8080;", "listen 127.0.0.1:"+strconv.Itoa(port)+";",
			"127.0.0.1:8081", "127.0.0.1:"+strconv.Itoa(nodes[0].Port),
			"127.0.0.1:8082", "127.0.0.1:"+strconv.Itoa(nodes[1].Port),
			"/tmp/quaver-nginx", filepath.Join(dir, "nginx"),
			"worker_processes auto;", "worker_processes 1;",
			"worker_connections 65536;", "worker_connections 1024;",
		).Replace(string(raw))
		path := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command(sbin(t, "nginx"), "-c", path, "-g", "daemon off;")
	}
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	// nginx forks workers; a process group lets the cleanup end them all.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", lb, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", lb, out)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), 100*time.Millisecond)
		if err == nil {
			_ = conn.Close()
			return port
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not listen on %d:\n%s", lb, port, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sbin finds a daemon that Debian installs in /usr/sbin, which is not on
// every user's PATH.
func sbin(t *testing.T, name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	p := "/usr/sbin/" + name
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s not installed (run ./scripts/test-deps.sh)", name)
	}
	return p
}
