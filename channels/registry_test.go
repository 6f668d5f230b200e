package channels_test

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/quaver-dev/quaver/channels"
	"github.com/quaver-dev/quaver/protocol"
)

// capture is a Subscriber that records what it is sent.
type capture struct {
	id     string
	mu     sync.Mutex
	frames []*protocol.Frame
	closed bool // Send refuses frames, as a closing connection does
}

func (c *capture) SocketID() string { return c.id }

func (c *capture) Send(f *protocol.Frame) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.frames = append(c.frames, f)
	return true
}

func (c *capture) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.frames))
	for i, f := range c.frames {
		out[i] = f.Event
	}
	return out
}

// recordingHook records Occupied and Vacated calls per channel.
type recordingHook struct {
	mu     sync.Mutex
	events map[string][]string // "app/channel" → "occupied"/"vacated" in order
}

func newHook() *recordingHook { return &recordingHook{events: map[string][]string{}} }

func (h *recordingHook) Occupied(app, channel string) { h.record(app, channel, "occupied") }
func (h *recordingHook) Vacated(app, channel string)  { h.record(app, channel, "vacated") }

func (h *recordingHook) record(app, channel, what string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := app + "/" + channel
	h.events[k] = append(h.events[k], what)
}

func (h *recordingHook) of(app, channel string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.events[app+"/"+channel])
}

func TestRegistryAddRemoveCount(t *testing.T) {
	hook := newHook()
	r := channels.NewRegistry(hook)
	a, b := &capture{id: "1.1"}, &capture{id: "2.2"}

	steps := []struct {
		name      string
		op        func() (bool, int)
		wantOK    bool
		wantCount int
		wantHook  []string
	}{
		{"first add occupies", func() (bool, int) { return r.Add("app", "ch", a) }, true, 1, []string{"occupied"}},
		{"second subscriber", func() (bool, int) { return r.Add("app", "ch", b) }, true, 2, []string{"occupied"}},
		{"duplicate add", func() (bool, int) { return r.Add("app", "ch", a) }, false, 2, []string{"occupied"}},
		{"remove one", func() (bool, int) { return r.Remove("app", "ch", a) }, true, 1, []string{"occupied"}},
		{"remove again", func() (bool, int) { return r.Remove("app", "ch", a) }, false, 1, []string{"occupied"}},
		{"remove last vacates", func() (bool, int) { return r.Remove("app", "ch", b) }, true, 0, []string{"occupied", "vacated"}},
		{"remove from empty channel", func() (bool, int) { return r.Remove("app", "ch", b) }, false, 0, []string{"occupied", "vacated"}},
		{"occupied again", func() (bool, int) { return r.Add("app", "ch", b) }, true, 1, []string{"occupied", "vacated", "occupied"}},
	}
	for _, s := range steps {
		ok, n := s.op()
		if ok != s.wantOK || n != s.wantCount {
			t.Fatalf("%s: got %v, %d; want %v, %d", s.name, ok, n, s.wantOK, s.wantCount)
		}
		if got := r.Count("app", "ch"); got != s.wantCount {
			t.Fatalf("%s: Count = %d, want %d", s.name, got, s.wantCount)
		}
		if got := hook.of("app", "ch"); !slices.Equal(got, s.wantHook) {
			t.Fatalf("%s: hook calls %v, want %v", s.name, got, s.wantHook)
		}
	}
}

func TestRegistryKeysByAppAndChannel(t *testing.T) {
	r := channels.NewRegistry(nil)
	s := &capture{id: "1.1"}
	r.Add("app1", "ch", s)
	tests := []struct {
		name, app, channel string
		want               int
	}{
		{"same", "app1", "ch", 1},
		{"other app", "app2", "ch", 0},
		{"other channel", "app1", "ch2", 0},
		{"concatenation is not a key", "app1c", "h", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Count(tt.app, tt.channel); got != tt.want {
				t.Fatalf("Count(%q, %q) = %d, want %d", tt.app, tt.channel, got, tt.want)
			}
		})
	}
}

func TestRegistryChannels(t *testing.T) {
	r := channels.NewRegistry(nil)
	subs := []*capture{{id: "1.1"}, {id: "2.2"}, {id: "3.3"}}
	for _, s := range subs {
		r.Add("app", "presence-room", s)
	}
	r.Add("app", "presence-lobby", subs[0])
	r.Add("app", "private-x", subs[1])
	r.Add("app", "public", subs[2])
	r.Add("other", "presence-room", subs[0])
	r.Add("app", "gone", subs[0])
	r.Remove("app", "gone", subs[0])

	tests := []struct {
		name, prefix string
		want         map[string]int
	}{
		{"all", "", map[string]int{"presence-room": 3, "presence-lobby": 1, "private-x": 1, "public": 1}},
		{"presence", "presence-", map[string]int{"presence-room": 3, "presence-lobby": 1}},
		{"exact name as prefix", "private-x", map[string]int{"private-x": 1}},
		{"nothing", "cache-", map[string]int{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Channels("app", tt.prefix); !maps.Equal(got, tt.want) {
				t.Fatalf("Channels(%q) = %v, want %v", tt.prefix, got, tt.want)
			}
		})
	}
}

