package server_test

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/internal/redistest"
	"github.com/quaver-dev/quaver/internal/testenv"
	"github.com/quaver-dev/quaver/internal/testserver"
)

func get(t *testing.T, method, url string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// checkDashboard requires url to serve the dashboard page: HTML, one inline
// script allowed by its hash and nothing else, nothing loaded from
// elsewhere, the metrics read from next to it, and Redis health shown
// only when the node uses Redis.
func checkDashboard(t *testing.T, url string, withRedis bool) {
	t.Helper()
	resp, page := get(t, http.MethodGet, url)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if n := strings.Count(page, "<script"); n != 1 {
		t.Errorf("the page has %d scripts, want one inline script", n)
	}
	_, script, _ := strings.Cut(page, "<script>")
	script, _, _ = strings.Cut(script, "</script>")
	sum := sha256.Sum256([]byte(script))
	csp := resp.Header.Get("Content-Security-Policy")
	if want := "script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
		t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
	}
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "connect-src 'self'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	for _, m := range regexp.MustCompile(`(?i)\b(?:src|href)\s*=\s*["']?([^"'\s>]*)`).FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[1], "data:") {
			t.Errorf("the page loads %q", m[1])
		}
	}
	if fetches := regexp.MustCompile(`fetch\(([^,)]*)`).FindAllStringSubmatch(page, -1); len(fetches) != 1 || fetches[0][1] != "'metrics'" {
		t.Errorf("the page fetches %q, want only 'metrics'", fetches)
	}
	if want := fmt.Sprintf(`data-redis="%t"`, withRedis); !strings.Contains(page, want) {
		t.Errorf("the page lacks %s", want)
	}

	resp, body := get(t, http.MethodHead, url)
	if resp.StatusCode != http.StatusOK || body != "" {
		t.Errorf("HEAD %s: %d with %d bytes", url, resp.StatusCode, len(body))
	}
	if resp, _ := get(t, http.MethodPost, url); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST %s: %d, Allow %q", url, resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestDashboardNextToMetrics: without metrics_addr, the public port
// serves /dashboard next to /metrics.
func TestDashboardNextToMetrics(t *testing.T) {
	srv := testserver.Start(t)
	checkDashboard(t, srv.URL+"/dashboard", false)
	if resp, _ := get(t, http.MethodGet, srv.URL+"/metrics"); resp.StatusCode != http.StatusOK {
		t.Errorf("/metrics: %d", resp.StatusCode)
	}
}

// TestDashboardUnderPath: under a path prefix, the dashboard and the
// metrics it reads (at "metrics", relative to the page) move together.
func TestDashboardUnderPath(t *testing.T) {
	srv := testserver.Start(t, func(c *config.Config) { c.Path = "/ws" })
	checkDashboard(t, srv.URL+"/ws/dashboard", false)
	if resp, _ := get(t, http.MethodGet, srv.URL+"/ws/metrics"); resp.StatusCode != http.StatusOK {
		t.Errorf("/ws/metrics: %d", resp.StatusCode)
	}
}

// TestDashboardOnMetricsAddr: with metrics_addr, the dashboard moves with
// the metrics to the private address, and the public port serves neither;
// on a node with Redis, the page shows Redis health.
func TestDashboardOnMetricsAddr(t *testing.T) {
	r := redistest.Start(t)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	srv := testserver.Start(t, func(c *config.Config) {
		c.MetricsAddr = addr
		c.Redis.URL = r.URL()
	})
	private := "http://" + addr
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(private + "/metrics")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("private /metrics: %d", resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the metrics address never answered: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	checkDashboard(t, private+"/dashboard", true)
	// The page shows Redis as the gauge says: up once the node registered.
	if _, metrics := get(t, http.MethodGet, private+"/metrics"); !strings.Contains(metrics, "\nquaver_redis_up 1\n") {
		t.Error("quaver_redis_up is not 1 on a node that reaches Redis")
	}
	for _, path := range []string{"/dashboard", "/metrics"} {
		if resp, _ := get(t, http.MethodGet, srv.URL+path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("public %s: %d, want 404", path, resp.StatusCode)
		}
	}
}
