package model

import (
	"errors"
	"fmt"
	"math"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/srdpo/srdpo/model/optim"
)

// PreferencePair is one training pair: token ids as scored, and the four
// reference log-prob sums from the scored shards.
type PreferencePair struct {
	ID                                  string
	Prompt, AugPrompt, Chosen, Rejected []int32
	Ref                                 PairLogps // the reference's sums
	Offset                              float64
}

// PreferenceStats are one step's figures, averaged over the batch's pairs,
// named after TRL's metrics.
type PreferenceStats struct {
	Loss              float64
	RewardsChosen     float64 // β·(log π(y+|x) − log π_ref(y+|x))
	RewardsRejected   float64
	RewardsAccuracies float64 // share of pairs with chosen reward > rejected reward
	RewardsMargins    float64
	LogpsChosen       float64
	LogpsRejected     float64
	DeltaMean         float64 // Δπ = β·h_p
	DeltaStd          float64
	AugAccuracies     float64 // share of pairs with h_p > 0
	GradNorm          float64
	Tokens            int // tokens through the policy, x and p⊕x
}

// PreferenceTrainer runs preference-optimisation steps. In one graph: the
// policy on x for both responses, with gradient; the policy on p⊕x, forward
// only (its output enters the loss under StopGradient, so no backward pass
// runs through it); the loss; and the optimiser update.
type PreferenceTrainer struct {
	m        *Decoder
	loss     LossConfig
	opt      optim.Config
	state    *optim.State
	accum    int
	separate bool // every batch as separate rows (SeparateRows)
	execs    map[execKind]*model.Exec
	apply    *model.Exec
	build    func(execKind) (*model.Exec, error)
}

// execKind tells a trainer graph by its mode, by whether the policy's p⊕x
// log-probs are computed in it or given (--delta-refresh), and by the
// layout of each pass's sequences: shared prompts, or separate rows. The
// x pass's layout depends on x alone, so a batch whose p⊕x does not fit
// the shared layout runs its x pass exactly as DPO would (λ = 0 is DPO
// bit for bit).
type execKind struct {
	mode      int
	givenAug  bool
	sharedX   bool
	sharedAug bool
}

// SeparateRows makes the trainer lay every batch out as separate rows —
// x⊕y+, x⊕y−, p⊕x⊕y+, p⊕x⊕y− each a row — rather than with shared
// prompts. The two give the same step within float rounding; the separate
// rows are the reference the tests hold the shared layout to.
func (t *PreferenceTrainer) SeparateRows() { t.separate = true }

// Trainer graph modes.
const (
	modeStep       = iota // gradients and optimiser update
	modeAccumulate        // gradients added to the accumulators
	modeEval              // forward only
)

