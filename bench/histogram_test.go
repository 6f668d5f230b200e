package bench

import (
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Millisecond}, {0.99, 990 * time.Millisecond}, {1, time.Second}} {
		got := h.quantile(tc.q)
		if diff := got - tc.want; diff > tc.want/50 || diff < -tc.want/50 {
			t.Errorf("q%.2f = %v, want %v within 2%%", tc.q, got, tc.want)
		}
	}
	if h.maximum() != time.Second || h.count() != 1000 {
		t.Errorf("max %v count %d", h.maximum(), h.count())
	}
}

func TestHistogramBuckets(t *testing.T) {
	for us := uint64(0); us < 1<<22; us += 7 {
		b := bucketOf(us)
		if lo := lowerBound(b); lo > us || (b+1 < subBuckets*40 && lowerBound(b+1) <= us) {
			t.Fatalf("%d µs in bucket %d [%d, %d)", us, b, lo, lowerBound(b+1))
		}
	}
}
