package jsdriver

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fakeTB records a fatal failure instead of failing the real test.
type fakeTB struct {
	testing.TB
	fatal string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// failure runs fn against d with a fake TB and returns the fatal message
// ("" if fn did not fail).
func failure(d *Driver, fn func()) string {
	real := d.t
	fake := &fakeTB{TB: real}
	d.t = fake
	defer func() { d.t = real }()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	<-done
	return fake.fatal
}

func TestCommandsAndReplies(t *testing.T) {
	d := Start(t)
	if r := d.Try("no-such-command", nil); r.OK || !strings.Contains(r.ErrorText(), "unknown command") {
		t.Errorf("unknown command reply %s", r.Line)
	}
	if msg := failure(d, func() { d.Call("state", map[string]any{"client": "nobody"}) }); !strings.Contains(msg, "no client named nobody") {
		t.Errorf("Call of a failing command: %q", msg)
	}
	r := d.Call("createSdk", map[string]any{"appId": "a", "key": "k", "secret": "s", "host": "127.0.0.1", "port": 1})
	if !r.OK || string(r.Result) != "{}" {
		t.Errorf("createSdk reply %s", r.Line)
	}
	// An SDK call to a closed port is a failed command, not an HTTP status.
	if r := d.Try("sdk.get", map[string]any{"path": "/channels"}); r.OK {
		t.Errorf("SDK call to a closed port: %s", r.Line)
	}
}

func TestWaitAndNever(t *testing.T) {
	d := Start(t)
	ready := d.Wait("ready", func(r Report) bool { return r.Type == "ready" })
	if ready.Seq != 0 {
		t.Errorf("ready is report %d, want 0", ready.Seq)
	}
	mark := d.Mark()
	id := d.Send("no-such-command", nil)
	isReply := func(r Report) bool { return r.Type == "reply" && r.ID == id }
	d.WaitAfter(mark, "reply", isReply)

	began := time.Now()
	msg := failure(d, func() {
		d.WaitFor(200*time.Millisecond, "something that never comes", func(Report) bool { return false })
	})
	if !strings.Contains(msg, "did not happen within 200ms") || time.Since(began) > 2*time.Second {
		t.Errorf("WaitFor timeout: %q after %v", msg, time.Since(began))
	}
	if msg := failure(d, func() { d.Never("the reply", 100*time.Millisecond, isReply) }); !strings.Contains(msg, "the reply happened") {
		t.Errorf("Never of a past report: %q", msg)
	}
	if msg := failure(d, func() { d.NeverAfter(d.Mark(), "the reply", 100*time.Millisecond, isReply) }); msg != "" {
		t.Errorf("NeverAfter the report: %q", msg)
	}
	// Never notices a report that arrives during its window.
	id2 := d.Send("no-such-command", nil)
	if msg := failure(d, func() {
		d.Never("the second reply", 5*time.Second, func(r Report) bool { return r.Type == "reply" && r.ID == id2 })
	}); !strings.Contains(msg, "the second reply happened") {
		t.Errorf("Never during the window: %q", msg)
	}
	if n := d.Count(func(r Report) bool { return r.Type == "reply" }); n != 2 {
		t.Errorf("Count replies = %d, want 2", n)
	}
}

func TestErrorCode(t *testing.T) {
	for _, c := range []struct {
		raw  string
		code int
	}{
		{`{"type":"PusherError","data":{"code":4009,"message":"x"}}`, 4009},
		{`{"type":"WebSocketError","error":{"type":"PusherError","data":{"code":4001,"message":"x"}}}`, 4001},
		{`{"type":"WebSocketError","error":{"type":"error"}}`, 0},
		{`"a string"`, 0},
	} {
		if got := (Report{Error: []byte(c.raw)}).ErrorCode(); got != c.code {
			t.Errorf("ErrorCode(%s) = %d, want %d", c.raw, got, c.code)
		}
	}
}
