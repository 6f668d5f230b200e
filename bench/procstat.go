package bench

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
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

// processTicks reads a process's user+system CPU time from /proc.
func processTicks(pid int) (time.Duration, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14 and stime 15.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("bench: short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bench: malformed /proc/%d/stat", pid)
	}
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond, nil
}

// ServerUsage is what the server process used during a run, read from
// /proc when its pid is given.
type ServerUsage struct {
	// CPUPercent is of one CPU.
	CPUPercent float64 `json:"cpu_percent"`
	RSSBytes   int64   `json:"rss_bytes"`
}

type serverMeter struct {
	pid   int
	start time.Time
	ticks time.Duration
}

func startServerMeter(pid int) serverMeter {
	m := serverMeter{pid: pid, start: time.Now()}
	if pid != 0 {
		m.ticks, _ = processTicks(pid)
	}
	return m
}

func (m serverMeter) stop() *ServerUsage {
	if m.pid == 0 {
		return nil
	}
	ticks, err := processTicks(m.pid)
	if err != nil {
		return nil
	}
	rss, _ := rssBytes(m.pid)
	pct := 100 * float64(ticks-m.ticks) / float64(time.Since(m.start))
	return &ServerUsage{CPUPercent: float64(int(pct*10)) / 10, RSSBytes: rss}
}

func (u *ServerUsage) line() string {
	if u == nil {
		return ""
	}
	return fmt.Sprintf("  server      %.0f%% of one CPU, %.1f MiB RSS at the end\n", u.CPUPercent, float64(u.RSSBytes)/(1<<20))
}
