package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/srdpo/srdpo/model/optim"
)

// raggedItems are prompts with two or three responses of mixed lengths.
func raggedItems(vocab int, seed uint64) []Shared {
	rng := rand.New(rand.NewPCG(seed, 1))
	seq := func(n int) []int32 {
		s := make([]int32, n)
		for i := range s {
			s[i] = int32(rng.IntN(vocab))
		}
		return s
	}
	var items []Shared
	for i := 0; i < 7; i++ {
		it := Shared{Prompt: seq(1 + rng.IntN(20))}
		for k := 0; k < 2+i%2; k++ {
			it.Responses = append(it.Responses, seq(1+rng.IntN(12)))
		}
		items = append(items, it)
	}
	return items
}

// Shared-prompt log-probs equal those of each response scored alone after
// its prompt (the separate-row path), for every family, in float64 to
// 1e-12 and in float32 to 1e-5 relative.
func TestSharedEqualsSeparateRows(t *testing.T) {
	configs := familyConfigs()
	configs["gpt2"] = Config{Vocab: 37, Context: 16, Layers: 2, Heads: 4, Width: 16, NormEps: 1e-5, DType: Float64}
	for name, c := range configs {
		for _, dt := range []DType{Float64, Float32} {
			c.Context, c.DType = 64, dt
			m := randomWeights(t, c, 5)
			items := raggedItems(c.Vocab, 3)
			shared, err := m.NewSharedScorer(256)
			if err != nil {
				t.Fatal(err)
			}
			got, err := shared.LogProbs(items)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			sep, _ := m.NewScorer(256)
			tol := map[DType]float64{Float64: 1e-12, Float32: 1e-5}[dt]
			worst := 0.0
			for i, it := range items {
				for k, r := range it.Responses {
					want, err := sep.LogProbs([]Pair{{Prompt: it.Prompt, Response: r}})
					if err != nil {
						t.Fatal(err)
					}
					rel := math.Abs(got[i][k].Sum-want[0].Sum) / math.Abs(want[0].Sum)
					worst = max(worst, rel)
					if rel > tol || got[i][k].Tokens != len(r) {
						t.Errorf("%s %s item %d response %d: shared %v, alone %v (rel %.2g)", name, dt, i, k, got[i][k], want[0], rel)
					}
				}
			}
			t.Logf("%s %s: largest relative difference %.2g", name, dt, worst)
		}
	}
}

// No response sees another: changing the first response's tokens leaves
// the second's log-prob bit for bit the same, and changing the prompt
// changes both.
func TestSharedResponsesDoNotSeeEachOther(t *testing.T) {
	c := familyConfigs()["llama GQA 4:2"]
	c.Context = 64
	m := randomWeights(t, c, 2)
	s, _ := m.NewSharedScorer(256)
	base := Shared{Prompt: []int32{1, 2, 3, 4}, Responses: [][]int32{{5, 6, 7}, {8, 9}}}
	other := Shared{Prompt: base.Prompt, Responses: [][]int32{{10, 11, 12}, {8, 9}}}
	moved := Shared{Prompt: []int32{1, 2, 3, 5}, Responses: base.Responses}
	got, err := s.LogProbs([]Shared{base, other, moved})
	if err != nil {
		t.Fatal(err)
	}
	if got[0][1].Sum != got[1][1].Sum {
		t.Errorf("the second response saw the first: %v vs %v", got[0][1].Sum, got[1][1].Sum)
	}
	if got[0][0].Sum == got[1][0].Sum {
		t.Error("the first response's own tokens did not matter")
	}
	if got[0][0].Sum == got[2][0].Sum || got[0][1].Sum == got[2][1].Sum {
		t.Error("a response did not see the prompt")
	}
}

// raggedPairs are preference pairs of mixed lengths, their reference sums
// from ref.
func raggedPairs(t *testing.T, ref *Decoder, n int, seed uint64) []PreferencePair {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	seq := func(n int) []int32 {
		s := make([]int32, n)
		for i := range s {
			s[i] = int32(rng.IntN(ref.Config.Vocab))
		}
		return s
	}
	s, _ := ref.NewScorer(1024)
	var out []PreferencePair
	for i := 0; i < n; i++ {
		x := seq(1 + rng.IntN(12))
		p := PreferencePair{ID: string(rune('a' + i)), Prompt: x, AugPrompt: append(seq(1+rng.IntN(6)), x...),
			Chosen: seq(1 + rng.IntN(10)), Rejected: seq(1 + rng.IntN(10)), Offset: rng.Float64()}
		seqs := PairSequences(p.Prompt, p.AugPrompt, p.Chosen, p.Rejected)
		lp, err := s.LogProbs(seqs[:])
		if err != nil {
			t.Fatal(err)
		}
		p.Ref = PairLogpsOf(lp)
		out = append(out, p)
	}
	return out
}

