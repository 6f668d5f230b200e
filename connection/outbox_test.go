package connection

import (
	"fmt"
	"strings"
	"testing"

	"github.com/quaver-dev/quaver/protocol"
)

func tokenFrame(channel, stream string, seq int64, delta string, done bool) *protocol.Frame {
	data := protocol.TokenData(stream, seq, delta, false, done)
	f := protocol.NewFrame("token", channel, data, protocol.DataString, "")
	f.Token, _ = protocol.ParseToken(data)
	return f
}

// queuedFrames returns the frames the writer would get, without taking.
func queuedFrames(o *outbox) []*protocol.Frame {
	var out []*protocol.Frame
	for _, q := range o.frames[o.head:] {
		if q.merge != nil {
			out = append(out, q.merge.Frame())
		} else {
			out = append(out, q.f)
		}
	}
	return out
}

// queuedLines returns the queued frames as "event:data" lines.
func queuedLines(o *outbox) []string {
	var out []string
	for _, f := range queuedFrames(o) {
		out = append(out, f.Event+":"+f.Data)
	}
	return out
}

func queuedBytes(o *outbox) int {
	n := 0
	for _, f := range queuedFrames(o) {
		n += f.Size()
	}
	return n
}

func TestOutboxCoalescing(t *testing.T) {
	const soft, hard = 300, 100_000
	filler := protocol.NewFrame("status", "other", strings.Repeat("x", soft), protocol.DataString, "")

	t.Run("below the soft limit every token is its own frame", func(t *testing.T) {
		var o outbox
		for i := range 3 {
			o.push(tokenFrame("ai-1", `"s"`, int64(i), "ab", false), soft, hard)
		}
		if got := len(queuedLines(&o)); got != 3 {
			t.Fatalf("%d frames queued, want 3", got)
		}
	})

	t.Run("past it the stream's tokens merge, other streams pass", func(t *testing.T) {
		var o outbox
		o.push(filler, soft, hard)
		first := tokenFrame("ai-1", `"s"`, 0, "Hel", false)
		firstJSON := string(first.JSON)
		if r := o.push(first, soft, hard); r != pushed {
			t.Fatalf("first token: %v, want queued as is", r)
		}
		other := tokenFrame("ai-1", `"t"`, 0, "x", false)
		o.push(other, soft, hard)
		for i, d := range []string{"lo", ", wö", "rld"} {
			if r := o.push(tokenFrame("ai-1", `"s"`, int64(i+1), d, false), soft, hard); r != pushedMerged {
				t.Fatalf("token %d: %v, want merged", i+1, r)
			}
		}
		o.push(tokenFrame("ai-1", `"s"`, 4, "", true), soft, hard)
		want := []string{
			"status:" + filler.Data,
			`token:{"stream":"s","seq":4,"delta":"Hello, wörld","done":true}`,
			`token:{"stream":"t","seq":0,"delta":"x"}`,
		}
		if got := queuedLines(&o); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("queued\n%q\nwant\n%q", got, want)
		}
		if string(first.JSON) != firstJSON {
			t.Fatal("the shared frame was modified")
		}
		if o.bytes != queuedBytes(&o) {
			t.Fatalf("outbox counts %d bytes, holds %d", o.bytes, queuedBytes(&o))
		}
	})

	t.Run("events of other kinds keep their order", func(t *testing.T) {
		var o outbox
		o.push(filler, soft, hard)
		o.push(tokenFrame("ai-1", `"s"`, 0, "a", false), soft, hard)
		o.push(protocol.NewFrame("tool-call", "ai-1", "{}", protocol.DataString, ""), soft, hard)
		o.push(tokenFrame("ai-1", `"s"`, 1, "b", false), soft, hard)
		o.push(tokenFrame("ai-1", `"s"`, 2, "c", false), soft, hard)
		want := []string{
			"status:" + filler.Data,
			`token:{"stream":"s","seq":0,"delta":"a"}`,
			"tool-call:{}",
			`token:{"stream":"s","seq":2,"delta":"bc"}`,
		}
		if got := queuedLines(&o); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("queued\n%q\nwant\n%q", got, want)
		}
		if o.bytes != queuedBytes(&o) {
			t.Fatalf("outbox counts %d bytes, holds %d", o.bytes, queuedBytes(&o))
		}
	})

	t.Run("nothing merges into a finished stream or backwards", func(t *testing.T) {
		var o outbox
		o.push(filler, soft, hard)
		o.push(tokenFrame("ai-1", `"s"`, 5, "a", true), soft, hard)
		if r := o.push(tokenFrame("ai-1", `"s"`, 6, "b", false), soft, hard); r == pushedMerged {
			t.Fatal("merged into a done token")
		}
		o.push(tokenFrame("ai-1", `"u"`, 5, "a", false), soft, hard)
		if r := o.push(tokenFrame("ai-1", `"u"`, 5, "a", false), soft, hard); r == pushedMerged {
			t.Fatal("a repeated seq merged")
		}
		if r := o.push(tokenFrame("ai-2", `"u"`, 6, "a", false), soft, hard); r == pushedMerged {
			t.Fatal("merged across channels")
		}
	})

	t.Run("the hard limit still holds", func(t *testing.T) {
		var o outbox
		o.push(filler, soft, 400)
		o.push(tokenFrame("ai-1", `"s"`, 0, "a", false), soft, 400)
		seq := int64(1)
		for ; seq < 1000; seq++ {
			if o.push(tokenFrame("ai-1", `"s"`, seq, "abcdefgh", false), soft, 400) == pushOverflow {
				break
			}
		}
		if seq == 1000 || o.bytes > 400 {
			t.Fatalf("no overflow after %d tokens, %d bytes queued", seq, o.bytes)
		}
	})

	t.Run("the writer gets merged text in order and the count returns to zero", func(t *testing.T) {
		var o outbox
		o.push(filler, soft, hard)
		var text strings.Builder
		for i := range 200 {
			d := fmt.Sprintf("w%d ", i)
			text.WriteString(d)
			o.push(tokenFrame("ai-1", `"s"`, int64(i), d, false), soft, hard)
		}
		frames, _ := o.take(nil, 1<<20)
		var got strings.Builder
		for _, f := range frames[1:] {
			got.WriteString(f.Token.Delta)
		}
		if got.String() != text.String() || len(frames) != 2 {
			t.Fatalf("%d frames carrying %q, want the filler and one token event holding them all", len(frames), got.String())
		}
		if o.bytes != 0 {
			t.Fatalf("%d bytes counted after everything was taken", o.bytes)
		}
	})
}

