// Package jsdriver runs e2e/js/driver.mjs, a Node process hosting the real
// npm clients (pusher-js, laravel-echo, the pusher server SDK), and lets a
// Go test command it and wait for what the clients report.
//
// Commands go to the driver as JSON lines; every command gets one reply, and
// everything the clients see arrives as reports (connection states, messages,
// channel events, Echo callbacks, errors, auth requests). A test waits for a
// report with Wait, which watches the stream until a report matches or the
// timeout passes; Never asserts that no matching report arrives within a
// window. On failure the driver's stderr and its last reports are logged.
//
// The commands and reports are listed at the top of e2e/js/driver.mjs.
package jsdriver

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/internal/testenv"
)

// DefaultTimeout bounds Wait and Call.
const DefaultTimeout = 10 * time.Second

// Report is one JSON line from the driver. The common fields are decoded;
// Line keeps the whole report for Field.
type Report struct {
	Type   string `json:"type"`
	Client string `json:"client"`
	// Replies.
	ID     int             `json:"id"`
	OK     bool            `json:"ok"`
	Result json.RawMessage `json:"result"`
	// Events and messages.
	Channel  string          `json:"channel"`
	Event    string          `json:"event"`
	Data     json.RawMessage `json:"data"`
	Metadata json.RawMessage `json:"metadata"`
	UserID   string          `json:"user_id"`
	// Connection states.
	Previous string `json:"previous"`
	Current  string `json:"current"`
	SocketID string `json:"socketId"`
	// Errors: a string on replies, an object on error reports.
	Error json.RawMessage `json:"error"`
	// Auth requests.
	Kind   string `json:"kind"`
	Status int    `json:"status"`

	// Seq is the report's position in the stream, from 0.
	Seq  int    `json:"-"`
	Line string `json:"-"`
}

// Field decodes the top-level field name of the report into v.
func (r Report) Field(name string, v any) error {
	var all map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.Line), &all); err != nil {
		return err
	}
	raw, ok := all[name]
	if !ok {
		return fmt.Errorf("report has no field %q", name)
	}
	return json.Unmarshal(raw, v)
}

// ErrorCode returns the Pusher code of an error report, or 0. pusher-js
// reports a pusher:error or a close code as {type: "PusherError", data:
// {code}}, and a refused handshake wrapped in {type: "WebSocketError",
// error: {...}}.
func (r Report) ErrorCode() int {
	type pusherError struct {
		Data struct {
			Code int `json:"code"`
		} `json:"data"`
	}
	var e struct {
		pusherError
		Error pusherError `json:"error"`
	}
	if json.Unmarshal(r.Error, &e) != nil {
		return 0
	}
	if e.Data.Code != 0 {
		return e.Data.Code
	}
	return e.Error.Data.Code
}

// ErrorText returns the error of a failed reply.
func (r Report) ErrorText() string {
	var s string
	if json.Unmarshal(r.Error, &s) == nil {
		return s
	}
	return string(r.Error)
}

// Driver is one running driver process.
type Driver struct {
	t      testing.TB
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *tail

	mu      sync.Mutex // guards the fields below
	reports []Report
	changed chan struct{} // closed and replaced on every new report
	nextID  int
	exited  bool
	exitErr error
	writeMu sync.Mutex // serialises writes to stdin
}

// Option changes how the driver process starts.
type Option func(*exec.Cmd)

// Env adds environment variables (KEY=value) to the driver process, e.g.
// NODE_EXTRA_CA_CERTS to trust a test certificate.
func Env(vars ...string) Option {
	return func(c *exec.Cmd) { c.Env = append(c.Env, vars...) }
}

