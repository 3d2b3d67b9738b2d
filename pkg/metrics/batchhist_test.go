package metrics

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestBatchHistogramMatchesHistogram: the batch histogram exports exactly
// what client_golang's own histogram exports for the same observations,
// single (Observe) or repeated (ObserveN).
func TestBatchHistogramMatchesHistogram(t *testing.T) {
	buckets := prometheus.ExponentialBuckets(0.001, 2, 17)
	want := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lat", Help: "h", Buckets: buckets}, []string{"topic"})
	got := NewBatchHistogramVec("lat", "h", buckets, "topic")
	regW, regG := prometheus.NewPedanticRegistry(), prometheus.NewPedanticRegistry()
	regW.MustRegister(want)
	regG.MustRegister(got)
	for _, topic := range []string{"a", "b"} {
		o := got.Observer(topic)
		for i := range 5000 {
			// Include exact bucket bounds: le is inclusive.
			x := rand.Float64() * 70
			if i%10 == 0 {
				x = buckets[i%len(buckets)]
			}
			if i%3 == 0 {
				n := 1 + i%4
				for range n {
					want.WithLabelValues(topic).Observe(x)
				}
				o.ObserveN(x, uint64(n))
			} else {
				want.WithLabelValues(topic).Observe(x)
				o.Observe(x)
			}
			if i%37 == 0 {
				o.Flush()
			}
		}
		o.Flush()
	}
	gw, err := regW.Gather()
	if err != nil {
		t.Fatal(err)
	}
	gg, err := regG.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(gw) != 1 || len(gg) != 1 || len(gw[0].Metric) != 2 || len(gg[0].Metric) != 2 {
		t.Fatalf("families %d/%d", len(gw), len(gg))
	}
	for i := range gw[0].Metric {
		hw, hg := gw[0].Metric[i].GetHistogram(), gg[0].Metric[i].GetHistogram()
		if hw.GetSampleCount() != hg.GetSampleCount() || math.Abs(hw.GetSampleSum()-hg.GetSampleSum()) > 1e-9*hw.GetSampleSum() {
			t.Fatalf("count/sum differ: %v/%v vs %v/%v", hw.GetSampleCount(), hw.GetSampleSum(), hg.GetSampleCount(), hg.GetSampleSum())
		}
		for j, b := range hw.GetBucket() {
			if b.GetCumulativeCount() != hg.GetBucket()[j].GetCumulativeCount() || b.GetUpperBound() != hg.GetBucket()[j].GetUpperBound() {
				t.Fatalf("bucket %v: %d vs %d", b.GetUpperBound(), b.GetCumulativeCount(), hg.GetBucket()[j].GetCumulativeCount())
			}
		}
	}
	if n := testutil.CollectAndCount(got); n != 2 {
		t.Fatalf("%d series", n)
	}
}
