// Command writefloor measures the floor under a fan-out's latency on this
// machine: what it costs just to write one small message to each of N
// loopback TCP sockets, one non-blocking write(2) after another (the raw
// system call Quaver's writers make), with nothing of a server around the
// writes. A reader process, pinned to another CPU, takes the bytes as a
// load tool's subscribers would and, like them, times each message's
// arrival from the stamp it carries: the start of its round.
//
//	taskset -c 0 go run ./scripts/writefloor            # 1,000 sockets, reader on CPU 1
//	taskset -c 0 go run ./scripts/writefloor -conns 5000 -reader-cpu 1
//
// BENCHMARKS.md compares `quaver bench fanout` with its figures.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// readerEnv, when set, makes the process the reader: it dials the
// connections to the address in its arguments, reads rounds messages of
// size bytes on each, and prints their arrival latencies' percentiles.
const readerEnv = "WRITEFLOOR_READER" // "conns rounds size"

func main() {
	if spec := os.Getenv(readerEnv); spec != "" {
		var conns, rounds, size int
		if _, err := fmt.Sscan(spec, &conns, &rounds, &size); err != nil {
			fmt.Fprintln(os.Stderr, "reader:", err)
			os.Exit(1)
		}
		if err := read(os.Args[1], conns, rounds, size); err != nil {
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
	if err := run(*conns, *rounds, *interval, max(*size, 8), *readerCPU); err != nil {
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
	reader.Env = append(os.Environ(), fmt.Sprintf("%s=%d %d %d", readerEnv, conns, rounds, size))
	reader.Stderr = os.Stderr
	readerOut, err := reader.StdoutPipe()
	if err != nil {
		return err
	}
	if err := reader.Start(); err != nil {
		return fmt.Errorf("starting the reader (is taskset installed?): %w", err)
	}
	defer func() { _ = reader.Process.Kill(); _ = reader.Wait() }()

	fds, err := accept(ln, conns)
	if err != nil {
		return err
	}
	msg := make([]byte, size)
	// done holds, for every write, when it returned after its round began.
	done := make([]time.Duration, 0, rounds*len(fds))
	for r := range rounds {
		time.Sleep(interval)
		start := time.Now()
		binary.LittleEndian.PutUint64(msg, uint64(start.UnixNano()))
		for _, fd := range fds {
			if err := write(fd, msg); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			done = append(done, time.Since(start))
		}
		if r%20 == 19 {
			fmt.Fprintf(os.Stderr, "\rround %d/%d", r+1, rounds)
		}
	}
	fmt.Fprintln(os.Stderr)
	fmt.Printf("%d sockets × %d rounds, %d bytes per write, reader on CPU %s\n", conns, rounds, size, readerCPU)
	fmt.Printf("  each write returned, after its round began: %s\n", percentiles(done))
	// The reader prints its line once it has every message.
	line, err := bufio.NewReader(readerOut).ReadString('\n')
	if err != nil {
		return fmt.Errorf("the reader's figures: %w", err)
	}
	fmt.Print("  each message read, after its round began:  ", line)
	return nil
}

// write is one non-blocking write(2), made as Quaver's writers make it: a
// raw system call, which the Go scheduler does not see.
func write(fd int, p []byte) error {
	n, _, errno := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	switch {
	case errno != 0:
		return errno
	case int(n) != len(p):
		return fmt.Errorf("short write: %d of %d bytes (the reader fell behind)", n, len(p))
	}
	return nil
}

func percentiles(d []time.Duration) string {
	slices.Sort(d)
	at := func(p float64) time.Duration { return d[int(float64(len(d)-1)*p/100)].Round(10 * time.Microsecond) }
	return fmt.Sprintf("p50 %v, p95 %v, p99 %v", at(50), at(95), at(99))
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

// read dials conns connections to addr, reads rounds messages of size bytes
// on each, and prints the percentiles of their arrival after the stamp they
// carry.
func read(addr string, conns, rounds, size int) error {
	var mu sync.Mutex
	latencies := make([]time.Duration, 0, conns*rounds)
	var wg sync.WaitGroup
	errs := make(chan error, conns)
	for range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, size)
			mine := make([]time.Duration, 0, rounds)
			for range rounds {
				if _, err := io.ReadFull(c, buf); err != nil {
					errs <- err
					return
				}
				mine = append(mine, time.Duration(time.Now().UnixNano()-int64(binary.LittleEndian.Uint64(buf))))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
	}
	fmt.Println(percentiles(latencies) + "  " + strconv.Itoa(len(latencies)) + " messages")
	return nil
}