// Start runs the driver and waits until it is ready. The process is ended
// when the test ends; if the test failed, its stderr and last reports are
// logged first.
func Start(t testing.TB, options ...Option) *Driver {
	t.Helper()
	root := testenv.RepoRoot(t)
	script := filepath.Join(root, "e2e", "js", "driver.mjs")
	if _, err := os.Stat(filepath.Join(root, "e2e", "js", "node_modules", "pusher-js")); err != nil {
		t.Fatalf("jsdriver: npm packages are not installed (run ./scripts/test-deps.sh): %v", err)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("jsdriver: node is not installed (run ./scripts/test-deps.sh): %v", err)
	}
	cmd := exec.Command(node, script)
	cmd.Dir = filepath.Join(root, "e2e", "js")
	cmd.Env = os.Environ()
	for _, o := range options {
		o(cmd)
	}
	d := &Driver{t: t, cmd: cmd, stderr: newTail(64 << 10), changed: make(chan struct{})}
	cmd.Stderr = d.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("jsdriver: %v", err)
	}
	if d.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatalf("jsdriver: %v", err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("jsdriver: start node: %v", err)
	}
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		d.read(stdout)
	}()
	waitDone := make(chan struct{})
	go func() {
		<-readDone
		err := cmd.Wait()
		d.mu.Lock()
		d.exited, d.exitErr = true, err
		d.notifyLocked()
		d.mu.Unlock()
		close(waitDone)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			d.Dump()
		}
		_ = d.stdin.Close()
		select {
		case <-waitDone:
		case <-time.After(3 * time.Second):
			_ = cmd.Process.Kill()
			<-waitDone
		}
	})
	d.WaitFor(20*time.Second, "driver ready", func(r Report) bool { return r.Type == "ready" })
	return d
}

func (d *Driver) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		var r Report
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			r = Report{Type: "unparsed"}
		}
		r.Line = line
		d.mu.Lock()
		r.Seq = len(d.reports)
		d.reports = append(d.reports, r)
		d.notifyLocked()
		d.mu.Unlock()
	}
}

func (d *Driver) notifyLocked() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// Send sends a command without waiting for its reply and returns its id.
// args holds the command's fields.
func (d *Driver) Send(command string, args map[string]any) int {
	d.t.Helper()
	d.mu.Lock()
	d.nextID++
	id := d.nextID
	d.mu.Unlock()
	msg := map[string]any{}
	for k, v := range args {
		msg[k] = v
	}
	msg["id"], msg["cmd"] = id, command
	b, err := json.Marshal(msg)
	if err != nil {
		d.t.Fatalf("jsdriver: %s: %v", command, err)
	}
	d.writeMu.Lock()
	_, err = d.stdin.Write(append(b, '\n'))
	d.writeMu.Unlock()
	if err != nil {
		d.t.Fatalf("jsdriver: send %s: %v", command, err)
	}
	return id
}

// Reply waits for the reply to command id.
func (d *Driver) Reply(id int) Report {
	d.t.Helper()
	return d.WaitFor(DefaultTimeout+5*time.Second, fmt.Sprintf("reply to command %d", id), func(r Report) bool {
		return r.Type == "reply" && r.ID == id
	})
}

// Try sends a command and returns its reply, successful or not.
func (d *Driver) Try(command string, args map[string]any) Report {
	d.t.Helper()
	return d.Reply(d.Send(command, args))
}

// Call sends a command and returns its reply, failing the test if the
// driver could not carry it out.
func (d *Driver) Call(command string, args map[string]any) Report {
	d.t.Helper()
	r := d.Try(command, args)
	if !r.OK {
		d.t.Fatalf("jsdriver: %s %v failed: %s", command, args, r.ErrorText())
	}
	return r
}

// Kill ends the driver process at once with SIGKILL, as a client machine
// that vanishes: its connections drop without any goodbye. Later waits on
// the driver fail.
func (d *Driver) Kill() {
	d.t.Helper()
	if err := d.cmd.Process.Kill(); err != nil {
		d.t.Fatalf("jsdriver: kill: %v", err)
	}
}

// Mark returns the position after the last report received, for WaitAfter
// and NeverAfter.
func (d *Driver) Mark() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.reports)
}

// Wait returns the first report, since the driver started, that matches;
// it waits up to DefaultTimeout and fails the test otherwise.
func (d *Driver) Wait(what string, match func(Report) bool) Report {
	d.t.Helper()
	return d.waitFrom(0, DefaultTimeout, what, match)
}

