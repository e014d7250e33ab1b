package pipelines

import (
	"math"
	"testing"
)

// Matched-KL interpolation on a hand-made curve: between evaluations,
// linearly; at an evaluation, its value; outside the curve, nothing.
func TestRewardAtKL(t *testing.T) {
	curve := []CurvePoint{{Step: 100, KL: 0.2, Reward: 1.5}, {Step: 0, KL: 0, Reward: 1}, {Step: 200, KL: 0.6, Reward: 1.7}}
	for _, c := range []struct {
		kl, want float64
		ok       bool
	}{{0.1, 1.25, true}, {0.2, 1.5, true}, {0.5, 1.65, true}, {0.6, 1.7, true}, {0.7, 0, false}, {-0.1, 0, false}} {
		got, ok := RewardAtKL(curve, c.kl)
		if ok != c.ok || math.Abs(got-c.want) > 1e-12 {
			t.Errorf("KL %g: %v %v, want %v %v", c.kl, got, ok, c.want, c.ok)
		}
	}
	// A curve whose KL falls back: the first segment reaching the value.
	back := []CurvePoint{{0, 0, 0}, {1, 1, 10}, {2, 0.5, 20}}
	if got, _ := RewardAtKL(back, 0.75); math.Abs(got-7.5) > 1e-12 {
		t.Errorf("first crossing: %v, want 7.5", got)
	}
}
