// Command writefloor measures the floor under a fan-out's latency on this
// machine: what it costs just to write one small frame to each of N
// loopback TCP sockets, one write(2) after another, with nothing of a
// server around the writes. A reader process, pinned to another CPU, takes
// the bytes as a load tool's connections would.
//
//	taskset -c 0 go run ./scripts/writefloor            # 1,000 sockets, reader on CPU 1
//	taskset -c 0 go run ./scripts/writefloor -conns 5000 -reader-cpu 1
//
// BENCHMARKS.md compares `quaver bench fanout` with its figures: a server
// cannot deliver one event to 1,000 subscribers faster than this loop
// writes to 1,000 sockets.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// readerEnv, when set, makes the process the reader: it dials that many
// connections to the address in its arguments and drains them.
const readerEnv = "WRITEFLOOR_READER_CONNS"

func main() {
	if n := os.Getenv(readerEnv); n != "" {
		conns, _ := strconv.Atoi(n)
		if err := read(os.Args[1], conns); err != nil {
			fmt.Fprintln(os.Stderr, "reader:", err)
			os.Exit(1)
		}
		return
	}
	conns := flag.Int("conns", 1000, "sockets to write to")
	rounds := flag.Int("rounds", 300, "rounds of one write per socket")
	interval := flag.Duration("interval", 50*time.Millisecond, "pause between rounds (20 events/s at 50ms)")
	size := flag.Int("size", 120, "bytes per write: about a WebSocket frame of a small event")
	readerCPU := flag.String("reader-cpu", "1", "CPU list for the reader process (taskset -c)")
	flag.Parse()
	if err := run(*conns, *rounds, *interval, *size, *readerCPU); err != nil {
		fmt.Fprintln(os.Stderr, "writefloor:", err)
		os.Exit(1)
	}
}

func run(conns, rounds int, interval time.Duration, size int, readerCPU string) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	reader := exec.Command("taskset", "-c", readerCPU, self, ln.Addr().String())
	reader.Env = append(os.Environ(), readerEnv+"="+strconv.Itoa(conns))
	reader.Stderr = os.Stderr
	if err := reader.Start(); err != nil {
		return fmt.Errorf("starting the reader (is taskset installed?): %w", err)
	}
	defer func() { _ = reader.Process.Kill(); _ = reader.Wait() }()

	fds, err := accept(ln, conns)
	if err != nil {
		return err
	}
	msg := make([]byte, size)
	// done holds, for every write, when it returned after its round began:
	// what a fan-out's delivery latency would be if the server did nothing
	// but write.
	done := make([]time.Duration, 0, rounds*len(fds))
	whole := make([]time.Duration, 0, rounds)
	at := make([]time.Duration, len(fds))
	for r := range rounds {
		time.Sleep(interval)
		start := time.Now()
		for i, fd := range fds {
			if _, err := syscall.Write(fd, msg); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			at[i] = time.Since(start)
		}
		whole = append(whole, at[len(at)-1])
		done = append(done, at...)
		if r%20 == 19 {
			fmt.Fprintf(os.Stderr, "\rround %d/%d", r+1, rounds)
		}
	}
	fmt.Fprintln(os.Stderr)
	slices.Sort(whole)
	slices.Sort(done)
	pct := func(d []time.Duration, p float64) time.Duration {
		return d[int(float64(len(d)-1)*p/100)].Round(10 * time.Microsecond)
	}
	fmt.Printf("%d sockets × %d rounds, %d bytes per write, reader on CPU %s\n", conns, rounds, size, readerCPU)
	fmt.Printf("  a round's writes:  p50 %v, p99 %v (%v per write at p50)\n",
		pct(whole, 50), pct(whole, 99), (pct(whole, 50) / time.Duration(conns)).Round(10*time.Nanosecond))
	fmt.Printf("  each write done after its round began: p50 %v, p95 %v, p99 %v\n",
		pct(done, 50), pct(done, 95), pct(done, 99))
	return nil
}

// accept takes n connections and returns their descriptors, non-blocking
// as a server's are. The files stay referenced so their descriptors stay
// open.
func accept(ln net.Listener, n int) ([]int, error) {
	fds := make([]int, 0, n)
	files := make([]*os.File, 0, n)
	for len(fds) < n {
		c, err := ln.Accept()
		if err != nil {
			return nil, err
		}
		f, err := c.(*net.TCPConn).File()
		if err != nil {
			return nil, err
		}
		_ = c.Close() // the duplicate in f stays open
		if err := syscall.SetNonblock(int(f.Fd()), true); err != nil {
			return nil, err
		}
		files = append(files, f)
		fds = append(fds, int(f.Fd()))
	}
	keepOpen = files
	return fds, nil
}

// keepOpen holds the accepted files for the life of the process.
var keepOpen []*os.File

// read dials conns connections to addr and drains them until killed.
func read(addr string, conns int) error {
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		go func() { _, _ = io.Copy(io.Discard, c) }()
	}
	select {}
}
