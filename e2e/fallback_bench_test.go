package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/internal/testnode"
)

// The HTTP fallback's costs next to a WebSocket's, measured on a real
// quaver process (the clients run in the benchmark's own process):
//
//	go test ./e2e/ -run '^$' -bench BenchmarkFallbackIdle -benchtime 5000x
//	go test ./e2e/ -run '^$' -bench BenchmarkFallbackLatency -benchtime 500x
//
// Idle reports the server's resident memory, Go heap and goroutines per
// idle session; Latency the time from the HTTP API call to each of 100
// subscribers reading the event.

var benchTransports = []string{"ws", "xhr_streaming", "xhr_polling"}

func BenchmarkFallbackIdle(b *testing.B) {
	for _, transport := range benchTransports {
		b.Run(transport, func(b *testing.B) { benchIdle(b, transport) })
	}
}

func BenchmarkFallbackLatency(b *testing.B) {
	for _, transport := range benchTransports {
		b.Run(transport, func(b *testing.B) { benchLatency(b, transport, 100) })
	}
}

// serverStats reads a node's memory and goroutines from /metrics.
func serverStats(b *testing.B, n *testnode.Node) (rss, heap, goroutines float64) {
	b.Helper()
	m, err := client.ReadMetrics(context.Background(), n.URL)
	if err != nil {
		b.Fatal(err)
	}
	value := func(name string) float64 {
		v, ok := m[name]
		if !ok {
			b.Fatalf("/metrics has no %s", name)
		}
		return v
	}
	return value("process_resident_memory_bytes"), value("go_memstats_heap_inuse_bytes"), value("go_goroutines")
}

// benchSession is an HTTP fallback session driven as pusher-js drives it.
type benchSession struct {
	base   string // .../pusher/app/{key}/{server}/{session}/
	http   *http.Client
	lines  *bufio.Reader
	body   io.Closer
	onLine func(line string)
}

func newBenchSession(n *testnode.Node, hc *http.Client, i int) *benchSession {
	return &benchSession{base: fmt.Sprintf("%s/pusher/app/%s/%d/b%07d/", n.URL, testnode.AppKey, i%1000, i), http: hc}
}

func (s *benchSession) post(kind, body string) (*http.Response, error) {
	url := s.base + kind
	if kind != "xhr_send" {
		url += "?protocol=7&client=js&version=8.6.0"
	}
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	return s.http.Do(req)
}

// open starts the session and reads up to connection_established; a
// stream stays open, a poll is then held by the next poll.
func (s *benchSession) open(kind string) error {
	resp, err := s.post(kind, "")
	if err != nil {
		return err
	}
	r := bufio.NewReader(resp.Body)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return fmt.Errorf("opening: %w", err)
		}
		if strings.Contains(line, "connection_established") {
			break
		}
	}
	if kind == "xhr" {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.Body.Close()
	}
	s.lines, s.body = r, resp.Body
	return nil
}

func (s *benchSession) send(message string) error {
	body, _ := json.Marshal([]string{message})
	resp, err := s.post("xhr_send", string(body))
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// read hands every line to onLine: from the stream, or poll after poll.
func (s *benchSession) read(ctx context.Context, streaming bool) {
	if streaming {
		for {
			line, err := s.lines.ReadString('\n')
			if err != nil {
				return
			}
			s.onLine(line)
		}
	}
	for ctx.Err() == nil {
		resp, err := s.post("xhr", "")
		if err != nil {
			return
		}
		r := bufio.NewReader(resp.Body)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				break
			}
			s.onLine(line)
		}
		_ = resp.Body.Close()
	}
}

func benchHTTPClient(b *testing.B) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 1024}
	b.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func benchIdle(b *testing.B, transport string) {
	node := testnode.Start(b, testnode.Options{})
	hc := benchHTTPClient(b)
	fleet, err := client.NewFleet(1)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(fleet.Close)
	rss0, heap0, g0 := serverStats(b, node)
	ctx := b.Context()
	b.ResetTimer()
	for i := range b.N {
		switch transport {
		case "ws":
			_, _, err = fleet.Dial(ctx, node.WSURL, testnode.AppKey, func([]byte) {})
		case "xhr_streaming":
			err = newBenchSession(node, hc, i).open("xhr_streaming")
		case "xhr_polling":
			s := newBenchSession(node, hc, i)
			if err = s.open("xhr"); err == nil {
				// The next poll is held, as pusher-js keeps one waiting.
				go func() {
					if resp, err := s.post("xhr", ""); err == nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						_ = resp.Body.Close()
					}
				}()
			}
		}
		if err != nil {
			b.Fatalf("session %d: %v", i, err)
		}
	}
	b.StopTimer()
	eventuallyWithin(b, 30*time.Second, fmt.Sprintf("%d %s sessions open", b.N, transport), func() bool {
		return transportConnections(b, node.URL)[transport] == b.N
	})
	time.Sleep(500 * time.Millisecond) // let held polls reach the server
	rss, heap, g := serverStats(b, node)
	n := float64(b.N)
	b.ReportMetric((rss-rss0)/n, "rss-B/session")
	b.ReportMetric((heap-heap0)/n, "heap-B/session")
	b.ReportMetric((g-g0)/n, "goroutines/session")
}

