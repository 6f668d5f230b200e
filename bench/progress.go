package bench

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress prints a live status line while a run goes on: rewritten in
// place on a terminal, one line every few seconds otherwise (CI logs).
type progress struct {
	w      io.Writer
	label  string
	render func() string
	tty    bool
	stop   chan struct{}
	done   sync.WaitGroup
}

func startProgress(w io.Writer, label string, render func() string) *progress {
	p := &progress{w: w, label: label, render: render, stop: make(chan struct{})}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	if w == nil || w == io.Discard {
		return p
	}
	interval := 2 * time.Second
	if p.tty {
		interval = 250 * time.Millisecond
	}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
				p.print()
			}
		}
	}()
	return p
}

func (p *progress) print() {
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K[%s] %s", p.label, p.render())
	} else {
		fmt.Fprintf(p.w, "[%s] %s\n", p.label, p.render())
	}
}

// finish prints the last state and ends the line.
func (p *progress) finish() {
	close(p.stop)
	p.done.Wait()
	if p.w == nil || p.w == io.Discard {
		return
	}
	p.print()
	if p.tty {
		fmt.Fprintln(p.w)
	}
}
