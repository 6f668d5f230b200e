package testenv

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

func TestRepoRootHoldsGoMod(t *testing.T) {
	if _, err := os.Stat(filepath.Join(RepoRoot(t), "go.mod")); err != nil {
		t.Fatal(err)
	}
}

func TestFreePortCanBeListenedOn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(FreePort(t)))
	if err != nil {
		t.Fatal(err)
	}
	_ = ln.Close()
}

func TestEnvironDropsQuaverAndReverbSettings(t *testing.T) {
	t.Setenv("QUAVER_PORT", "1")
	t.Setenv("REVERB_APP_KEY", "k")
	env := Environ("QUAVER_PORT=2")
	for _, kv := range env {
		if kv == "QUAVER_PORT=1" || kv == "REVERB_APP_KEY=k" {
			t.Errorf("Environ kept %s", kv)
		}
	}
	if !slices.Contains(env, "QUAVER_PORT=2") {
		t.Errorf("Environ lost the extra QUAVER_PORT=2: %v", env)
	}
	if os.Getenv("PATH") != "" && !slices.Contains(env, "PATH="+os.Getenv("PATH")) {
		t.Error("Environ dropped PATH")
	}
}