// WaitFor is Wait with its own timeout.
func (d *Driver) WaitFor(timeout time.Duration, what string, match func(Report) bool) Report {
	d.t.Helper()
	return d.waitFrom(0, timeout, what, match)
}

// WaitAfter is Wait for reports received after mark.
func (d *Driver) WaitAfter(mark int, what string, match func(Report) bool) Report {
	d.t.Helper()
	return d.waitFrom(mark, DefaultTimeout, what, match)
}

func (d *Driver) waitFrom(from int, timeout time.Duration, what string, match func(Report) bool) Report {
	d.t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	next := from
	for {
		pending, changed, exited, exitErr := d.since(&next)
		for _, r := range pending {
			if match(r) {
				return r
			}
		}
		if exited {
			d.t.Fatalf("jsdriver: waiting for %s: driver exited (%v)", what, exitErr)
		}
		select {
		case <-changed:
		case <-timer.C:
			d.t.Fatalf("jsdriver: %s did not happen within %v", what, timeout)
			return Report{}
		}
	}
}

// WaitN waits until n reports since the driver started match, and
// returns them.
func (d *Driver) WaitN(n int, what string, match func(Report) bool) []Report {
	d.t.Helper()
	var seen []Report
	d.waitFrom(0, DefaultTimeout, what, func(r Report) bool {
		if match(r) {
			seen = append(seen, r)
		}
		return len(seen) >= n
	})
	return seen
}

// Never fails the test if a matching report, received at any time since
// the driver started, is seen before window has passed.
func (d *Driver) Never(what string, window time.Duration, match func(Report) bool) {
	d.t.Helper()
	d.neverFrom(0, what, window, match)
}

// NeverAfter is Never for reports received after mark.
func (d *Driver) NeverAfter(mark int, what string, window time.Duration, match func(Report) bool) {
	d.t.Helper()
	d.neverFrom(mark, what, window, match)
}

func (d *Driver) neverFrom(from int, what string, window time.Duration, match func(Report) bool) {
	d.t.Helper()
	timer := time.NewTimer(window)
	defer timer.Stop()
	next, expired := from, false
	for {
		pending, changed, _, _ := d.since(&next)
		for _, r := range pending {
			if match(r) {
				d.t.Fatalf("jsdriver: %s happened: %s", what, r.Line)
			}
		}
		if expired {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			expired = true // one last look at what arrived with the deadline
		}
	}
}

// since returns the reports from index *next on and moves *next past
// them. With them, read at the same moment, it returns a channel closed
// at the next report and whether (and how) the driver has exited, so no
// report slips between a look and the wait after it.
func (d *Driver) since(next *int) (pending []Report, changed <-chan struct{}, exited bool, exitErr error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	pending = d.reports[*next:]
	*next = len(d.reports)
	return pending, d.changed, d.exited, d.exitErr
}

// Reports returns every report so far that matches.
func (d *Driver) Reports(match func(Report) bool) []Report {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Report
	for _, r := range d.reports {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}

// Count returns how many reports so far match.
func (d *Driver) Count(match func(Report) bool) int { return len(d.Reports(match)) }

// Dump logs the driver's stderr and its last reports.
func (d *Driver) Dump() {
	d.t.Helper()
	d.mu.Lock()
	recent := d.reports
	if len(recent) > 200 {
		recent = recent[len(recent)-200:]
	}
	lines := make([]string, len(recent))
	for i, r := range recent {
		lines[i] = r.Line
	}
	d.mu.Unlock()
	d.t.Logf("jsdriver stderr (last %d bytes):\n%s", d.stderr.max, d.stderr.String())
	d.t.Logf("jsdriver last %d reports:\n%s", len(lines), strings.Join(lines, "\n"))
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func newTail(max int) *tail { return &tail{max: max} }

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	// Trim only past twice the limit, so trimming costs O(1) per byte.
	if len(t.buf) > 2*t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) > t.max {
		return string(t.buf[len(t.buf)-t.max:])
	}
	return string(t.buf)
}
