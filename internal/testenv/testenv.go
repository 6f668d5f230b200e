// Package testenv is what tests share about their surroundings: the
// repository root, a free loopback port, a clean environment for the
// processes they start, and the quaver binary, built once per test process
// into bin/. It imports only the standard library, so any test helper in
// internal/ may use it.
package testenv

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// RepoRoot returns the repository root: the nearest directory above the
// working directory that holds go.mod. It fails the test if there is none.
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return root
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
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// FreePort returns a loopback TCP port that nothing listened on a moment
// ago. Another process may take it before the caller does.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Environ returns the test process's environment without any QUAVER_ or
// REVERB_ setting, plus extra (KEY=VALUE entries), so a developer's own
// settings cannot change what a started process does.
func Environ(extra ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "QUAVER_") && !strings.HasPrefix(kv, "REVERB_") {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// build is one binary Binary makes, once.
type build struct {
	once sync.Once
	path string
	err  error
}

var (
	buildsMu sync.Mutex
	builds   = map[string]*build{}
)

// Binary builds cmd/quaver with ldflags (joined into one -ldflags value,
// e.g. "-X github.com/quaver-dev/quaver/cmd.Version=v1") and returns its
// path in bin/. Each set of ldflags is built once per test process; the
// file is replaced atomically, so test processes building at the same
// time never run a half-written binary. A failed build fails the test.
func Binary(t testing.TB, ldflags ...string) string {
	t.Helper()
	flags := strings.Join(ldflags, " ")
	buildsMu.Lock()
	b := builds[flags]
	if b == nil {
		b = &build{}
		builds[flags] = b
	}
	buildsMu.Unlock()
	b.once.Do(func() { b.path, b.err = buildQuaver(flags) })
	if b.err != nil {
		t.Fatalf("testenv: %v", b.err)
	}
	return b.path
}

func buildQuaver(ldflags string) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	name := "quaver-test"
	if ldflags != "" {
		sum := sha256.Sum256([]byte(ldflags))
		name += "-" + hex.EncodeToString(sum[:4])
	}
	// Built in a directory beside the destination and renamed into place:
	// a rename within one file system is atomic.
	tmp, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	built := filepath.Join(tmp, "quaver")
	args := []string{"build", "-o", built}
	if ldflags != "" {
		args = append(args, "-ldflags", ldflags)
	}
	cmd := exec.Command("go", append(args, "./cmd/quaver")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/quaver: %v\n%s", err, out)
	}
	path := filepath.Join(dir, name)
	if err := os.Rename(built, path); err != nil {
		return "", err
	}
	return path, nil
}
