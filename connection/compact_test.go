package connection

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/flate"
	"github.com/quaver-dev/quaver/protocol"
)

// corpusEvent is one line of testdata/token-stream.jsonl: an event as a
// producer publishes it, with its data as JSON.
type corpusEvent struct {
	Channel string          `json:"channel"`
	Event   string          `json:"event"`
	Data    json.RawMessage `json:"data"`
}

// tokenCorpus reads the token-stream corpus: two LLM answers streamed
// token by token ({"stream","seq","delta"}, 1–6 characters each) with the
// events around them. It returns the events and how many carry a delta.
func tokenCorpus(tb testing.TB) ([]corpusEvent, int) {
	tb.Helper()
	file, err := os.Open(filepath.Join("..", "testdata", "token-stream.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	defer file.Close()
	var events []corpusEvent
	tokens := 0
	scanner := bufio.NewScanner(file)
	for scanner.Scan() {
		var e corpusEvent
		if err := json.Unmarshal(scanner.Bytes(), &e); err != nil {
			tb.Fatalf("corpus line %d: %v", len(events)+1, err)
		}
		if tok, ok := protocol.ParseToken(string(e.Data)); ok && tok.Delta != "" {
			tokens++
		}
		events = append(events, e)
	}
	if err := scanner.Err(); err != nil {
		tb.Fatal(err)
	}
	return events, tokens
}

// corpusFrames builds the frames a server sends for the corpus: data as a
// string (as the HTTP API and Redis Streams publish it), raw JSON for
// client events.
func corpusFrames(events []corpusEvent) []*protocol.Frame {
	frames := make([]*protocol.Frame, len(events))
	for i, e := range events {
		var data bytes.Buffer
		_ = json.Compact(&data, e.Data)
		kind := protocol.DataString
		if protocol.IsClientEvent(e.Event) {
			kind = protocol.DataRaw
		}
		frames[i] = protocol.NewFrame(e.Event, e.Channel, data.String(), kind, "")
	}
	return frames
}

// coalesce merges runs of up to n token events of the same stream into one
// (deltas concatenated, the last seq), as a server does for a client that
// falls behind.
func coalesce(events []corpusEvent, n int) []corpusEvent {
	var out []corpusEvent
	var run []*protocol.Token
	flush := func(e corpusEvent) {
		if len(run) == 0 {
			return
		}
		var text strings.Builder
		for _, t := range run {
			text.WriteString(t.Delta)
		}
		last := run[len(run)-1]
		out = append(out, corpusEvent{Channel: e.Channel, Event: e.Event, Data: json.RawMessage(protocol.TokenData(last.Stream, last.Seq, text.String(), false, false))})
		run = run[:0]
	}
	for i, e := range events {
		tok, ok := protocol.ParseToken(string(e.Data))
		if !ok || tok.Delta == "" {
			if i > 0 {
				flush(events[i-1])
			}
			out = append(out, e)
			continue
		}
		run = append(run, tok)
		if len(run) == n {
			flush(e)
		}
	}
	flush(events[len(events)-1])
	return out
}

// compactEncodings are the encodings measured on the corpus. The deflate
// thresholds are the default (512 bytes, which leaves every token frame
// uncompressed) and 0 (everything compressed).
var compactEncodings = []struct {
	name string
	enc  encoding
}{
	{"json", encoding{}},
	{"json+deflate-default-threshold", encoding{deflate: newDeflater(512)}},
	{"json+deflate", encoding{deflate: newDeflater(0)}},
	{"msgpack", encoding{msgpack: true}},
	{"msgpack+deflate", encoding{msgpack: true, deflate: newDeflater(0)}},
}

// corpusWireBytes is what the corpus costs on the wire in enc: WebSocket
// frame headers and payloads, as the server writes them.
func corpusWireBytes(frames []*protocol.Frame, enc encoding) int {
	total := 0
	var buf []byte
	for _, f := range frames {
		buf = enc.appendFrame(buf[:0], f)
		total += len(buf)
	}
	return total
}

// TestTokenCorpus checks the corpus is what the figures claim it is, and
// that every encoding carries it intact.
func TestTokenCorpus(t *testing.T) {
	events, tokens := tokenCorpus(t)
	if tokens < 2000 || len(events)-tokens < 5 {
		t.Fatalf("%d events, %d tokens: want thousands of tokens and a few other events", len(events), tokens)
	}
	for i, e := range events {
		tok, ok := protocol.ParseToken(string(e.Data))
		if ok && tok.Delta != "" && (len([]rune(tok.Delta)) < 1 || len([]rune(tok.Delta)) > 6) {
			t.Fatalf("line %d: delta %q is not 1-6 characters", i+1, tok.Delta)
		}
	}
	frames := corpusFrames(events)
	for _, c := range compactEncodings {
		for _, f := range frames {
			opcode, _, payload := inflateServerFrame(t, c.enc.appendFrame(nil, f))
			if !c.enc.msgpack {
				if opcode != opText || !bytes.Equal(payload, f.JSON) {
					t.Fatalf("%s: %s arrives as %s", c.name, f.JSON, payload)
				}
				continue
			}
			e, err := protocol.ReadMsgpack(payload)
			if opcode != opBinary || err != nil || string(e.Event) != f.Event || string(e.Data) != f.Data {
				t.Fatalf("%s: %s arrives as %+v (%v)", c.name, f.JSON, e, err)
			}
		}
	}
	// The saving the README states, in the order it states it.
	json := corpusWireBytes(frames, encoding{})
	for _, c := range compactEncodings[2:] {
		if got := corpusWireBytes(corpusFrames(events), c.enc); got >= json {
			t.Errorf("%s: %d bytes on the wire, JSON %d", c.name, got, json)
		}
	}
}

// TestSnapshotCompresses backs the README's deflate figure for large
// frames: the snapshot a late joiner receives of the corpus's first answer
// (its whole text in one token event) goes out at about half its JSON size
// with the default threshold.
func TestSnapshotCompresses(t *testing.T) {
	events, _ := tokenCorpus(t)
	var stream string
	var seq int64
	var text strings.Builder
	for _, e := range events {
		tok, ok := protocol.ParseToken(string(e.Data))
		if !ok {
			continue
		}
		if stream == "" {
			stream = tok.Stream
		}
		if tok.Stream == stream {
			text.WriteString(tok.Delta)
			seq = tok.Seq
		}
	}
	snapshot := []*protocol.Frame{protocol.NewFrame("token", "ai-chat.1", protocol.TokenData(stream, seq, text.String(), true, false), protocol.DataString, "")}
	plain := corpusWireBytes(snapshot, encoding{})
	deflated := corpusWireBytes(snapshot, encoding{deflate: newDeflater(512)})
	t.Logf("the first answer's snapshot: %d bytes of JSON, %d deflated (%.0f%%)", plain, deflated, 100*float64(deflated)/float64(plain))
	if plain < 4000 || deflated > plain*6/10 {
		t.Errorf("snapshot %d bytes, %d deflated: want a few KB shrinking to at most 60%%", plain, deflated)
	}
}

// BenchmarkBytesPerToken reports the bytes on the wire per token of the
// corpus (WebSocket headers included, all events counted, divided by the
// token events) for each encoding, the saving against JSON with as many
// tokens per frame, and the cost of encoding each event once, as a
// broadcast does per frame and encoding. The corpus is sent as published (one token per
// frame) and coalesced to 4 and 16 tokens per frame, as a client that
// falls behind receives it.
// "context-takeover-reference" is deflate with one compression window
// kept across the stream: what a per-connection compressor would reach.
// Quaver does not serve it, since it costs each connection its own
// compression (CPU per recipient, tens of KiB of memory).
//
//	go test -run '^$' -bench BytesPerToken ./connection/
func BenchmarkBytesPerToken(b *testing.B) {
	corpus, tokens := tokenCorpus(b)
	for _, perFrame := range []int{1, 4, 16} {
		events := coalesce(corpus, perFrame)
		baseline := corpusWireBytes(corpusFrames(events), encoding{})
		for _, c := range compactEncodings {
			b.Run(fmt.Sprintf("tokens-per-frame=%d/%s", perFrame, c.name), func(b *testing.B) {
				total := 0
				for b.Loop() {
					total = corpusWireBytes(corpusFrames(events), c.enc)
				}
				reportCorpus(b, total, baseline, tokens, len(events))
			})
		}
		b.Run(fmt.Sprintf("tokens-per-frame=%d/json+deflate-context-takeover-reference", perFrame), func(b *testing.B) {
			total := 0
			for b.Loop() {
				total = contextTakeoverBytes(corpusFrames(events))
			}
			reportCorpus(b, total, baseline, tokens, len(events))
		})
	}
}

func reportCorpus(b *testing.B, total, baseline, tokens, events int) {
	b.ReportMetric(float64(total)/float64(tokens), "B/token")
	b.ReportMetric(100*(1-float64(total)/float64(baseline)), "%saved")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(events), "ns/event")
}

// contextTakeoverBytes compresses the corpus's JSON frames with one
// deflate stream kept across messages (RFC 7692 with context takeover).
func contextTakeoverBytes(frames []*protocol.Frame) int {
	var out bytes.Buffer
	w, _ := flate.NewWriter(&out, flate.BestSpeed)
	total := 0
	for _, f := range frames {
		out.Reset()
		_, _ = w.Write(f.JSON)
		_ = w.Flush()
		n := strings.TrimSuffix(out.String(), "\x00\x00\xff\xff")
		total += len(appendDataFrame(nil, opText, []byte(n)))
	}
	return total
}

// BenchmarkDeflateChoices compresses typical Pusher payloads, one message
// at a time, with klauspost's stateless deflate (what deflater uses) and
// with a reset flate.Writer at a few levels.
func BenchmarkDeflateChoices(b *testing.B) {
	events, _ := tokenCorpus(b)
	frames := corpusFrames(events)
	var text strings.Builder
	for _, f := range frames {
		text.Write(f.JSON)
	}
	payloads := []struct {
		name    string
		payload []byte
	}{
		{"token-frame", frames[10].JSON},
		{"600B", []byte(text.String()[:600])},
		{"4KiB", []byte(text.String()[:4096])},
		{"32KiB", []byte(text.String()[:32768])},
	}
	for _, p := range payloads {
		b.Run(p.name+"/stateless", func(b *testing.B) {
			var out bytes.Buffer
			for b.Loop() {
				out.Reset()
				_ = flate.StatelessDeflate(&out, p.payload, false, nil)
			}
			b.ReportMetric(float64(out.Len()-4)/float64(len(p.payload)), "ratio")
		})
		for _, level := range []int{flate.BestSpeed, 5, flate.BestCompression} {
			b.Run(fmt.Sprintf("%s/level%d", p.name, level), func(b *testing.B) {
				var out bytes.Buffer
				w, _ := flate.NewWriter(&out, level)
				for b.Loop() {
					out.Reset()
					w.Reset(&out)
					_, _ = w.Write(p.payload)
					_ = w.Flush()
				}
				b.ReportMetric(float64(out.Len()-4)/float64(len(p.payload)), "ratio")
			})
		}
	}
}