// BenchmarkOutboxCoalesce is a stalled client's outbox taking a long stream
// of tokens past the soft limit: each merge must cost the token's own bytes,
// not the text merged so far (b.N tokens; the merged delta is capped at
// coalesceMaxDelta, so longer runs start new merged events).
func BenchmarkOutboxCoalesce(b *testing.B) {
	const soft, hard = 1 << 10, 1 << 30
	filler := protocol.NewFrame("status", "other", strings.Repeat("x", soft), protocol.DataString, "")
	tokens := make([]*protocol.Frame, 1024)
	for i := range tokens {
		tokens[i] = tokenFrame("ai-1", `"s"`, int64(i), " token", false)
	}
	var o outbox
	o.push(filler, soft, hard)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f := tokens[i%len(tokens)]
		if i%len(tokens) == 0 {
			// A new round of seqs: a fresh outbox keeps them increasing.
			o = outbox{}
			o.push(filler, soft, hard)
		}
		o.push(f, soft, hard)
	}
}

// TestOutboxCountsWireFrames: control frames queued with the events (pongs)
// count against the hard limit, so a client that pings without reading
// cannot grow its queue without bound.
func TestOutboxCountsWireFrames(t *testing.T) {
	var o outbox
	pong := protocol.NewWireFrame(slotWebSocket, appendControlFrame(nil, opPong, make([]byte, 100)))
	const hard = 1000
	n := 0
	for o.push(pong, 0, hard) != pushOverflow {
		if n++; n > hard {
			t.Fatal("pongs never filled the outbox")
		}
	}
	if o.bytes > hard || o.bytes+pong.Size() <= hard {
		t.Fatalf("%d bytes of %d-byte pongs queued at overflow, hard limit %d", o.bytes, pong.Size(), hard)
	}
}
