package cmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/internal/testenv"
)

// The tests run the real binary, built with the version stamped the way
// the Makefile does, so they see exactly what a user sees: output, exit
// codes and signal handling.
const testVersion = "v0.0.0-clitest"

// quaver returns the path of that binary, built once per test process.
func quaver(t *testing.T) string {
	t.Helper()
	return testenv.Binary(t, "-X github.com/quaver-dev/quaver/cmd.Version="+testVersion)
}

// result is a finished command.
type result struct {
	stdout, stderr string
	exitCode       int
}

// run runs quaver with args to completion; a command still running after
// 15 s fails the test (it should have failed fast, not served).
func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, quaver(t), args...)
	cmd.Env = testenv.Environ(env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("quaver %s still running after 15s; output:\n%s%s", strings.Join(args, " "), stdout.String(), stderr.String())
	}
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		r.exitCode = exit.ExitCode()
	case err != nil:
		t.Fatalf("quaver %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// writeFile writes content to name in a fresh temporary directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVersion(t *testing.T) {
	r := run(t, nil, "version")
	if r.exitCode != 0 || r.stdout != "quaver "+testVersion+"\n" {
		t.Fatalf("quaver version: exit %d, stdout %q, stderr %q; want exit 0 and %q",
			r.exitCode, r.stdout, r.stderr, "quaver "+testVersion+"\n")
	}
}

func TestUnknownCommandFails(t *testing.T) {
	r := run(t, nil, "serve")
	if r.exitCode == 0 || !strings.Contains(r.stderr, `unknown command "serve"`) {
		t.Fatalf("quaver serve: exit %d, stderr %q; want a non-zero exit naming the command", r.exitCode, r.stderr)
	}
}

const validConfig = `
host: 127.0.0.1
port: %d
apps:
  - id: shop
    key: shop-key
    secret: shop-secret
    allowed_origins: ["https://shop.example.com"]
    max_connections: 500
    client_events: all
  - id: blog
    key: blog-key
    secret: blog-secret
    max_event_size: 65536
`

func TestConfigCheckValid(t *testing.T) {
	// The port is in use: checking must not try to listen.
	port := listening(t)
	file := writeFile(t, "quaver.yaml", fmt.Sprintf(validConfig, port))

	r := run(t, nil, "config", "check", "--config", file)
	if r.exitCode != 0 {
		t.Fatalf("config check on a valid file: exit %d, stderr:\n%s", r.exitCode, r.stderr)
	}
	for _, want := range []string{
		fmt.Sprintf("configuration is valid: 2 app(s), listening on 127.0.0.1:%d", port),
		"app shop (key shop-key)",
		"app blog (key blog-key)",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("config check output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "secret") {
		t.Errorf("config check prints a secret:\n%s", r.stdout)
	}
}

func TestConfigCheckLaravelEnvFile(t *testing.T) {
	env := writeFile(t, ".env", laravelEnv(6001))
	r := run(t, nil, "config", "check", "--env-file", env)
	if r.exitCode != 0 {
		t.Fatalf("config check --env-file: exit %d, stderr:\n%s", r.exitCode, r.stderr)
	}
	for _, want := range []string{"1 app(s), listening on 127.0.0.1:6001", "app 123456 (key laravel-key)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("config check output lacks %q:\n%s", want, r.stdout)
		}
	}
}

// invalidConfig has one problem per line marked with a comment.
const invalidConfig = `
host: ""                  # host
port: 70000               # port
path: api/                # path
tls:
  cert: /nonexistent/cert.pem   # tls.key missing, tls.cert not found
max_request_size: 10      # max_request_size
apps:
  - id: shop
    key: shop-key
    # secret missing
    client_events: sometimes
    max_connections: -1
  - id: shop              # duplicate id
    key: shop/key         # slash in key
    secret: s
    cache_ttl: -5
`

func TestConfigCheckInvalid(t *testing.T) {
	file := writeFile(t, "quaver.yaml", invalidConfig)
	r := run(t, nil, "config", "check", "--config", file)
	if r.exitCode == 0 {
		t.Fatalf("config check on an invalid file exited 0; stdout:\n%s", r.stdout)
	}
	if strings.Contains(r.stdout, "valid") {
		t.Errorf("config check on an invalid file says valid:\n%s", r.stdout)
	}
	wants := []string{
		"host: must not be empty",
		"port: 70000 is not between 0 and 65535",
		`path: "api/" must start with / and not end with /`,
		"tls: cert and key must be given together",
		"tls.cert: stat /nonexistent/cert.pem",
		"max_request_size: 10 is below 1024 bytes",
		"apps[0].secret: required",
		`apps[0].client_events: "sometimes" must be off, members or all`,
		"apps[0].max_connections: -1 must not be negative",
		`apps[1].id: "shop" is also the id of apps[0]`,
		"apps[1].key: must not contain / ? or #",
		"apps[1].cache_ttl: -5 must not be negative",
	}
	for _, want := range wants {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("config check does not report %q; stderr:\n%s", want, r.stderr)
		}
	}
	if n := strings.Count(r.stderr, "\n  - "); n != len(wants) {
		t.Errorf("config check lists %d problems, want %d; stderr:\n%s", n, len(wants), r.stderr)
	}
}

// Problems that stop the configuration from being read at all are named
// too: the misspelt YAML field, the environment variable, the missing file.
func TestConfigCheckUnreadable(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{
			name: "misspelt field",
			args: []string{"--config", writeFile(t, "quaver.yaml", "apps:\n  - id: a\n    key: k\n    secrett: s\n")},
			want: []string{"line 4", "field secrett not found"},
		},
		{
			name: "environment variable",
			env:  []string{"REVERB_SERVER_PORT=eighty", "REVERB_APP_ID=1", "REVERB_APP_KEY=k", "REVERB_APP_SECRET=s", "REVERB_APP_MAX_CONNECTIONS=lots"},
			want: []string{`REVERB_SERVER_PORT: "eighty" is not a whole number`, `REVERB_APP_MAX_CONNECTIONS: "lots" is not a whole number`},
		},
		{
			name: "missing file",
			args: []string{"--config", "/nonexistent/quaver.yaml"},
			want: []string{"/nonexistent/quaver.yaml", "no such file"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, c.env, append([]string{"config", "check"}, c.args...)...)
			if r.exitCode == 0 {
				t.Fatalf("exit 0, want a failure; stdout:\n%s", r.stdout)
			}
			for _, want := range c.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
		})
	}
}

// laravelEnv is a Laravel application's .env after `php artisan
// install:broadcasting`, serving on port.
func laravelEnv(port int) string {
	return fmt.Sprintf(`APP_NAME=Laravel
APP_ENV=local
APP_KEY=base64:2fl+Ktvkfl+Fuz4Qp/A75G2RTiWVA/ZoKZvp6fiiM10=
APP_URL=http://localhost

BROADCAST_CONNECTION=reverb
QUEUE_CONNECTION=database

REVERB_APP_ID=123456
REVERB_APP_KEY=laravel-key
REVERB_APP_SECRET="laravel-secret"
REVERB_HOST="localhost"
REVERB_PORT=8080
REVERB_SCHEME=http
REVERB_SERVER_HOST=127.0.0.1
REVERB_SERVER_PORT=%d

VITE_REVERB_APP_KEY="${REVERB_APP_KEY}"
VITE_REVERB_HOST="${REVERB_HOST}"
VITE_REVERB_PORT="${REVERB_PORT}"
VITE_REVERB_SCHEME="${REVERB_SCHEME}"
`, port)
}
