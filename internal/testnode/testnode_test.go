package testnode

import (
	"strings"
	"testing"
	"time"
)

// A node answers on its URL, says so on stdout, exits 0 on SIGTERM, and
// after a restart and a SIGKILL its exit is reported as not clean.
func TestNodeLifecycle(t *testing.T) {
	n := Start(t, Options{})
	if out := n.Stdout(); !strings.Contains(out, "listening on "+n.URL) {
		t.Errorf("stdout lacks %q:\n%s", "listening on "+n.URL, out)
	}
	if err := n.Terminate(10 * time.Second); err != nil {
		t.Fatalf("Terminate: %v, want a clean exit", err)
	}
	n.Restart()
	if !n.up() {
		t.Fatal("no /up after Restart")
	}
	n.Kill()
	if err := n.Terminate(time.Second); err == nil || !strings.Contains(err.Error(), "had already exited") {
		t.Errorf("Terminate after Kill: %v, want the killed exit reported", err)
	}
}
