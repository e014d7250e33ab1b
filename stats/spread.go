package stats

import "sort"

// Spread is the median, smallest and largest of repeated measurements
// (runs of a timed figure, seeds of a result).
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Runs   int     `json:"runs"`
}

// SpreadOf summarises measurements; xs must not be empty.
func SpreadOf(xs []float64) Spread {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Spread{Median: m, Min: s[0], Max: s[len(s)-1], Runs: len(s)}
}

// Ratios divides a by b pair by pair: run i of one by run i of the other,
// measured back to back, so that a noisy moment affects both.
func Ratios(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] / b[i]
	}
	return out
}
