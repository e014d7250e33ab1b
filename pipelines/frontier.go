package pipelines

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stats"
)

// curves are each seed's gold reward–KL curve per method, from the
// evaluation rows of the methods' policies at each step of training
// and at its end; each starts at the reference (KL 0).
func curves(rows []schemas.Eval) map[int64]map[string][]CurvePoint {
	type key struct {
		seed   int64
		policy string
		step   int64
	}
	reward, kl := map[key]float64{}, map[key]float64{}
	for _, r := range rows {
		if r.Benchmark != schemas.BenchGoldReward {
			continue
		}
		switch r.Metric {
		case schemas.MetricMean:
			reward[key{r.Seed, r.Policy, r.Step}] = r.Value
		case schemas.MetricKL:
			kl[key{r.Seed, r.Policy, r.Step}] = r.Value
		}
	}
	out := map[int64]map[string][]CurvePoint{}
	for k, rw := range reward {
		if k.policy == "reference" {
			continue
		}
		d, ok := kl[k]
		if !ok {
			continue
		}
		if out[k.seed] == nil {
			out[k.seed] = map[string][]CurvePoint{}
		}
		out[k.seed][k.policy] = append(out[k.seed][k.policy], CurvePoint{Step: int(k.step), KL: d, Reward: rw})
	}
	for seed, ms := range out {
		ref, ok := reward[key{seed, "reference", 0}]
		for m, pts := range ms {
			if ok {
				pts = append(pts, CurvePoint{Step: 0, KL: 0, Reward: ref})
			}
			sort.Slice(pts, func(i, j int) bool { return pts[i].Step < pts[j].Step })
			ms[m] = pts
		}
	}
	return out
}

// frontier is the gold reward of each method at matched KL values — a
// quarter, half, three quarters and all of the KL every curve of every
// seed reaches — interpolated along its curve, per seed; and the paired
// differences of each self-refining method with its baseline (same seed:
// same task, reference and data order).
type frontier struct {
	KL      []float64
	Methods []string
	Seeds   []int64
	At      map[string][][]float64 // method → per KL → per seed (seed order); NaN where a curve does not reach
	Diffs   []pairedDiff
}

// pairedDiff is a self-refining policy's gold reward minus its baseline's
// at one KL: the mean over seeds with a 95% paired Student-t interval (Err
// with one seed).
type pairedDiff struct {
	Policy, Baseline string
	KL               float64
	Mean, Lo, Hi     float64
	Seeds            int
	Err              error
}

// distinguishable says whether the interval excludes zero.
func (d pairedDiff) distinguishable() bool { return d.Err == nil && (d.Lo > 0 || d.Hi < 0) }

func (d pairedDiff) String() string {
	if d.Err != nil {
		return fmt.Sprintf("%+.3f (one seed)", d.Mean)
	}
	return fmt.Sprintf("%+.3f [%+.3f, %+.3f]", d.Mean, d.Lo, d.Hi)
}

// frontierFractions are the matched KL values, as fractions of the KL
// every curve reaches.
var frontierFractions = []float64{0.25, 0.5, 0.75, 1}

// baselineOf is the policy a self-refining policy ("sr-dpo", "sr-dpo
// λ=0.5") is compared with ("dpo"), or "".
func baselineOf(policy string) string {
	m, _, _ := strings.Cut(policy, " ")
	if !strings.HasPrefix(m, "sr-") {
		return ""
	}
	return strings.TrimPrefix(m, "sr-")
}

// computeFrontier builds the frontier of eval rows; nil without curves of
// at least two methods.
func computeFrontier(rows []schemas.Eval) *frontier {
	cs := curves(rows)
	if len(cs) == 0 {
		return nil
	}
	f := &frontier{At: map[string][][]float64{}}
	methodSet := map[string]bool{}
	reach := math.Inf(1)
	for seed, ms := range cs {
		f.Seeds = append(f.Seeds, seed)
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
		return nil
	}
	sort.Slice(f.Seeds, func(i, j int) bool { return f.Seeds[i] < f.Seeds[j] })
	for m := range methodSet {
		f.Methods = append(f.Methods, m)
	}
	sort.Slice(f.Methods, func(i, j int) bool { return policyOrder(f.Methods[i]) < policyOrder(f.Methods[j]) })
	for _, frac := range frontierFractions {
		kl := reach * frac
		f.KL = append(f.KL, kl)
		for _, m := range f.Methods {
			var at []float64
			for _, seed := range f.Seeds {
				v, ok := RewardAtKL(cs[seed][m], kl)
				if !ok {
					v = math.NaN()
				}
				at = append(at, v)
			}
			f.At[m] = append(f.At[m], at)
		}
	}
	for _, m := range f.Methods {
		base := baselineOf(m)
		if base == "" || !methodSet[base] {
			continue
		}
		for k, kl := range f.KL {
			diffs := make([]float64, len(f.Seeds))
			for i := range f.Seeds {
				diffs[i] = f.At[m][k][i] - f.At[base][k][i]
			}
			d := pairedDiff{Policy: m, Baseline: base, KL: kl, Seeds: len(diffs)}
			d.Mean, d.Lo, d.Hi, d.Err = stats.PairedInterval(diffs)
			if d.Err != nil {
				d.Mean = diffs[0]
			}
			f.Diffs = append(f.Diffs, d)
		}
	}
	return f
}

// diffsAt are the paired differences at the k-th matched KL.
func (f *frontier) diffsAt(k int) []pairedDiff {
	var out []pairedDiff
	for _, d := range f.Diffs {
		if d.KL == f.KL[k] {
			out = append(out, d)
		}
	}
	return out
}

// frontierTable is the headline table: a row per matched KL, the mean
// over seeds of each method's gold reward there, and the paired
// differences with their intervals; then a sentence on each difference at
// half the KL reached. Empty without curves.
func frontierTable(rows []schemas.Eval) string {
	f := computeFrontier(rows)
	if f == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("| KL(π‖π_ref) |")
	for _, m := range f.Methods {
		fmt.Fprintf(&b, " %s |", m)
	}
	for _, d := range f.diffsAt(0) {
		fmt.Fprintf(&b, " %s − %s |", d.Policy, d.Baseline)
	}
	b.WriteString("\n|---|")
	b.WriteString(strings.Repeat("---|", len(f.Methods)+len(f.diffsAt(0))))
	b.WriteString("\n")
	for k, kl := range f.KL {
		fmt.Fprintf(&b, "| %.4f |", kl)
		for _, m := range f.Methods {
			fmt.Fprintf(&b, " %.3f |", stats.Mean(f.At[m][k]))
		}
		for _, d := range f.diffsAt(k) {
			fmt.Fprintf(&b, " %s |", d)
		}
		b.WriteString("\n")
	}
	var verdicts []string
	for _, d := range f.diffsAt(1) {
		if d.Err != nil {
			continue
		}
		word := "not distinguishable from zero"
		if d.distinguishable() {
			word = "distinguishable from zero"
		}
		verdicts = append(verdicts, fmt.Sprintf("at KL %.4f, %s − %s = %s over %d seeds: %s", d.KL, d.Policy, d.Baseline, d, d.Seeds, word))
	}
	if len(verdicts) > 0 {
		b.WriteString("\n" + strings.Join(verdicts, "; ") + ".\n")
	}
	return b.String()
}
