package stats

import (
	"fmt"
	"math"
)

// PairedInterval is the mean of paired differences (one a seed: the same
// task, reference and data order) with a two-sided 95% Student-t interval
// over them, mean ± t(0.975, n−1)·s/√n.
func PairedInterval(diffs []float64) (mean, lo, hi float64, err error) {
	n := len(diffs)
	if n < 2 {
		return 0, 0, 0, fmt.Errorf("a paired interval needs at least 2 differences, got %d", n)
	}
	for _, d := range diffs {
		mean += d / float64(n)
	}
	var ss float64
	for _, d := range diffs {
		ss += (d - mean) * (d - mean)
	}
	half := studentTQuantile(0.975, float64(n-1)) * math.Sqrt(ss/float64(n-1)/float64(n))
	return mean, mean - half, mean + half, nil
}

// studentTQuantile is the p-quantile (p > ½) of Student's t with df degrees
// of freedom, by bisection on its CDF.
func studentTQuantile(p, df float64) float64 {
	lo, hi := 0.0, 1e3
	for i := 0; i < 200; i++ {
		mid := (lo + hi) / 2
		if studentTCDF(mid, df) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// studentTCDF is P(T ≤ t) for t ≥ 0: 1 − ½·I_{df/(df+t²)}(df/2, ½).
func studentTCDF(t, df float64) float64 {
	return 1 - 0.5*regIncBeta(df/2, 0.5, df/(df+t*t))
}

// regIncBeta is the regularised incomplete beta function I_x(a, b), by its
// continued fraction (Lentz's method).
func regIncBeta(a, b, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	la, _ := math.Lgamma(a + b)
	lb, _ := math.Lgamma(a)
	lc, _ := math.Lgamma(b)
	front := math.Exp(la - lb - lc + a*math.Log(x) + b*math.Log(1-x))
	if x > (a+1)/(a+b+2) { // the fraction converges fast on this side
		return 1 - regIncBeta(b, a, 1-x)
	}
	const tiny = 1e-300
	f, c, d := 1.0, 1.0, 0.0
	for i := 0; i <= 400; i++ {
		m := float64(i / 2)
		var num float64
		switch {
		case i == 0:
			num = 1
		case i%2 == 0:
			num = m * (b - m) * x / ((a + 2*m - 1) * (a + 2*m))
		default:
			num = -(a + m) * (a + b + m) * x / ((a + 2*m) * (a + 2*m + 1))
		}
		d = 1 + num*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		d = 1 / d
		c = 1 + num/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		f *= c * d
		if math.Abs(1-c*d) < 1e-15 {
			break
		}
	}
	return front * (f - 1) / a
}
