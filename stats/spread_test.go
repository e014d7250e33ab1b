package stats

import (
	"reflect"
	"testing"
)

func TestSpreadAndRatios(t *testing.T) {
	if got := SpreadOf([]float64{5, 1, 3, 9, 7}); got != (Spread{Median: 5, Min: 1, Max: 9, Runs: 5}) {
		t.Errorf("odd: %+v", got)
	}
	if got := SpreadOf([]float64{4, 1, 3, 2}); got != (Spread{Median: 2.5, Min: 1, Max: 4, Runs: 4}) {
		t.Errorf("even: %+v", got)
	}
	// Pair by pair: a slow moment that slows both keeps the ratio.
	if got := Ratios([]float64{2, 20, 3}, []float64{1, 10, 2}); !reflect.DeepEqual(got, []float64{2, 2, 1.5}) {
		t.Errorf("ratios %v", got)
	}
}
