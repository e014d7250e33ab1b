package stats

import (
	"math"
	"testing"
)

func TestCorrelationsByHand(t *testing.T) {
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-12 {
			t.Errorf("%s = %.15g, want %g", name, got, want)
		}
	}
	x, y := []float64{1, 2, 3, 4, 5}, []float64{2, 1, 4, 3, 5}
	p, _ := Pearson(x, y)
	s, _ := Spearman(x, y)
	k, _ := KendallTauB(x, y)
	near("pearson", p, 0.8)  // Σdxdy = 8, Σdx² = Σdy² = 10
	near("spearman", s, 0.8) // the values are their ranks
	near("kendall", k, 0.6)  // 8 concordant, 2 discordant pairs of 10
	// With ties: ranks (1, 2.5, 2.5, 4) and (1, 4, 2.5, 2.5).
	x, y = []float64{1, 2, 2, 3}, []float64{1, 3, 2, 2}
	s, _ = Spearman(x, y)
	k, _ = KendallTauB(x, y)
	near("spearman with ties", s, 0.5)
	near("kendall tau-b with ties", k, 0.4) // (3 − 1)/sqrt((6 − 1)(6 − 1))
	p, _ = Pearson([]float64{1, 2, 3}, []float64{6, 4, 2})
	near("pearson, perfectly inverse", p, -1)
	if p, _ := Pearson([]float64{1, 1, 1}, []float64{1, 2, 3}); !math.IsNaN(p) {
		t.Errorf("constant: %g", p)
	}
	if _, err := KendallTauB([]float64{1}, []float64{1}); err == nil {
		t.Error("one pair accepted")
	}
	if _, err := Pearson([]float64{1, 2}, []float64{1}); err == nil {
		t.Error("unpaired accepted")
	}
	// Partial: the residuals of x = (1, 3, 2, 5, 4) and y = (2, 1, 4, 3, 6)
	// on z = (1, …, 5) (slopes 0.8 and 1) are (−0.4, 0.8, −1, 1.2, −0.6) and
	// (0.8, −1.2, 0.8, −1.2, 0.8): Σ = −4, Σ² = 3.6 and 4.8, so
	// −4/√17.28 = −5/(3√3).
	z := []float64{1, 2, 3, 4, 5}
	pp, _ := PartialPearson([]float64{1, 3, 2, 5, 4}, []float64{2, 1, 4, 3, 6}, z)
	near("partial pearson", pp, -5/(3*math.Sqrt(3)))
	if pp, _ := PartialPearson([]float64{1, 3, 2, 5, 4}, []float64{2, 4, 6, 8, 10}, z); !math.IsNaN(pp) {
		t.Errorf("y a linear function of z: %g", pp)
	}
	if _, err := PartialPearson([]float64{1, 2, 3}, []float64{1, 2, 3}, z); err == nil {
		t.Error("unpaired z accepted")
	}
}
