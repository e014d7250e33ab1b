package model

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/srdpo/srdpo/model/optim"
	"github.com/srdpo/srdpo/model/tokenizer"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// toyPreferences is a separable set: the chosen response answers in kind,
// the rejected one does not. Reference log-probs come from ref.
func toyPreferences(t *testing.T, ref *Decoder, n int) []PreferencePair {
	t.Helper()
	s, _ := ref.NewScorer(1024)
	var out []PreferencePair
	for i := 0; i < n; i++ {
		q := fmt.Sprintf("Q%d: say yes.\nA:", i)
		p := PreferencePair{ID: fmt.Sprint(i), Prompt: tokenizer.Bytes(q), AugPrompt: tokenizer.Bytes("Be good. " + q),
			Chosen: tokenizer.Bytes(" yes"), Rejected: tokenizer.Bytes(fmt.Sprintf(" no%d", i%3))}
		lp, err := s.LogProbs([]Pair{{p.Prompt, p.Chosen}, {p.Prompt, p.Rejected}, {p.AugPrompt, p.Chosen}, {p.AugPrompt, p.Rejected}})
		if err != nil {
			t.Fatal(err)
		}
		p.Ref = PairLogpsOf(lp)
		out = append(out, p)
	}
	return out
}

// At π = π_ref, every loss takes its anchor value of docs/design.md §1, and Δπ = 0.
func TestPreferenceStepAtInitialisation(t *testing.T) {
	backend, _ := Backend()
	cfg := Tiny(tokenizer.Byte{}.VocabSize())
	cfg.DType = "float64"
	ref, _ := New(cfg, 1, backend)
	pairs := toyPreferences(t, ref, 4)
	for typ, want := range map[LossType]float64{LossDPO: math.Ln2, LossSrDPO: math.Ln2, LossIPO: 25, LossSrIPO: 25} {
		policy, _ := New(cfg, 1, backend)
		tr, err := policy.NewPreferenceTrainer(LossConfig{Type: typ, Beta: 0.1, Lambda: 0.5}, optim.Config{Name: "rmsprop", LR: 5e-7}, 1)
		if err != nil {
			t.Fatal(err)
		}
		st, err := tr.Step(0, pairs[:3]) // 3 pairs in 4 rows: a padding pair too
		if err != nil {
			t.Fatal(err)
		}
		deltaOK := math.Abs(st.DeltaMean) < 1e-9
		if typ == "dpo" || typ == "ipo" {
			deltaOK = math.IsNaN(st.DeltaMean) // not computed without Δπ
		}
		if math.Abs(st.Loss-want) > 1e-9 || !deltaOK || math.Abs(st.RewardsMargins) > 1e-9 {
			t.Errorf("%s at init: loss %g (want %g), delta %g, margin %g", typ, st.Loss, want, st.DeltaMean, st.RewardsMargins)
		}
	}
}

