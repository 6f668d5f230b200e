package broadcast

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/channels"
	"github.com/quaver-dev/quaver/protocol"
	"github.com/quaver-dev/quaver/scaling"
)

type capture struct {
	id     string
	mu     sync.Mutex
	frames []*protocol.Frame
}

func (c *capture) SocketID() string { return c.id }

func (c *capture) Send(f *protocol.Frame) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frames = append(c.frames, f)
	return true
}

func (c *capture) jsons() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, len(c.frames))
	for i, f := range c.frames {
		out[i] = string(f.JSON)
	}
	return out
}

// remoteBroker stands for a multi-node broker: it records what is
// published and delivers what the test feeds it. It embeds Local for the
// methods the publisher does not use.
type remoteBroker struct {
	scaling.Local
	mu        sync.Mutex
	published []scaling.Envelope
	err       error
	inbound   chan scaling.Envelope
}

func (b *remoteBroker) Publish(_ context.Context, env scaling.Envelope) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.published = append(b.published, env)
	return b.err
}

func (b *remoteBroker) Run(ctx context.Context, deliver func(scaling.Envelope)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case env := <-b.inbound:
			deliver(env)
		}
	}
}

func newSubscribers(r *channels.Registry, channel string, ids ...string) []*capture {
	out := make([]*capture, len(ids))
	for i, id := range ids {
		out[i] = &capture{id: id}
		r.Add("app", channel, out[i])
	}
	return out
}

func TestPublishLocal(t *testing.T) {
	tests := []struct {
		name    string
		except  string
		wantIDs []string
	}{
		{"everyone", "", []string{"1.1", "2.2", "3.3"}},
		{"except the sender", "2.2", []string{"1.1", "3.3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := channels.NewRegistry(nil)
			p := NewPublisher(Options{Registry: r})
			subs := newSubscribers(r, "orders", "1.1", "2.2", "3.3")
			other := newSubscribers(r, "other", "4.4")[0]
			f := protocol.NewFrame("order-shipped", "orders", `{"id":1}`, protocol.DataString, "")
			p.Publish(t.Context(), Event{App: "app", Frame: f, Except: tt.except})
			var got []string
			for _, s := range subs {
				if frames := s.jsons(); len(frames) == 1 && frames[0] == string(f.JSON) {
					got = append(got, s.id)
				} else if len(frames) != 0 {
					t.Fatalf("%s received %q", s.id, frames)
				}
			}
			if !slices.Equal(got, tt.wantIDs) {
				t.Fatalf("delivered to %v, want %v", got, tt.wantIDs)
			}
			if len(other.jsons()) != 0 {
				t.Fatal("another channel received the event")
			}
		})
	}
}

func TestPublishCache(t *testing.T) {
	tests := []struct {
		name       string
		channel    string
		ttl        time.Duration
		wantCached bool
	}{
		{"public cache channel", "cache-prices", time.Hour, true},
		{"private cache channel", "private-cache-x", time.Hour, true},
		{"presence cache channel", "presence-cache-x", time.Hour, true},
		{"encrypted cache channel", "private-encrypted-cache-x", time.Hour, true},
		{"not a cache channel", "prices", time.Hour, false},
		{"no ttl", "cache-prices", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPublisher(Options{Registry: channels.NewRegistry(nil)})
			if f, err := p.Cached(t.Context(), "app", tt.channel); f != nil || err != nil {
				t.Fatalf("Cached before any publish = %v, %v; want nil, nil", f, err)
			}
			f := protocol.NewFrame("price", tt.channel, `{"eur":1}`, protocol.DataString, "")
			p.Publish(t.Context(), Event{App: "app", Frame: f, Except: "1.1", CacheTTL: tt.ttl})
			got, err := p.Cached(t.Context(), "app", tt.channel)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.wantCached {
				if got != nil {
					t.Fatalf("cached %s", got.JSON)
				}
				return
			}
			if got == nil || string(got.JSON) != string(f.JSON) {
				t.Fatalf("Cached = %v, want %s", got, f.JSON)
			}
			if other, _ := p.Cached(t.Context(), "other-app", tt.channel); other != nil {
				t.Fatal("cached for another app")
			}
		})
	}
}

