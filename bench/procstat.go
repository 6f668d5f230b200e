package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// rssBytes reads a process's resident set size from /proc.
func rssBytes(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("bench: no VmRSS in /proc/%d/status", pid)
}

// cpuMeter measures the CPU this process uses, to tell when the tool
// rather than the server is the bottleneck.
type cpuMeter struct {
	start time.Time
	used  time.Duration
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPUMeter() cpuMeter { return cpuMeter{start: time.Now(), used: processCPU()} }

// ToolCPU is the share of its CPUs the load tool used during a run.
type ToolCPU struct {
	// Percent of the CPUs the tool may run on (GOMAXPROCS).
	Percent float64 `json:"percent"`
	CPUs    int     `json:"cpus"`
	// Saturated is set when the tool used more than 90%: the figures may
	// then show the tool's limit, not the server's.
	Saturated bool `json:"saturated"`
}

func (m cpuMeter) stop() ToolCPU {
	wall := time.Since(m.start)
	cpus := runtime.GOMAXPROCS(0)
	if wall <= 0 {
		return ToolCPU{CPUs: cpus}
	}
	pct := 100 * float64(processCPU()-m.used) / float64(wall) / float64(cpus)
	return ToolCPU{Percent: float64(int(pct*10)) / 10, CPUs: cpus, Saturated: pct > 90}
}
