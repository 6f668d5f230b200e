package config_test

import (
	"strings"
	"testing"

	"github.com/quaver-dev/quaver/config"
)

// The HTTP fallback path comes from the file or QUAVER_HTTP_PATH and must
// be a path prefix like path.
func TestHTTPPath(t *testing.T) {
	cfg, err := config.Load(config.Sources{File: write(t, "q.yaml", "http_path: /fallback\n"), Env: []string{"QUAVER_HTTP_PATH=/sockjs"}})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTPPath != "/sockjs" {
		t.Fatalf("http_path %q, want the environment's", cfg.HTTPPath)
	}
	for _, bad := range []string{"pusher", "/pusher/"} {
		cfg := config.WithDevApp(config.Default())
		cfg.HTTPPath = bad
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "http_path") {
			t.Errorf("http_path %q: %v", bad, err)
		}
	}
	if cfg := config.WithDevApp(config.Default()); cfg.Validate() != nil || cfg.HTTPPath != "" {
		t.Fatalf("default http_path %q should be empty (meaning /pusher) and valid", cfg.HTTPPath)
	}
}
