// Package stats holds the statistics srdpo reports: the correlations of
// the paper's Table 4 and the paired Student-t interval over seeds.
package stats

import (
	"fmt"
	"math"
	"sort"
)

// The correlations of the paper's Table 4, between the true quality gap
// r*(y+) − r*(y−) and the margin h or Δπ.

// Pearson is the linear correlation of x and y.
func Pearson(x, y []float64) (float64, error) {
	if err := checkPaired(x, y); err != nil {
		return 0, err
	}
	mx, my := Mean(x), Mean(y)
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN(), nil // a constant has no correlation
	}
	return sxy / math.Sqrt(sxx*syy), nil
}

// PartialPearson is the correlation of x and y once the linear effect of z
// is taken out of both (the Pearson correlation of their residuals on z):
// whether y tells about x more than z already does. NaN when x or y is a
// linear function of z.
func PartialPearson(x, y, z []float64) (float64, error) {
	if err := checkPaired(x, z); err != nil {
		return 0, err
	}
	rxy, err := Pearson(x, y)
	if err != nil {
		return 0, err
	}
	rxz, _ := Pearson(x, z)
	ryz, _ := Pearson(y, z)
	den := math.Sqrt((1 - rxz*rxz) * (1 - ryz*ryz))
	if den == 0 || math.IsNaN(den) {
		return math.NaN(), nil
	}
	return (rxy - rxz*ryz) / den, nil
}

// Spearman is the Pearson correlation of the ranks, ties given their
// average rank.
func Spearman(x, y []float64) (float64, error) {
	if err := checkPaired(x, y); err != nil {
		return 0, err
	}
	return Pearson(ranks(x), ranks(y))
}

// KendallTauB is Kendall's τ_b: (concordant − discordant) pairs over
// sqrt((n0 − ties in x)(n0 − ties in y)).
func KendallTauB(x, y []float64) (float64, error) {
	if err := checkPaired(x, y); err != nil {
		return 0, err
	}
	var conc, disc, tiesX, tiesY float64
	for i := range x {
		for j := i + 1; j < len(x); j++ {
			dx, dy := sign(x[i]-x[j]), sign(y[i]-y[j])
			switch {
			case dx == 0 && dy == 0:
				tiesX++
				tiesY++
			case dx == 0:
				tiesX++
			case dy == 0:
				tiesY++
			case dx == dy:
				conc++
			default:
				disc++
			}
		}
	}
	n0 := float64(len(x)*(len(x)-1)) / 2
	den := math.Sqrt((n0 - tiesX) * (n0 - tiesY))
	if den == 0 {
		return math.NaN(), nil
	}
	return (conc - disc) / den, nil
}

func checkPaired(x, y []float64) error {
	if len(x) != len(y) {
		return fmt.Errorf("correlation of %d values with %d", len(x), len(y))
	}
	if len(x) < 2 {
		return fmt.Errorf("correlation needs at least 2 pairs, got %d", len(x))
	}
	for i := range x {
		if math.IsNaN(x[i]) || math.IsNaN(y[i]) {
			return fmt.Errorf("value %d is NaN", i)
		}
	}
	return nil
}

// Mean is the arithmetic mean of x; NaN for none.
func Mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func sign(v float64) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// ranks gives 1-based ranks, the average rank to each group of ties.
func ranks(x []float64) []float64 {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return x[idx[a]] < x[idx[b]] })
	r := make([]float64, len(x))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && x[idx[j+1]] == x[idx[i]] {
			j++
		}
		avg := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			r[idx[k]] = avg
		}
		i = j + 1
	}
	return r
}