func TestRegistryBroadcast(t *testing.T) {
	tests := []struct {
		name     string
		except   string
		closing  string // socket id of a subscriber whose Send refuses
		channel  string
		wantSent int
		wantGot  []string // socket ids that received the frame
	}{
		{"everyone", "", "", "ch", 3, []string{"1.1", "2.2", "3.3"}},
		{"except one", "2.2", "", "ch", 2, []string{"1.1", "3.3"}},
		{"except unknown", "9.9", "", "ch", 3, []string{"1.1", "2.2", "3.3"}},
		{"closing subscriber not counted", "", "3.3", "ch", 2, []string{"1.1", "2.2"}},
		{"empty channel", "", "", "nobody", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := channels.NewRegistry(nil)
			subs := []*capture{{id: "1.1"}, {id: "2.2"}, {id: "3.3"}}
			other := &capture{id: "4.4"}
			for _, s := range subs {
				s.closed = s.id == tt.closing
				r.Add("app", "ch", s)
			}
			r.Add("app", "ch-other", other)
			f := protocol.NewFrame("e", tt.channel, "d", protocol.DataString, "")
			if sent := r.Broadcast("app", tt.channel, f, tt.except); sent != tt.wantSent {
				t.Fatalf("Broadcast sent %d, want %d", sent, tt.wantSent)
			}
			var got []string
			for _, s := range subs {
				if n := len(s.received()); n == 1 {
					got = append(got, s.id)
				} else if n > 1 {
					t.Fatalf("%s received %d frames", s.id, n)
				}
			}
			if !slices.Equal(got, tt.wantGot) {
				t.Fatalf("received by %v, want %v", got, tt.wantGot)
			}
			if len(other.received()) != 0 {
				t.Fatal("a subscriber of another channel received the frame")
			}
		})
	}
}

// TestRegistryRemoveKeepsOthers removes subscribers from the middle of a
// large channel, which moves the last one into the gap, and shrinks it.
func TestRegistryRemoveKeepsOthers(t *testing.T) {
	r := channels.NewRegistry(nil)
	subs := make([]*capture, 300)
	for i := range subs {
		subs[i] = &capture{id: strconv.Itoa(i) + ".0"}
		r.Add("app", "ch", subs[i])
	}
	for i := 0; i < len(subs); i += 3 {
		if ok, _ := r.Remove("app", "ch", subs[i]); !ok {
			t.Fatalf("remove %d failed", i)
		}
	}
	if got := r.Broadcast("app", "ch", protocol.NewFrame("e", "ch", "", protocol.DataNone, ""), ""); got != 200 {
		t.Fatalf("broadcast reached %d, want 200", got)
	}
	for i, s := range subs {
		if want := min(1, i%3); len(s.received()) != want {
			t.Fatalf("subscriber %d received %d frames, want %d", i, len(s.received()), want)
		}
	}
	// Removing all but a few shrinks the list without losing anyone.
	for i, s := range subs {
		if i%3 != 0 && i > 10 {
			r.Remove("app", "ch", s)
		}
	}
	if got := r.Broadcast("app", "ch", protocol.NewFrame("e", "ch", "", protocol.DataNone, ""), ""); got != r.Count("app", "ch") || got != 7 {
		t.Fatalf("broadcast reached %d, Count %d, want 7", got, r.Count("app", "ch"))
	}
}

// TestRegistryConcurrent adds, removes and broadcasts from many goroutines
// (run it with -race) and checks that the hook saw every channel alternate
// between occupied and vacated, ending vacated.
func TestRegistryConcurrent(t *testing.T) {
	hook := newHook()
	r := channels.NewRegistry(hook)
	const workers, rounds, channelCount = 8, 200, 5
	f := protocol.NewFrame("e", "", "d", protocol.DataString, "")
	var wg sync.WaitGroup
	var delivered atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			subs := make([]*capture, channelCount)
			for i := range subs {
				subs[i] = &capture{id: fmt.Sprintf("%d.%d", w, i)}
			}
			for i := range rounds {
				ch := "ch-" + strconv.Itoa(i%channelCount)
				s := subs[i%channelCount]
				r.Add("app", ch, s)
				delivered.Add(int64(r.Broadcast("app", ch, f, s.id)))
				r.Channels("app", "ch-")
				r.Count("app", ch)
				r.Remove("app", ch, s)
			}
		}()
	}
	wg.Wait()
	for i := range channelCount {
		ch := "ch-" + strconv.Itoa(i)
		if n := r.Count("app", ch); n != 0 {
			t.Errorf("%s: Count %d after everyone left", ch, n)
		}
		events := hook.of("app", ch)
		if len(events) == 0 || len(events)%2 != 0 {
			t.Errorf("%s: %d hook calls, want an even, non-zero number", ch, len(events))
		}
		for j, e := range events {
			if want := []string{"occupied", "vacated"}[j%2]; e != want {
				t.Fatalf("%s: hook call %d is %s, want %s (calls %v)", ch, j, e, want, events)
			}
		}
	}
	if len(r.Channels("app", "")) != 0 {
		t.Errorf("channels left: %v", r.Channels("app", ""))
	}
	t.Logf("%d deliveries to other workers' subscribers", delivered.Load())
}

// cheap is a subscriber whose Send costs next to nothing, so benchmarks
// measure the registry's walk.
type cheap struct {
	id string
	n  atomic.Int64
}

func (c *cheap) SocketID() string { return c.id }

func (c *cheap) Send(*protocol.Frame) bool { c.n.Add(1); return true }

func benchmarkBroadcast(b *testing.B, subscribers int) {
	r := channels.NewRegistry(nil)
	subs := make([]*cheap, subscribers)
	for i := range subs {
		subs[i] = &cheap{id: strconv.Itoa(i) + ".1"}
		r.Add("app", "ch", subs[i])
	}
	f := protocol.NewFrame("order-shipped", "ch", `{"id":1}`, protocol.DataString, "")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if n := r.Broadcast("app", "ch", f, "0.1"); n != subscribers-1 {
			b.Fatalf("sent %d", n)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(subscribers), "ns/subscriber")
}

func BenchmarkBroadcast1k(b *testing.B)  { benchmarkBroadcast(b, 1_000) }
func BenchmarkBroadcast10k(b *testing.B) { benchmarkBroadcast(b, 10_000) }