// NewPreferenceTrainer builds the step for a loss and optimiser. With
// gradAccum > 1 a step splits its pairs into that many micro-batches whose
// gradients (of the loss divided by gradAccum) are summed before one update.
func (m *Decoder) NewPreferenceTrainer(loss LossConfig, opt optim.Config, gradAccum int) (*PreferenceTrainer, error) {
	if gradAccum < 1 {
		return nil, fmt.Errorf("gradient accumulation %d: want at least 1", gradAccum)
	}
	if err := loss.Validate(); err != nil {
		return nil, err
	}
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	state, err := m.optimizerState()
	if err != nil {
		return nil, err
	}
	t := &PreferenceTrainer{m: m, loss: loss, opt: opt, state: state, accum: gradAccum, execs: map[execKind]*model.Exec{}}
	t.build = func(k execKind) (*model.Exec, error) {
		return model.NewExec(m.Backend, m.Store, func(scope *model.Scope, in []*Node) []*Node {
			return t.graph(k, stepInputsOf(in, k))
		})
	}
	if gradAccum > 1 {
		if err := state.InitAccumulators(); err != nil {
			return nil, err
		}
		t.apply, err = model.NewExec(m.Backend, m.Store, func(scope *model.Scope, lr *Node) *Node {
			m.Store.SetTraining(lr.Graph(), true)
			return state.ApplyAccumulated(opt, lr)
		})
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

// exec returns the graph of a kind, built on first use.
func (t *PreferenceTrainer) exec(k execKind) (*model.Exec, error) {
	if e, ok := t.execs[k]; ok {
		return e, nil
	}
	e, err := t.build(k)
	if err == nil {
		t.execs[k] = e
	}
	return e, err
}

// stepInputs are a step graph's inputs, in the order stepInputs.args
// lays them out (the one place that order is written).
type stepInputs struct {
	x       []*Node // the x sequences in the layout's inputs (sequenceInputs)
	aug     []*Node // the same for p⊕x, when its log-probs are computed in the graph
	augSums *Node   // [2B] the policy's p⊕x sums, when given (--delta-refresh)
	ref     *Node   // [B, 4] the reference's sums, in PairLogps order
	offset  *Node   // [B] ODPO offsets
	valid   *Node   // [B] 1 for real pairs, 0 for padding
	lr      *Node   // learning rate
}

func stepInputsOf(in []*Node, k execKind) stepInputs {
	n := sequenceInputs(k.sharedX)
	s := stepInputs{x: in[:n]}
	in = in[n:]
	if k.givenAug {
		s.augSums, in = in[0], in[1:]
	} else {
		n = sequenceInputs(k.sharedAug)
		s.aug, in = in[:n], in[n:]
	}
	s.ref, s.offset, s.valid, s.lr = in[0], in[1], in[2], in[3]
	return s
}

// graph is one preference step: the policy on x with gradient, on p⊕x
// forward only (or given), the loss, and by mode the optimiser update or
// the gradient accumulation.
func (t *PreferenceTrainer) graph(k execKind, in stepInputs) []*Node {
	m := t.m
	m.Store.SetTraining(in.valid.Graph(), true)
	if k.mode != modeEval {
		m.dropoutOn(in.valid.Graph()) // LoRA dropout in steps, as PEFT's in train mode (both passes)
	}
	augSum := in.augSums
	if augSum == nil {
		augSum, _ = m.responseSums(in.aug, k.sharedAug) // forward only
	}
	augSum = StopGradient(augSum)
	b := in.valid.Shape().Dimensions[0]
	half := func(x *Node, i int) *Node { return Slice(x, AxisRange(i*b, (i+1)*b)) }
	sum, count := m.responseSums(in.x, k.sharedX)
	col := func(i int) *Node { return Reshape(Slice(in.ref, AxisRange(), AxisElem(i)), b) }
	one := OnesLike(in.valid)
	out := t.loss.Loss(LossInputs{
		Chosen: half(sum, 0), Rejected: half(sum, 1), ChosenAug: half(augSum, 0), RejectedAug: half(augSum, 1),
		RefChosen: col(0), RefRejected: col(1), RefChosenAug: col(2), RefRejectedAug: col(3),
		// Padding pairs have no tokens: count them as one to keep means finite.
		ChosenTokens: Max(half(count, 0), one), RejectedTokens: Max(half(count, 1), one), Offset: in.offset,
	})
	mean := Div(ReduceAllSum(Mul(out.Loss, in.valid)), ReduceAllSum(in.valid))
	norm := ZerosLike(mean)
	switch k.mode {
	case modeStep:
		norm = t.state.Apply(t.opt, m.gradients(mean), IsFinite(mean), in.lr)
	case modeAccumulate:
		scaled := DivScalar(mean, float64(t.accum))
		t.state.Accumulate(m.gradients(scaled), IsFinite(scaled))
	}
	return []*Node{mean, norm, half(sum, 0), half(sum, 1), out.HAug, out.Delta}
}

// Evaluate computes the step's figures on pairs without training.
func (t *PreferenceTrainer) Evaluate(pairs []PreferencePair) (PreferenceStats, error) {
	return t.EvaluateFrom(len(pairs), func(lo, hi int) ([]PreferencePair, error) { return pairs[lo:hi], nil })
}

// EvaluateFrom is Evaluate on n pairs that get returns a batch at a time
// (pairs lo to hi), so that they need not all be in memory. It runs
// EvalBatchPairs at a time: one graph over all held-out pairs would hold
// activations and logits for every one of them (gigabytes for a few
// thousand).
func (t *PreferenceTrainer) EvaluateFrom(n int, get func(lo, hi int) ([]PreferencePair, error)) (PreferenceStats, error) {
	var total PreferenceStats
	for lo := 0; lo < n; lo += EvalBatchPairs {
		part, err := get(lo, min(lo+EvalBatchPairs, n))
		if err != nil {
			return total, err
		}
		st, err := t.run(modeEval, -1, part, nil)
		if err != nil {
			return total, err
		}
		total = total.add(st, float64(len(part))/float64(n))
	}
	return total, nil
}

// EvalBatchPairs is how many held-out pairs Evaluate runs at a time.
const EvalBatchPairs = 64

// Step trains on one batch (step counts from 0, for the schedule). A loss
// or gradient that is not finite changes nothing and returns an error
// naming the pairs' ids.
func (t *PreferenceTrainer) Step(step int, pairs []PreferencePair) (PreferenceStats, error) {
	return t.StepWithAug(step, pairs, nil)
}

// StepWithAug is Step with the policy's log-probs on p⊕x given, two per
// pair (chosen, rejected), instead of computed: --delta-refresh reuses
// them for some steps.
func (t *PreferenceTrainer) StepWithAug(step int, pairs []PreferencePair, aug []float64) (PreferenceStats, error) {
	if aug != nil && len(aug) != 2*len(pairs) {
		return PreferenceStats{}, fmt.Errorf("%d p⊕x log-probs for %d pairs", len(aug), len(pairs))
	}
	if t.accum == 1 {
		return t.run(modeStep, step, pairs, aug)
	}
	var total PreferenceStats
	size := (len(pairs) + t.accum - 1) / t.accum
	for lo := 0; lo < len(pairs); lo += size {
		hi := min(lo+size, len(pairs))
		var microAug []float64
		if aug != nil {
			microAug = aug[2*lo : 2*hi]
		}
		micro := pairs[lo:hi]
		st, err := t.run(modeAccumulate, step, micro, microAug)
		if err != nil {
			if cerr := t.state.ClearAccumulators(); cerr != nil {
				return total, errors.Join(err, cerr)
			}
			return total, err
		}
		total = total.add(st, float64(len(micro))/float64(len(pairs)))
	}
	res, err := t.apply.Exec(t.m.floats([]float64{t.opt.LearningRate(step)}))
	if err != nil {
		return total, err
	}
	total.GradNorm = toFloat64(res[0])[0]
	if math.IsNaN(total.GradNorm) || math.IsInf(total.GradNorm, 0) {
		return total, fmt.Errorf("gradient norm %g: not finite; the step was not applied", total.GradNorm)
	}
	return total, nil
}

// add accumulates stats weighted by w (the share of pairs); DeltaStd is
// combined as a root mean square, an approximation across micro-batches.
func (s PreferenceStats) add(o PreferenceStats, w float64) PreferenceStats {
	s.Loss += w * o.Loss
	s.RewardsChosen += w * o.RewardsChosen
	s.RewardsRejected += w * o.RewardsRejected
	s.RewardsAccuracies += w * o.RewardsAccuracies
	s.RewardsMargins += w * o.RewardsMargins
	s.LogpsChosen += w * o.LogpsChosen
	s.LogpsRejected += w * o.LogpsRejected
	s.DeltaMean += w * o.DeltaMean
	s.DeltaStd = math.Sqrt(s.DeltaStd*s.DeltaStd + w*o.DeltaStd*o.DeltaStd)
	s.AugAccuracies += w * o.AugAccuracies
	s.Tokens += o.Tokens
	return s
}

func (t *PreferenceTrainer) run(mode, step int, pairs []PreferencePair, aug []float64) (PreferenceStats, error) {
	// Losses without Δπ skip the pass on p⊕x: that pass is the whole extra
	// cost of Sr-DPO over DPO. Their Δπ figures are then NaN (not computed).
	skipAug := aug == nil && !t.loss.SelfRefined()
	if skipAug {
		aug = make([]float64, 2*len(pairs))
	}
	if len(pairs) == 0 {
		return PreferenceStats{}, fmt.Errorf("step %d: empty batch", step)
	}
	kind := execKind{mode: mode, givenAug: aug != nil, sharedX: !t.separate && t.fitShared(pairs, promptOf),
		sharedAug: !t.separate && aug == nil && t.fitShared(pairs, augPromptOf)}
	exec, err := t.exec(kind)
	if err != nil {
		return PreferenceStats{}, err
	}
	args, tokens, err := t.args(step, pairs, aug, kind)
	if err != nil {
		return PreferenceStats{Tokens: tokens}, err
	}
	res, err := exec.Exec(args...)
	if err != nil {
		return PreferenceStats{Tokens: tokens}, err
	}
	st := PreferenceStats{Tokens: tokens, Loss: toFloat64(res[0])[0], GradNorm: toFloat64(res[1])[0]}
	if math.IsNaN(st.Loss) || math.IsInf(st.Loss, 0) || math.IsNaN(st.GradNorm) || math.IsInf(st.GradNorm, 0) {
		ids := make([]string, len(pairs))
		for i, p := range pairs {
			ids[i] = p.ID
		}
		return st, fmt.Errorf("loss %g, gradient norm %g: not finite; the step was not applied (pairs %v)", st.Loss, st.GradNorm, ids)
	}
	st.addPairFigures(pairs, t.loss.Beta, toFloat64(res[2]), toFloat64(res[3]), toFloat64(res[4]), toFloat64(res[5]))
	if skipAug {
		st.DeltaMean, st.DeltaStd, st.AugAccuracies = math.NaN(), math.NaN(), math.NaN()
	}
	return st, nil
}

// fitShared tells whether every pair of a batch fits the context with the
// prompt prompt picks (x or p⊕x) once and both responses after it, so that
// pass can take the shared layout.
func (t *PreferenceTrainer) fitShared(pairs []PreferencePair, prompt func(PreferencePair) []int32) bool {
	for _, p := range pairs {
		if len(prompt(p))+len(p.Chosen)+len(p.Rejected) > t.m.Config.Context {
			return false
		}
	}
	return true
}

func promptOf(p PreferencePair) []int32    { return p.Prompt }
func augPromptOf(p PreferencePair) []int32 { return p.AugPrompt }

// args lays out a step's inputs in stepInputs' order: pairs padded to a
// power of two, the x sequences (shared: a row a pair; separate: chosen
// rows, then rejected rows), the p⊕x sequences or the given p⊕x sums, the
// reference's sums, offsets, validity and the learning rate. It also
// counts the tokens the answer needs: each response after its prompt.
func (t *PreferenceTrainer) args(step int, pairs []PreferencePair, aug []float64, k execKind) ([]any, int, error) {
	b := nextPow2(len(pairs))
	tokens := 0
	for _, p := range pairs {
		tokens += 2*(len(p.Prompt)+len(p.AugPrompt)) + 2*(len(p.Chosen)+len(p.Rejected))
		if n := max(len(p.Prompt), len(p.AugPrompt)) + max(len(p.Chosen), len(p.Rejected)); n > t.m.Config.Context {
			return nil, tokens, fmt.Errorf("step %d: pair %s is longer than the context of %d", step, p.ID, t.m.Config.Context)
		}
	}
	x, err := t.m.sequenceArgs(pairs, b, promptOf, k.sharedX)
	if err != nil {
		return nil, tokens, err
	}
	args := x
	if aug != nil {
		given := make([]float64, 2*b) // chosen rows, then rejected rows
		for i := range pairs {
			given[i], given[b+i] = aug[2*i], aug[2*i+1]
		}
		args = append(args, t.m.floats(given, 2*b))
	} else {
		a, err := t.m.sequenceArgs(pairs, b, augPromptOf, k.sharedAug)
		if err != nil {
			return nil, tokens, err
		}
		args = append(args, a...)
	}
	ref := make([]float64, 4*b)
	offset, valid := make([]float64, b), make([]float64, b)
	for i, p := range pairs {
		copy(ref[4*i:], []float64{p.Ref.Chosen, p.Ref.Rejected, p.Ref.ChosenAug, p.Ref.RejectedAug})
		offset[i], valid[i] = p.Offset, 1
	}
	args = append(args, t.m.floats(ref, b, 4), t.m.floats(offset, b), t.m.floats(valid, b), t.m.floats([]float64{t.opt.LearningRate(max(step, 0))}))
	return args, tokens, nil
}

// sequenceInputs is how many graph inputs a layout's sequences take.
func sequenceInputs(shared bool) int {
	if shared {
		return 6 // tokens, positions, segment, gather, targets, response
	}
	return 3 // tokens, targets, mask
}

// sequenceArgs lays out both responses of b pairs (padding pairs past
// len(pairs)) after the prompt prompt(p) picks: shared, a row a pair of
// the prompt once and both responses; separate, 2b rows, chosen then
// rejected.
func (m *Decoder) sequenceArgs(pairs []PreferencePair, b int, prompt func(PreferencePair) []int32, shared bool) ([]any, error) {
	if shared {
		items := make([]Shared, b)
		length, sel := 1, 1
		for i := range items {
			items[i] = Shared{Prompt: []int32{0}, Responses: [][]int32{{0}, {0}}}
			if i < len(pairs) {
				p := pairs[i]
				items[i] = Shared{Prompt: prompt(p), Responses: [][]int32{p.Chosen, p.Rejected}}
			}
			length, sel = max(length, items[i].tokens()), max(sel, items[i].responseTokens())
		}
		sb, err := newSharedBatch(items, b, m.bucket(length), m.bucket(sel))
		if err != nil {
			return nil, err
		}
		return sb.inputs(), nil
	}
	pad := Pair{Prompt: []int32{0}, Response: []int32{0}}
	rows := make([]Pair, 2*b)
	longest := 1
	for i := 0; i < b; i++ {
		rows[i], rows[b+i] = pad, pad
		if i < len(pairs) {
			p := pairs[i]
			rows[i], rows[b+i] = Pair{Prompt: prompt(p), Response: p.Chosen}, Pair{Prompt: prompt(p), Response: p.Rejected}
			longest = max(longest, len(prompt(p))+max(len(p.Chosen), len(p.Rejected)))
		}
	}
	batch, err := NewBatch(rows, 2*b, m.bucket(longest))
	if err != nil {
		return nil, err
	}
	return m.inputs(batch), nil
}

// responseSums is the graph of the response sums and token counts [2B] —
// chosen responses, then rejected — from a layout's sequence inputs.
func (m *Decoder) responseSums(in []*Node, shared bool) (sum, count *Node) {
	if !shared {
		return m.ResponseLogProbs(in[0], in[1], in[2])
	}
	lp := m.SelectedLogProbs(in[0], in[1], in[2], in[3], in[4]) // [B, S]
	var sums, counts []*Node
	for k := 1; k <= 2; k++ {
		mask := ConvertDType(Equal(in[5], Scalar(lp.Graph(), in[5].DType(), k)), lp.DType())
		sums, counts = append(sums, ReduceSum(Mul(lp, mask), 1)), append(counts, ReduceSum(mask, 1))
	}
	return Concatenate(sums, 0), Concatenate(counts, 0)
}

// addPairFigures adds TRL's per-pair figures, averaged over the pairs: the
// rewards β·(log π − log π_ref) of each response, their accuracy and
// margin, the policy's log-probs, and Δπ with the share of h_p > 0.
func (st *PreferenceStats) addPairFigures(pairs []PreferencePair, beta float64, pc, pr, hAug, delta []float64) {
	n := float64(len(pairs))
	for i, p := range pairs {
		rc, rr := beta*(pc[i]-p.Ref.Chosen), beta*(pr[i]-p.Ref.Rejected)
		st.RewardsChosen += rc / n
		st.RewardsRejected += rr / n
		st.RewardsMargins += (rc - rr) / n
		if rc > rr {
			st.RewardsAccuracies += 1 / n
		}
		if hAug[i] > 0 {
			st.AugAccuracies += 1 / n
		}
		st.LogpsChosen += pc[i] / n
		st.LogpsRejected += pr[i] / n
		st.DeltaMean += delta[i] / n
	}
	for i := range pairs {
		st.DeltaStd += (delta[i] - st.DeltaMean) * (delta[i] - st.DeltaMean) / n
	}
	st.DeltaStd = math.Sqrt(st.DeltaStd)
}

// floats makes a tensor of the model's dtype.
func (m *Decoder) floats(v []float64, dims ...int) *tensors.Tensor {
	return tensorOf(m.Config.DType, v, dims...)
}