func benchLatency(b *testing.B, transport string, subscribers int) {
	node := testnode.Start(b, testnode.Options{})
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	var mu sync.Mutex
	var latencies []time.Duration
	received := make(chan struct{}, 1<<16)
	// record takes the send time of every event in a frame or line (a
	// line may carry several). The send time is the only number in them:
	// every ": followed by a digit starts one.
	record := func(data []byte) {
		for i := 0; ; {
			j := bytes.Index(data[i:], []byte(`":`))
			if j < 0 {
				return
			}
			i += j + 2
			var sent int64
			k := i
			for ; k < len(data) && data[k] >= '0' && data[k] <= '9'; k++ {
				sent = sent*10 + int64(data[k]-'0')
			}
			if k == i {
				continue
			}
			d := time.Since(time.Unix(0, sent))
			mu.Lock()
			latencies = append(latencies, d)
			mu.Unlock()
			received <- struct{}{}
		}
	}
	const channel = "bench"
	subscribe := `{"event":"pusher:subscribe","data":{"channel":"` + channel + `","auth":""}}`
	switch transport {
	case "ws":
		fleet, err := client.NewFleet(2)
		if err != nil {
			b.Fatal(err)
		}
		fleet.Start()
		b.Cleanup(fleet.Close)
		for range subscribers {
			i, _, err := fleet.Dial(ctx, node.WSURL, testnode.AppKey, func(raw []byte) {
				if strings.Contains(string(raw), `"event":"tick"`) {
					record(raw)
				}
			})
			if err == nil {
				err = fleet.Subscribe(i, channel)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	default:
		hc := benchHTTPClient(b)
		streaming := transport == "xhr_streaming"
		kind := map[bool]string{true: "xhr_streaming", false: "xhr"}[streaming]
		for i := range subscribers {
			s := newBenchSession(node, hc, i)
			s.onLine = func(line string) {
				if strings.Contains(line, `tick`) {
					record([]byte(line))
				}
			}
			if err := s.open(kind); err != nil {
				b.Fatal(err)
			}
			if err := s.send(subscribe); err != nil {
				b.Fatal(err)
			}
			go s.read(ctx, streaming)
			if s.body != nil {
				b.Cleanup(func() { _ = s.body.Close() })
			}
		}
	}
	api := &client.API{BaseURL: node.URL, AppID: testnode.AppID, Key: testnode.AppKey, Secret: testnode.AppSecret}
	// Wait until every subscriber receives.
	eventuallyWithin(b, 30*time.Second, "every subscriber subscribed", func() bool {
		body, err := api.Get(ctx, "/channels/"+channel, map[string][]string{"info": {"subscription_count"}})
		return err == nil && strings.Contains(string(body), fmt.Sprintf(`"subscription_count":%d`, subscribers))
	})
	// publish sends n events 20 ms apart (5,000 deliveries a second, well
	// below what this benchmark's clients can read) and waits for every
	// delivery.
	publish := func(n int) {
		for range n {
			data := fmt.Sprintf(`{"t":%d}`, time.Now().UnixNano())
			if _, err := api.Trigger(ctx, client.TriggerEvent{Name: "tick", Data: data, Channels: []string{channel}}); err != nil {
				b.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		timeout := time.After(30 * time.Second)
		for range n * subscribers {
			select {
			case <-received:
			case <-timeout:
				mu.Lock()
				b.Fatalf("%d of %d deliveries", len(latencies), n*subscribers)
			}
		}
	}
	// The first events of fresh processes are not counted.
	publish(50)
	mu.Lock()
	latencies = latencies[:0]
	mu.Unlock()
	b.ResetTimer()
	publish(b.N)
	b.StopTimer()
	slices.Sort(latencies)
	at := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.5), "p50-ms")
	b.ReportMetric(at(0.9), "p90-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(at(1), "max-ms")
}