// The gradient of Sr-DPO does not flow through Δπ: autodiff equals finite
// differences with the p⊕x log-probs held fixed, and differs from finite
// differences that let them move.
func TestSrDPOStopGradient(t *testing.T) {
	backend, _ := Backend()
	cfg := Tiny(tokenizer.Byte{}.VocabSize())
	cfg.DType, cfg.Context = "float64", 32
	ref, _ := New(cfg, 1, backend)
	// A policy away from the reference, so that Δπ ≠ 0.
	policy, _ := New(cfg, 2, backend)
	pairs := toyPreferences(t, ref, 2)
	loss := LossConfig{Type: "sr-dpo", Beta: 0.5, Lambda: 1}
	var x, aug []Pair
	for _, p := range pairs {
		x = append(x, Pair{p.Prompt, p.Chosen})
		aug = append(aug, Pair{p.AugPrompt, p.Chosen})
	}
	for _, p := range pairs {
		x = append(x, Pair{p.Prompt, p.Rejected})
		aug = append(aug, Pair{p.AugPrompt, p.Rejected})
	}
	xb, _ := NewBatch(x, 4, 32)
	ab, _ := NewBatch(aug, 4, 32)
	refv := []float64{}
	for _, p := range pairs {
		refv = append(refv, p.Ref.Chosen, p.Ref.Rejected, p.Ref.ChosenAug, p.Ref.RejectedAug)
	}
	const w = "h.0.mlp.c_fc.weight"
	// build: the loss with Δπ from the model (stopped), or from given values.
	build := func(fixedAug bool) *model.Exec {
		e, err := model.NewExec(backend, policy.Store, func(scope *model.Scope, in []*Node) []*Node {
			g := in[0].Graph()
			policy.Store.SetTraining(g, true)
			sum, count := policy.ResponseLogProbs(in[0], in[1], in[2])
			var aSum *Node
			if fixedAug {
				aSum = in[6]
			} else {
				aSum, _ = policy.ResponseLogProbs(in[3], in[4], in[5])
			}
			h := func(x *Node, i int) *Node { return Slice(x, AxisRange(2*i, 2*i+2)) }
			col := func(i int) *Node { return Reshape(Slice(in[7], AxisRange(), AxisElem(i)), 2) }
			out := loss.Loss(LossInputs{Chosen: h(sum, 0), Rejected: h(sum, 1), ChosenAug: h(aSum, 0), RejectedAug: h(aSum, 1),
				RefChosen: col(0), RefRejected: col(1), RefChosenAug: col(2), RefRejectedAug: col(3),
				ChosenTokens: h(count, 0), RejectedTokens: h(count, 1), Offset: ZerosLike(col(0))})
			l := ReduceAllSum(out.Loss)
			return []*Node{l, Gradient(l, policy.w(g, w))[0], aSum}
		})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	full, fixed := build(false), build(true)
	args := func(aug []float64) []any {
		a := append(policy.inputs(xb), policy.inputs(ab)...)
		return append(a, tensors.FromFlatDataAndDimensions(aug, 4), tensors.FromFlatDataAndDimensions(refv, 2, 4))
	}
	res, _ := full.Exec(args(make([]float64, 4))...)
	grad, augAt := toFloat64(res[1]), toFloat64(res[2])
	v := policy.Store.GetVariable(weightPath(w))
	orig := tensors.MustCopyFlatData[float64](v.MustValue())
	lossWith := func(e *model.Exec, i int, d float64) float64 {
		mod := append([]float64(nil), orig...)
		mod[i] += d
		if err := v.SetValue(tensors.FromFlatDataAndDimensions(mod, cfg.WeightShape(w)...)); err != nil {
			t.Fatal(err)
		}
		r, _ := e.Exec(args(augAt)...)
		return toFloat64(r[0])[0]
	}
	const eps = 1e-6
	differs := 0
	for _, i := range []int{3, 100, 777, 2000, 5000} {
		fdFixed := (lossWith(fixed, i, eps) - lossWith(fixed, i, -eps)) / (2 * eps)
		fdFree := (lossWith(full, i, eps) - lossWith(full, i, -eps)) / (2 * eps)
		if math.Abs(fdFixed-grad[i]) > 1e-7+1e-5*math.Abs(fdFixed) {
			t.Errorf("[%d]: gradient %.10g, finite difference with Δπ fixed %.10g", i, grad[i], fdFixed)
		}
		if math.Abs(fdFree-grad[i]) > 1e-6+1e-3*math.Abs(fdFree) {
			differs++
		}
	}
	if differs == 0 {
		t.Error("letting Δπ move changes no finite difference: the test cannot tell a stopped gradient from a free one")
	}
}

// A few steps on a separable set teach every loss to prefer the chosen
// responses: held-out-free training accuracy of the implicit reward > 0.9.
func TestPreferenceTrainingLearnsToySet(t *testing.T) {
	backend, _ := Backend()
	cfg := Tiny(tokenizer.Byte{}.VocabSize())
	cfg.Context = 64
	ref, _ := New(cfg, 1, backend)
	pairs := toyPreferences(t, ref, 16)
	for _, typ := range []LossType{LossSrDPO, LossSrIPO, LossDPO, LossIPO} {
		policy, _ := New(cfg, 1, backend)
		tr, err := policy.NewPreferenceTrainer(LossConfig{Type: typ, Beta: 0.1, Lambda: 0.5}, optim.Config{Name: "adam", LR: 1e-3}, 1)
		if err != nil {
			t.Fatal(err)
		}
		var last PreferenceStats
		for step := 0; step < 30; step++ {
			batch := pairs[(step*8)%16 : (step*8)%16+8]
			if last, err = tr.Step(step, batch); err != nil {
				t.Fatal(err)
			}
		}
		if last.RewardsAccuracies < 0.9 || last.RewardsMargins <= 0 {
			t.Errorf("%s after 30 steps: rewards/accuracies %.2f, margins %.3f", typ, last.RewardsAccuracies, last.RewardsMargins)
		}
	}
}

// Two micro-batches of 4 accumulate the gradient of one batch of 8: the
// same update (float64, up to rounding) and the same figures.
func TestGradientAccumulationEqualsOneBatch(t *testing.T) {
	backend, _ := Backend()
	cfg := Tiny(tokenizer.Byte{}.VocabSize())
	cfg.DType, cfg.Context = "float64", 64
	ref, _ := New(cfg, 1, backend)
	pairs := toyPreferences(t, ref, 8)
	var weights []map[string][]float64
	var stats []PreferenceStats
	for _, accum := range []int{1, 2} {
		policy, _ := New(cfg, 1, backend)
		tr, err := policy.NewPreferenceTrainer(LossConfig{Type: "sr-dpo", Beta: 0.1, Lambda: 0.5}, optim.Config{Name: "adam", LR: 1e-3, MaxGradNorm: 1}, accum)
		if err != nil {
			t.Fatal(err)
		}
		var st PreferenceStats
		for step := 0; step < 3; step++ {
			if st, err = tr.Step(step, pairs); err != nil {
				t.Fatal(err)
			}
		}
		w, _ := policy.Weights()
		weights, stats = append(weights, w), append(stats, st)
	}
	for name, v := range weights[0] {
		for i := range v {
			if math.Abs(v[i]-weights[1][name][i]) > 1e-9 {
				t.Fatalf("%s[%d]: %.12g with one batch, %.12g with two micro-batches", name, i, v[i], weights[1][name][i])
			}
		}
	}
	if math.Abs(stats[0].Loss-stats[1].Loss) > 1e-9 || math.Abs(stats[0].GradNorm-stats[1].GradNorm) > 1e-9 {
		t.Errorf("stats differ: %+v\n%+v", stats[0], stats[1])
	}
}

// Given the policy's own current p⊕x log-probs, StepWithAug is Step.
func TestStepWithGivenAugEqualsStep(t *testing.T) {
	backend, _ := Backend()
	cfg := Tiny(tokenizer.Byte{}.VocabSize())
	cfg.DType, cfg.Context = "float64", 64
	ref, _ := New(cfg, 1, backend)
	pairs := toyPreferences(t, ref, 6)
	loss := LossConfig{Type: "sr-dpo", Beta: 0.1, Lambda: 0.5}
	a, _ := New(cfg, 5, backend)
	b, _ := New(cfg, 5, backend)
	ta, _ := a.NewPreferenceTrainer(loss, optim.Config{Name: "adam", LR: 1e-3}, 1)
	tb, _ := b.NewPreferenceTrainer(loss, optim.Config{Name: "adam", LR: 1e-3}, 1)
	s, _ := b.NewScorer(1024)
	var q []Pair
	for _, p := range pairs {
		q = append(q, Pair{p.AugPrompt, p.Chosen}, Pair{p.AugPrompt, p.Rejected})
	}
	lp, _ := s.LogProbs(q)
	aug := make([]float64, len(lp))
	for i := range lp {
		aug[i] = lp[i].Sum
	}
	sa, err := ta.Step(0, pairs)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := tb.StepWithAug(0, pairs, aug)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(sa.Loss-sb.Loss) > 1e-9 || math.Abs(sa.DeltaMean-sb.DeltaMean) > 1e-9 || sa.DeltaMean == 0 {
		t.Fatalf("computed %+v\ngiven %+v", sa, sb)
	}
}

// λ = 0 makes Sr-DPO DPO and Sr-IPO IPO, bit for bit, over several steps:
// the same losses, gradient norms and weights — also when a pair's p⊕x is
// too long for the shared layout while its x is not, so that the p⊕x pass
// runs as separate rows (the x pass must not follow it).
func TestZeroLambdaIsTheBaseLoss(t *testing.T) {
	backend, _ := Backend()
	cfg := Tiny(tokenizer.Byte{}.VocabSize())
	cfg.Context = 64
	ref, _ := New(cfg, 1, backend)
	short := toyPreferences(t, ref, 6)
	long := append([]PreferencePair(nil), short...)
	p := long[0]
	p.AugPrompt = tokenizer.Bytes(strings.Repeat("Be good. ", 5) + "Q0: say yes.\nA:") // 60 + 4 + 4 > 64
	lp, err := ref.NewScorer(1024)
	if err != nil {
		t.Fatal(err)
	}
	logps, err := lp.LogProbs([]Pair{{p.Prompt, p.Chosen}, {p.Prompt, p.Rejected}, {p.AugPrompt, p.Chosen}, {p.AugPrompt, p.Rejected}})
	if err != nil {
		t.Fatal(err)
	}
	p.Ref, long[0] = PairLogpsOf(logps), p
	if len(p.AugPrompt)+len(p.Chosen)+len(p.Rejected) <= cfg.Context || len(p.Prompt)+len(p.Chosen)+len(p.Rejected) > cfg.Context {
		t.Fatalf("pair 0 should fit the shared layout on x only")
	}
	for _, pairs := range [][]PreferencePair{short, long} {
		zeroLambdaIsTheBaseLoss(t, cfg, pairs)
	}
}

func zeroLambdaIsTheBaseLoss(t *testing.T, cfg Config, pairs []PreferencePair) {
	backend, _ := Backend()
	for base, refined := range map[LossType]LossType{LossDPO: LossSrDPO, LossIPO: LossSrIPO} {
		var weights []map[string][]float64
		var losses [][]float64
		for _, typ := range []LossType{base, refined} {
			policy, _ := New(cfg, 3, backend)
			tr, err := policy.NewPreferenceTrainer(LossConfig{Type: typ, Beta: 0.1, Lambda: 0}, optim.Config{Name: "rmsprop", LR: 1e-3}, 1)
			if err != nil {
				t.Fatal(err)
			}
			var ls []float64
			for step := 0; step < 3; step++ {
				st, err := tr.Step(step, pairs)
				if err != nil {
					t.Fatal(err)
				}
				ls = append(ls, st.Loss, st.GradNorm)
			}
			w, _ := policy.Weights()
			weights, losses = append(weights, w), append(losses, ls)
		}
		for i := range losses[0] {
			if losses[0][i] != losses[1][i] {
				t.Errorf("%s vs %s at λ = 0: loss/grad-norm %d: %v vs %v", base, refined, i, losses[0][i], losses[1][i])
			}
		}
		for name, v := range weights[0] {
			for i := range v {
				if v[i] != weights[1][name][i] {
					t.Fatalf("%s vs %s at λ = 0: %s[%d] %v vs %v", base, refined, name, i, v[i], weights[1][name][i])
				}
			}
		}
	}
}

// Evaluate runs held-out pairs in batches of EvalBatchPairs; its means
// equal one pass over all of them (float64, 1e-12).
func TestEvaluateInBatches(t *testing.T) {
	backend, _ := Backend()
	cfg := Tiny(tokenizer.Byte{}.VocabSize())
	cfg.Context, cfg.DType = 64, "float64"
	ref, _ := New(cfg, 1, backend)
	pairs := toyPreferences(t, ref, EvalBatchPairs+9)
	policy, _ := New(cfg, 2, backend)
	tr, err := policy.NewPreferenceTrainer(LossConfig{Type: LossSrDPO, Beta: 0.1, Lambda: 0.5}, optim.Config{Name: "adam", LR: 1e-3}, 1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := tr.Evaluate(pairs)
	if err != nil {
		t.Fatal(err)
	}
	want, err := tr.run(modeEval, -1, pairs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		a, b float64
	}{{"loss", got.Loss, want.Loss}, {"accuracies", got.RewardsAccuracies, want.RewardsAccuracies},
		{"margins", got.RewardsMargins, want.RewardsMargins}, {"delta", got.DeltaMean, want.DeltaMean},
		{"logps chosen", got.LogpsChosen, want.LogpsChosen}} {
		if math.Abs(c.a-c.b) > 1e-12*max(1, math.Abs(c.b)) {
			t.Errorf("%s: %v in batches, %v in one pass", c.name, c.a, c.b)
		}
	}
}
