package stats

import (
	"math"
	"testing"
)

// The paired t-interval on hand-computed numbers: differences 1, 2, 3, 4,
// 5 have mean 3, s = √2.5, and t(0.975, 4) = 2.7764451; half-width
// 2.7764451·√2.5/√5 = 1.9632.
func TestPairedInterval(t *testing.T) {
	mean, lo, hi, err := PairedInterval([]float64{1, 2, 3, 4, 5})
	half := 2.7764451051977987 * math.Sqrt(2.5) / math.Sqrt(5)
	if err != nil || mean != 3 || math.Abs(lo-(3-half)) > 1e-9 || math.Abs(hi-(3+half)) > 1e-9 {
		t.Errorf("interval %v [%v, %v] (%v), want 3 ± %v", mean, lo, hi, err, half)
	}
	for df, want := range map[float64]float64{1: 12.706204736174698, 2: 4.302652729749464, 9: 2.2621571628540993, 30: 2.0422724563012373} {
		if got := studentTQuantile(0.975, df); math.Abs(got-want) > 1e-9 {
			t.Errorf("t(0.975, %g) = %.12g, want %.12g", df, got, want)
		}
	}
	if _, _, _, err := PairedInterval([]float64{1}); err == nil {
		t.Error("one difference: no error")
	}
}
