package e2e

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/quaver-dev/quaver/config"
	"github.com/quaver-dev/quaver/internal/jsdriver"
	"github.com/quaver-dev/quaver/internal/redistest"
	"github.com/quaver-dev/quaver/internal/testenv"
)

// metricValue returns the value of the sample whose name and full label
// set are series, e.g. `quaver_channels{app="test-app"}`, or 0 when there
// is none.
func metricValue(t *testing.T, metrics, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(metrics)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatalf("%s: %v", series, err)
	}
	return v
}

// Tokens from the HTTP API and from a Redis Stream and a client event
// reach two pusher-js clients; the node's metrics, served on their own
// address, time each delivery by source, each stream's first token (from
// ingest, and from the producer's requested_at), and the gaps between a
// stream's tokens.
func TestDeliveryMetrics(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	h := start(t, func(c *config.Config) {
		c.Redis.URL = r.URL()
		c.Apps[0].Channels = aiRules(0)
		c.Apps[0].ClientEvents = "all"
		c.MetricsAddr = metricsAddr
	})
	const ch = "private-ai-metrics"
	for _, name := range []string{"ann", "bob"} {
		h.connect(name, "pusher-js", nil)
		h.subscribe(name, ch)
	}

	// A stream through the HTTP API, its first token saying when the user
	// asked; then one through the ingest stream.
	const n = 10
	for i := range n {
		data := args{"stream": "api", "seq": i, "delta": fmt.Sprintf("a%d ", i)}
		if i == 0 {
			data["requested_at"] = 1 // long ago: the request figure is huge, and counted
		}
		h.trigger([]string{ch}, "token", data)
	}
	h.trigger([]string{ch}, "token", args{"stream": "api", "seq": n, "done": true})
	for _, name := range []string{"ann", "bob"} {
		waitText(t, h.d, name, ch, strings.Join(apiWords(n), ""))
	}
	produce(t, r.Client(), ch, "stream", words(n), 0)
	for _, name := range []string{"ann", "bob"} {
		eventually(t, name+" has the ingested stream", func() bool {
			return h.d.Count(jsdriver.And(jsdriver.Event(name, ch, "token"), jsdriver.DataContains(`"done":true`))) == 2
		})
	}
	h.d.Call("trigger", args{"client": "ann", "channel": ch, "event": "client-typing", "data": args{"who": "ann"}})
	h.d.Wait("bob gets ann's client event", jsdriver.Event("bob", ch, "client-typing"))

	m := getText(t, "http://"+metricsAddr+"/metrics")
	const app = `app="test-app"`
	for _, c := range []struct {
		series string
		want   float64
	}{
		// Every token of each stream (n deltas and the done) to two clients.
		{`quaver_delivery_latency_seconds_count{` + app + `,source="api"}`, 2 * (n + 1)},
		{`quaver_delivery_latency_seconds_count{` + app + `,source="redis_stream"}`, 2 * (n + 1)},
		{`quaver_delivery_latency_seconds_count{` + app + `,source="client_event"}`, 1},
		// Each stream's first token, once on this node.
		{`quaver_time_to_first_token_seconds_count{` + app + `,from="ingest"}`, 2},
		{`quaver_time_to_first_token_seconds_count{` + app + `,from="request"}`, 1},
		// n gaps per stream per client.
		{`quaver_token_gap_seconds_count{` + app + `}`, 2 * 2 * n},
		{`quaver_channels{` + app + `}`, 1},
	} {
		if got := metricValue(t, m, c.series); got != c.want {
			t.Errorf("%s = %v, want %v", c.series, got, c.want)
		}
	}
	// Timings are of this machine, not of a clock gone wrong: deliveries
	// take milliseconds, the request figure counts from 1970.
	if sum, count := metricValue(t, m, `quaver_delivery_latency_seconds_sum{`+app+`,source="api"}`), float64(2*(n+1)); sum <= 0 || sum/count > 1 {
		t.Errorf("API delivery latency averages %.3fs", sum/count)
	}
	if sum := metricValue(t, m, `quaver_time_to_first_token_seconds_sum{`+app+`,from="request"}`); sum < 1e9 {
		t.Errorf("time to first token from the request %.0fs, want since requested_at", sum)
	}
	if out := metricValue(t, m, `quaver_messages_out_total{`+app+`}`); out < 4*(n+1)+1 {
		t.Errorf("quaver_messages_out_total = %v, want at least every token and the client event", out)
	}
	for _, name := range []string{"quaver_outbox_bytes", "quaver_outbox_largest_bytes"} {
		if !strings.Contains(m, "# TYPE "+name+" ") {
			t.Errorf("metrics lack %s", name)
		}
	}

	// With a metrics address, the public port does not serve them.
	resp, err := http.Get(h.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("public /metrics answered %d, want 404", resp.StatusCode)
	}
}

func apiWords(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("a%d ", i)
	}
	return out
}
