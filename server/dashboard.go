package server

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"
	"strings"
	"time"
)

// dashboardPage is the live dashboard: one page, with no dependencies,
// that reads the metrics it is served next to every 2 s and charts them.
//
//go:embed dashboard/index.html
var dashboardPage string

// dashboardHandler serves the dashboard page. Where the node serves
// /metrics, it serves /dashboard, and the page reads "metrics" relative to
// its own address. withRedis tells the page to show Redis health, which it
// cannot tell from the metrics alone: quaver_redis_up is 0 on a node
// without Redis too.
func dashboardHandler(withRedis bool) http.Handler {
	page := dashboardPage
	if withRedis {
		page = strings.Replace(page, `data-redis="false"`, `data-redis="true"`, 1)
	}
	// The page runs its own script and nothing else, and talks only to
	// the listener it came from.
	csp := "default-src 'none'; script-src '" + scriptHash(page) + "'; style-src 'unsafe-inline'; " +
		"img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
	body := []byte(page)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

// scriptHash is the CSP source for the page's inline script.
func scriptHash(page string) string {
	_, script, _ := strings.Cut(page, "<script>")
	script, _, _ = strings.Cut(script, "</script>")
	sum := sha256.Sum256([]byte(script))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}
