package pipelines

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
)

// curves are each seed's gold reward–KL curve per method, from the
// evaluation rows of the methods' policies along training (CurvePolicy)
// and at its end; each starts at the reference (KL 0).
func curves(rows []schemas.Eval) map[int64]map[string][]stages.CurvePoint {
	type key struct {
		seed   int64
		policy string
	}
	reward, kl := map[key]float64{}, map[key]float64{}
	for _, r := range rows {
		if r.Benchmark != "gold_reward" {
			continue
		}
		switch r.Metric {
		case "mean":
			reward[key{r.Seed, r.Policy}] = r.Value
		case "kl_to_reference":
			kl[key{r.Seed, r.Policy}] = r.Value
		}
	}
	out := map[int64]map[string][]stages.CurvePoint{}
	for k, rw := range reward {
		if k.policy == "reference" {
			continue
		}
		d, ok := kl[k]
		if !ok {
			continue
		}
		method, step, last := curvePolicyOf(k.policy)
		if last {
			step = math.MaxInt32
		}
		if out[k.seed] == nil {
			out[k.seed] = map[string][]stages.CurvePoint{}
		}
		out[k.seed][method] = append(out[k.seed][method], stages.CurvePoint{Step: step, KL: d, Reward: rw})
	}
	for seed, ms := range out {
		ref, ok := reward[key{seed, "reference"}]
		for m, pts := range ms {
			if ok {
				pts = append(pts, stages.CurvePoint{Step: 0, KL: 0, Reward: ref})
			}
			sort.Slice(pts, func(i, j int) bool { return pts[i].Step < pts[j].Step })
			ms[m] = pts
		}
	}
	return out
}

// frontierTable is the headline table: each method's gold reward at
// matched KL values — a quarter, half, three quarters and all of the KL
// every curve of every seed reaches — interpolated along its curve, the
// mean over seeds; and the paired differences Sr-DPO − DPO and Sr-IPO −
// IPO (same seed: same task, reference and data order) with a 95% paired
// t-interval over seeds, and whether it excludes zero. Empty without
// curves.
func frontierTable(rows []schemas.Eval) string {
	cs := curves(rows)
	if len(cs) == 0 {
		return ""
	}
	var seeds []int64
	methodSet := map[string]bool{}
	reach := math.Inf(1)
	for seed, ms := range cs {
		seeds = append(seeds, seed)
		for m, pts := range ms {
			methodSet[m] = true
			top := 0.0
			for _, p := range pts {
				top = math.Max(top, p.KL)
			}
			reach = math.Min(reach, top)
		}
	}
	if len(methodSet) < 2 || reach <= 0 || math.IsInf(reach, 1) {
		return ""
	}
	sort.Slice(seeds, func(i, j int) bool { return seeds[i] < seeds[j] })
	var methods []string
	for m := range methodSet {
		methods = append(methods, m)
	}
	sort.Slice(methods, func(i, j int) bool { return policyOrder(methods[i]) < policyOrder(methods[j]) })
	pairs := [][2]string{{"sr-dpo", "dpo"}, {"sr-ipo", "ipo"}}
	var b strings.Builder
	b.WriteString("| KL per token |")
	for _, m := range methods {
		fmt.Fprintf(&b, " %s |", m)
	}
	var shown [][2]string
	for _, p := range pairs {
		if methodSet[p[0]] && methodSet[p[1]] {
			shown = append(shown, p)
			fmt.Fprintf(&b, " %s − %s |", p[0], p[1])
		}
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(methods)+len(shown)))
	b.WriteString("\n")
	var verdicts []string
	for _, frac := range []float64{0.25, 0.5, 0.75, 1} {
		kl := reach * frac
		fmt.Fprintf(&b, "| %.4f |", kl)
		at := map[string][]float64{} // per method, per seed (in seed order)
		for _, m := range methods {
			for _, seed := range seeds {
				v, ok := stages.RewardAtKL(cs[seed][m], kl)
				if !ok {
					v = math.NaN()
				}
				at[m] = append(at[m], v)
			}
			fmt.Fprintf(&b, " %.3f |", meanFloat(at[m]))
		}
		for _, p := range shown {
			diffs := make([]float64, len(seeds))
			for i := range seeds {
				diffs[i] = at[p[0]][i] - at[p[1]][i]
			}
			mean, lo, hi, err := stages.PairedInterval(diffs)
			if err != nil {
				fmt.Fprintf(&b, " %+.3f (one seed) |", diffs[0])
				continue
			}
			fmt.Fprintf(&b, " %+.3f [%+.3f, %+.3f] |", mean, lo, hi)
			if frac == 0.5 {
				word := "not distinguishable from zero"
				if lo > 0 || hi < 0 {
					word = "distinguishable from zero"
				}
				verdicts = append(verdicts, fmt.Sprintf("at KL %.4f, %s − %s = %+.3f [%+.3f, %+.3f] over %d seeds: %s", kl, p[0], p[1], mean, lo, hi, len(seeds), word))
			}
		}
		b.WriteString("\n")
	}
	if len(verdicts) > 0 {
		b.WriteString("\n" + strings.Join(verdicts, "; ") + ".\n")
	}
	return b.String()
}