func TestCachedExpires(t *testing.T) {
	now := time.Unix(1700000000, 0)
	cache := NewMemoryCache()
	cache.now = func() time.Time { return now }
	p := NewPublisher(Options{Registry: channels.NewRegistry(nil), Cache: cache})
	f := protocol.NewFrame("e", "cache-x", "1", protocol.DataString, "")
	p.Publish(t.Context(), Event{App: "app", Frame: f, CacheTTL: time.Minute})
	if got, _ := p.Cached(t.Context(), "app", "cache-x"); got == nil {
		t.Fatal("nothing cached")
	}
	now = now.Add(time.Minute + time.Second)
	if got, err := p.Cached(t.Context(), "app", "cache-x"); got != nil || err != nil {
		t.Fatalf("Cached after expiry = %v, %v", got, err)
	}
}

type failingCache struct{ err error }

func (c failingCache) Put(context.Context, string, string, []byte, time.Duration) error { return c.err }
func (c failingCache) Get(context.Context, string, string) ([]byte, error)              { return nil, c.err }

func TestPublishCacheFailureStillDelivers(t *testing.T) {
	boom := errors.New("boom")
	r := channels.NewRegistry(nil)
	p := NewPublisher(Options{Registry: r, Cache: failingCache{boom}})
	sub := newSubscribers(r, "cache-x", "1.1")[0]
	f := protocol.NewFrame("e", "cache-x", "1", protocol.DataString, "")
	p.Publish(t.Context(), Event{App: "app", Frame: f, CacheTTL: time.Minute})
	if len(sub.jsons()) != 1 {
		t.Fatal("local subscriber missed the event")
	}
	if got, err := p.Cached(t.Context(), "app", "cache-x"); got != nil || !errors.Is(err, boom) {
		t.Fatalf("Cached = %v, %v", got, err)
	}
}

func TestPublishToOtherNodes(t *testing.T) {
	boom := errors.New("redis down")
	tests := []struct {
		name string
		err  error
	}{
		{"published", nil},
		{"broker fails, local still delivered", boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := channels.NewRegistry(nil)
			b := &remoteBroker{err: tt.err}
			p := NewPublisher(Options{Registry: r, Broker: b})
			sub := newSubscribers(r, "private-a", "1.1")[0]
			f := protocol.NewFrame("e", "private-a", `{"x":1}`, protocol.DataString, "")
			p.Publish(t.Context(), Event{App: "app", Frame: f, Except: "9.9"})
			if len(sub.jsons()) != 1 {
				t.Fatal("local subscriber missed the event")
			}
			if len(b.published) != 1 {
				t.Fatalf("%d envelopes published, want 1", len(b.published))
			}
			env := b.published[0]
			if env.App != "app" || env.Channel != "private-a" {
				t.Fatalf("envelope for %s/%s", env.App, env.Channel)
			}
			got, except, err := protocol.UnmarshalFrame(env.Payload)
			if err != nil || except != "9.9" || string(got.JSON) != string(f.JSON) {
				t.Fatalf("payload decodes to %v, %q, %v", got, except, err)
			}
		})
	}
}

func TestRunDeliversFromOtherNodes(t *testing.T) {
	r := channels.NewRegistry(nil)
	b := &remoteBroker{inbound: make(chan scaling.Envelope)}
	p := NewPublisher(Options{Registry: r, Broker: b})
	subs := newSubscribers(r, "presence-room", "1.1", "2.2")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()

	f := protocol.NewFrame("client-typing", "presence-room", `{"a":1}`, protocol.DataRaw, "u1")
	b.inbound <- scaling.Envelope{App: "app", Channel: "presence-room", Payload: []byte("garbage")}
	b.inbound <- scaling.Envelope{App: "app", Channel: "presence-room", Payload: protocol.MarshalFrame(f, "1.1")}
	b.inbound <- scaling.Envelope{App: "other", Channel: "presence-room", Payload: protocol.MarshalFrame(f, "")}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	if got := subs[0].jsons(); len(got) != 0 {
		t.Fatalf("the excluded socket received %q", got)
	}
	if got := subs[1].jsons(); len(got) != 1 || got[0] != string(f.JSON) {
		t.Fatalf("subscriber received %q, want one %s", got, f.JSON)
	}
}

func TestPublishLocalBrokerSkipsMarshal(t *testing.T) {
	r := channels.NewRegistry(nil)
	p := NewPublisher(Options{Registry: r})
	newSubscribers(r, "ch", "1.1")
	f := protocol.NewFrame("e", "ch", "d", protocol.DataString, "")
	allocs := testing.AllocsPerRun(100, func() {
		p.Publish(context.Background(), Event{App: "app", Frame: f})
	})
	// The capturing subscriber's append allocates now and then; a marshal
	// per publish would add at least one allocation every time.
	if allocs >= 1 {
		t.Fatalf("Publish allocated %.1f times per call on a single node", allocs)
	}
}
