package stages

import (
	"math"
	"testing"

	"github.com/srdpo/srdpo/schemas"
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

// Does p carry quality information to the reference? Hand-made rows: the
// margin gained on p⊕x over x is 2·gap + 1 on the first three rows, so the
// correlation with the gap is exactly 1; shifted on a fourth, less.
func TestRefPromptCorrelation(t *testing.T) {
	row := func(id string, gap, aug float64) schemas.Scored {
		c, r := gap, 0.0
		return schemas.Scored{ID: id, ScoreChosen: &c, ScoreRejected: &r,
			RefLogpChosen: -10, RefLogpRejected: -12, RefLogpChosenAug: -10 + aug, RefLogpRejectedAug: -12}
	}
	rows := []schemas.Scored{row("a", 0.1, 1.2), row("b", 0.5, 2), row("c", 0.9, 2.8)}
	if c, err := RefPromptCorrelation(rows); err != nil || math.Abs(c-1) > 1e-12 {
		t.Errorf("linear: %v (%v), want 1", c, err)
	}
	rows = append(rows, row("d", 0.3, 3))
	if c, _ := RefPromptCorrelation(rows); c >= 0.9 || c <= 0 {
		t.Errorf("with an outlier: %v", c)
	}
	rows[0].ScoreChosen = nil
	if _, err := RefPromptCorrelation(rows); err == nil {
		t.Error("a row without gold scores: no error")
	}
}