// A training step with shared prompts equals one with separate rows, for
// every family and loss: the loss, Δπ, the gradient norm and the update
// of every weight (float64, 1e-10 relative to the largest update). The
// optimiser is RMSprop with a huge ε, so the update is lr/ε times the
// gradient: the test compares gradients.
func TestSharedStepEqualsSeparateRows(t *testing.T) {
	configs := familyConfigs()
	configs["gpt2"] = Config{Vocab: 37, Context: 16, Layers: 2, Heads: 4, Width: 16, NormEps: 1e-5, DType: Float64}
	opt := optim.Config{Name: "rmsprop", LR: 1e4, Beta2: 0.99, Eps: 1e6}
	for name, c := range configs {
		c.Context = 64
		ref := randomWeights(t, c, 5)
		pairs := raggedPairs(t, ref, 5, 7) // 5 pairs in 8 rows: padding too
		for _, loss := range []LossConfig{{Type: LossSrDPO, Beta: 0.1, Lambda: 0.5}, {Type: LossSrIPO, Beta: 0.1, Lambda: 0.5}, {Type: LossDPO, Beta: 0.1}} {
			var stats []PreferenceStats
			var updates []map[string][]float64
			for _, separate := range []bool{false, true} {
				policy := randomWeights(t, c, 6)
				before, _ := policy.Weights()
				tr, err := policy.NewPreferenceTrainer(loss, opt, 1)
				if err != nil {
					t.Fatal(err)
				}
				if separate {
					tr.SeparateRows()
				}
				st, err := tr.Step(0, pairs)
				if err != nil {
					t.Fatalf("%s %s: %v", name, loss.Type, err)
				}
				after, _ := policy.Weights()
				for k, v := range after {
					for i := range v {
						v[i] -= before[k][i]
					}
				}
				stats, updates = append(stats, st), append(updates, after)
			}
			largest, worst := 0.0, 0.0
			for k, v := range updates[1] {
				for i := range v {
					largest = max(largest, math.Abs(v[i]))
					worst = max(worst, math.Abs(v[i]-updates[0][k][i]))
				}
			}
			if largest == 0 || worst > 1e-10*largest {
				t.Errorf("%s %s: updates differ by %.3g, the largest is %.3g", name, loss.Type, worst, largest)
			}
			a, b := stats[0], stats[1]
			close := func(x, y float64) bool { return x == y || math.Abs(x-y) <= 1e-12*math.Max(math.Abs(x), math.Abs(y)) }
			if !close(a.Loss, b.Loss) || !close(a.GradNorm, b.GradNorm) || !close(a.LogpsChosen, b.LogpsChosen) ||
				!close(a.LogpsRejected, b.LogpsRejected) || loss.SelfRefined() && !close(a.DeltaMean, b.DeltaMean) {
				t.Errorf("%s %s: shared %+v\nseparate %+v", name, loss.Type, a, b)
			}
		}
	}
}

// A batch with a pair whose prompt and two responses do not fit the
// context together is trained as separate rows, and the step is the same
// as a trainer held to separate rows.
func TestStepFallsBackToSeparateRows(t *testing.T) {
	c := Config{Vocab: 37, Context: 24, Layers: 1, Heads: 2, Width: 8, NormEps: 1e-5, DType: Float64}
	ref := randomWeights(t, c, 5)
	pairs := raggedPairs(t, ref, 3, 9)
	pairs[1].Prompt, pairs[1].AugPrompt = make([]int32, 10), make([]int32, 12)
	pairs[1].Chosen, pairs[1].Rejected = make([]int32, 8), make([]int32, 8) // 12 + 16 > 24
	var losses []float64
	for _, separate := range []bool{false, true} {
		policy := randomWeights(t, c, 6)
		tr, _ := policy.NewPreferenceTrainer(LossConfig{Type: LossSrDPO, Beta: 0.1, Lambda: 0.5}, optim.Config{Name: "adam", LR: 1e-3}, 1)
		if separate {
			tr.SeparateRows()
		}
		st, err := tr.Step(0, pairs)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, st.Loss)
	}
	if losses[0] != losses[1] {
		t.Errorf("loss %v with the fallback, %v with separate rows", losses[0], losses[1])
	}
}

// SharedScorer.Pairs equals Scorer.LogProbs on the same pairs (float64,
// 1e-12): runs of one prompt share it while they fit the context — here a
// run of three, one cut in two by the context, and lone prompts.
func TestSharedPairsEqualsSeparateRows(t *testing.T) {
	c := familyConfigs()["llama GQA 4:2"]
	c.Context = 24
	m := randomWeights(t, c, 4)
	seq := func(n int, base int32) []int32 {
		s := make([]int32, n)
		for i := range s {
			s[i] = (base + int32(i)*7) % int32(c.Vocab)
		}
		return s
	}
	q, long := seq(6, 1), seq(10, 2)
	pairs := []Pair{{q, seq(3, 3)}, {q, seq(4, 4)}, {q, seq(2, 5)}, // one item: 6 + 9 ≤ 24
		{seq(5, 6), seq(3, 7)},
		{long, seq(8, 8)}, {long, seq(7, 9)}, {long, seq(2, 10)}, // 10 + 8 + 7 > 24: two items
		{q, seq(3, 11)}} // the same prompt again, not next to its run: its own item
	shared, _ := m.NewSharedScorer(256)
	got, err := shared.Pairs(pairs)
	if err != nil {
		t.Fatal(err)
	}
	sep, _ := m.NewScorer(256)
	want, _ := sep.LogProbs(pairs)
	for i := range pairs {
		if math.Abs(got[i].Sum-want[i].Sum) > 1e-12*math.Abs(want[i].Sum) || got[i].Tokens != want[i].Tokens {
			t.Errorf("pair %d: shared %v, separate %v", i, got[i], want[i])
		}
	}
}
