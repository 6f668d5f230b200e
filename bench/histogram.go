package bench

import (
	"math"
	"math/bits"
	"sync"
	"time"
)

// histogram records latencies in microseconds with about 1.5% precision:
// exact below 64 µs, then 64 sub-buckets per power of two. Recording is a
// few instructions and no allocation, so readers can record every delivery.
type histogram struct {
	mu     sync.Mutex
	counts [64 * 40]uint64
	total  uint64
	max    uint64
}

const subBuckets = 64

func bucketOf(us uint64) int {
	if us < subBuckets {
		return int(us)
	}
	exp := bits.Len64(us) - 7 // us >> exp is in [64, 128)
	return subBuckets*(exp+1) + int(us>>exp) - subBuckets
}

// lowerBound is the smallest value in bucket i.
func lowerBound(i int) uint64 {
	if i < subBuckets {
		return uint64(i)
	}
	exp := i/subBuckets - 1
	return uint64(i%subBuckets+subBuckets) << exp
}

func (h *histogram) record(d time.Duration) {
	us := uint64(max(d, 0) / time.Microsecond)
	b := min(bucketOf(us), len(h.counts)-1)
	h.mu.Lock()
	h.counts[b]++
	h.total++
	h.max = max(h.max, us)
	h.mu.Unlock()
}

// quantile returns the value below which the fraction q of samples fall.
func (h *histogram) quantile(q float64) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(lowerBound(i), h.max)) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}

func (h *histogram) maximum() time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	return time.Duration(h.max) * time.Microsecond
}

func (h *histogram) count() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.total
}

// Latency is a latency distribution in milliseconds.
type Latency struct {
	P50 float64 `json:"p50_ms"`
	P95 float64 `json:"p95_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func (h *histogram) latency() Latency {
	ms := func(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Millisecond)*1000) / 1000 }
	return Latency{P50: ms(h.quantile(0.50)), P95: ms(h.quantile(0.95)), P99: ms(h.quantile(0.99)), Max: ms(h.maximum())}
}
