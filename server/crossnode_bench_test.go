package server_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaver-dev/quaver/client"
	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/internal/redistest"
	"github.com/quaver-dev/quaver/internal/testserver"
	"github.com/quaver-dev/quaver/protocol"
)

// BenchmarkCrossNodeFanOut publishes through the HTTP API of node A, from 8
// concurrent publishers, to 100 subscribers on node B, through Redis. Each
// op is one event; the figures count what the subscribers actually read.
//
//	go test ./server -run '^$' -bench CrossNodeFanOut -benchtime 20000x
func BenchmarkCrossNodeFanOut(b *testing.B) {
	r := redistest.Start(b)
	withRedis := func(c *config.Config) { c.Redis.URL = r.URL() }
	nodeA := testserver.Start(b, withRedis)
	nodeB := testserver.Start(b, withRedis)

	const subscribers = 100
	var delivered, subscribed atomic.Int64
	ctx := context.Background()
	for range subscribers {
		c, err := client.Dial(ctx, client.Options{URL: nodeB.WSURL, Key: testserver.AppKey, OnEvent: func(e client.Event) {
			switch e.Event {
			case "tick":
				delivered.Add(1)
			case protocol.EventSubscriptionSucceeded:
				subscribed.Add(1)
			}
		}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(c.Close)
		if err := c.Subscribe("bench", client.SubscribeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	for subscribed.Load() < subscribers {
		time.Sleep(time.Millisecond)
	}
	api := &client.API{BaseURL: nodeA.URL, AppID: testserver.AppID, Key: testserver.AppKey, Secret: testserver.AppSecret}

	b.ResetTimer()
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
				ev := client.TriggerEvent{Name: "tick", Channels: []string{"bench"}, Data: `{"seq":` + strconv.FormatInt(i, 10) + `}`}
				if _, err := api.Trigger(ctx, ev); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	want := int64(b.N) * subscribers
	for deadline := time.Now().Add(time.Minute); delivered.Load() < want && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if got := delivered.Load(); got != want {
		b.Fatalf("subscribers read %d of %d deliveries", got, want)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(want)/elapsed.Seconds(), "deliveries/s")
}
