package stages

import (
	"math"
	"testing"

	"github.com/srdpo/srdpo/schemas"
)

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
