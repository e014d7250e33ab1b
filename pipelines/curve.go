package pipelines

import (
	"math"
	"sort"
)

// CurvePoint is one evaluation along a policy's training: its KL to the
// reference (per token) and its gold reward, at a step.
type CurvePoint struct {
	Step   int
	KL     float64
	Reward float64
}

// RewardAtKL is a curve's gold reward at KL = kl, interpolated linearly
// between the two evaluations around it, taken in step order: the first
// segment that reaches kl. ok is false when the curve never reaches kl (or
// starts above it): a method is compared only where it was measured.
func RewardAtKL(curve []CurvePoint, kl float64) (reward float64, ok bool) {
	pts := append([]CurvePoint(nil), curve...)
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].Step < pts[j].Step })
	for i := 1; i < len(pts); i++ {
		a, b := pts[i-1], pts[i]
		lo, hi := math.Min(a.KL, b.KL), math.Max(a.KL, b.KL)
		if kl < lo || kl > hi {
			continue
		}
		if a.KL == b.KL {
			return (a.Reward + b.Reward) / 2, true
		}
		t := (kl - a.KL) / (b.KL - a.KL)
		return a.Reward + t*(b.Reward-a.Reward), true
	}
	if len(pts) == 1 && pts[0].KL == kl {
		return pts[0].Reward, true
	}
	return 0, false
}
