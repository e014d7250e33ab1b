package model

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

func tinyModel(t testing.TB, dtype DType, seed uint64) *Decoder {
	t.Helper()
	backend, err := Backend()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Vocab: 37, Context: 48, Layers: 2, Heads: 2, Width: 16, NormEps: 1e-5, TiedHead: true, DType: dtype}
	m, err := New(cfg, seed, backend)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func randomPairs(seed uint64, n, vocab, maxLen int) []Pair {
	rng := rand.New(rand.NewPCG(seed, 1))
	pairs := make([]Pair, n)
	for i := range pairs {
		p := make([]int32, 1+rng.IntN(maxLen/2-1))
		r := make([]int32, 1+rng.IntN(maxLen/2-1))
		for j := range p {
			p[j] = int32(rng.IntN(vocab))
		}
		for j := range r {
			r[j] = int32(rng.IntN(vocab))
		}
		pairs[i] = Pair{Prompt: p, Response: r}
	}
	return pairs
}

// logits runs the network on one unpadded sequence.
func logits(t testing.TB, m *Decoder, seq []int32) [][]float64 {
	t.Helper()
	exec, err := model.NewExec(m.Backend, m.Store, func(scope *model.Scope, tokens *Node) *Node {
		m.Store.SetTraining(tokens.Graph(), true)
		return m.Logits(tokens)
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := exec.Exec(tensors.FromFlatDataAndDimensions(seq, 1, len(seq)))
	if err != nil {
		t.Fatal(err)
	}
	flat := toFloat64(res[0])
	v := m.Config.Vocab
	out := make([][]float64, len(seq))
	for i := range out {
		out[i] = flat[i*v : (i+1)*v]
	}
	return out
}

// direct is log π(response | prompt) from the logits, by the formula.
func direct(t testing.TB, m *Decoder, p Pair) float64 {
	seq := append(append([]int32{}, p.Prompt...), p.Response...)
	lg := logits(t, m, seq)
	var sum float64
	for i := range p.Response {
		pos := len(p.Prompt) - 1 + i
		row := lg[pos]
		mx := math.Inf(-1)
		for _, x := range row {
			mx = math.Max(mx, x)
		}
		var z float64
		for _, x := range row {
			z += math.Exp(x - mx)
		}
		sum += row[p.Response[i]] - mx - math.Log(z)
	}
	return sum
}

// Sums from ragged, padded batches equal the formula applied to each pair's
// own logits. Tolerance: float32 sums over up to 46 tokens, 1e-4 absolute.
func TestLogProbsEqualDirectComputation(t *testing.T) {
	m := tinyModel(t, "float32", 1)
	pairs := randomPairs(2, 11, m.Config.Vocab, m.Config.Context)
	s, err := m.NewScorer(4 * m.Config.Context)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.LogProbs(pairs)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pairs {
		want := direct(t, m, p)
		if math.Abs(got[i].Sum-want) > 1e-4 || got[i].Tokens != len(p.Response) {
			t.Errorf("pair %d: got %.6f over %d tokens, want %.6f over %d", i, got[i].Sum, got[i].Tokens, want, len(p.Response))
		}
		if got[i].Sum >= 0 {
			t.Errorf("pair %d: log-prob sum %g is not negative", i, got[i].Sum)
		}
	}
}

// For a given budget, a pair's score is bit for bit the same alone or in
// any batch; other budgets agree within float32 rounding (1e-4 absolute).
func TestLogProbsIndependentOfBatching(t *testing.T) {
	backend, _ := Backend()
	m, _ := New(Config{Vocab: 257, Context: 128, Layers: 2, Heads: 4, Width: 128, NormEps: 1e-5, TiedHead: true, DType: "float32"}, 3, backend)
	pairs := randomPairs(4, 40, m.Config.Vocab, m.Config.Context)
	for _, budget := range []int{m.Config.Context, 4 * m.Config.Context, 16 * m.Config.Context} {
		s, _ := m.NewScorer(budget)
		all, err := s.LogProbs(pairs)
		if err != nil {
			t.Fatal(err)
		}
		half, _ := s.LogProbs(pairs[:20])
		for i, p := range pairs {
			alone, _ := s.LogProbs([]Pair{p})
			if alone[0] != all[i] || (i < 20 && half[i] != all[i]) {
				t.Errorf("budget %d, pair %d: %v alone, %v among 40, %v among 20", budget, i, alone[0], all[i], half[min(i, 19)])
			}
		}
		if budget > m.Config.Context {
			small, _ := m.NewScorer(m.Config.Context)
			ref, _ := small.LogProbs(pairs)
			for i := range pairs {
				if math.Abs(ref[i].Sum-all[i].Sum) > 1e-4 {
					t.Errorf("budget %d vs %d, pair %d: %.6f, %.6f", budget, m.Config.Context, i, all[i].Sum, ref[i].Sum)
				}
			}
		}
	}
}

// Changing token t leaves the logits of positions before t unchanged.
func TestCausality(t *testing.T) {
	m := tinyModel(t, "float32", 5)
	seq := randomPairs(6, 1, m.Config.Vocab, m.Config.Context)[0].Prompt
	seq = append(seq, 1, 2, 3, 4, 5, 6)
	before := logits(t, m, seq)
	tpos := len(seq) - 3
	changed := append([]int32{}, seq...)
	changed[tpos] = (changed[tpos] + 7) % int32(m.Config.Vocab)
	after := logits(t, m, changed)
	for pos := 0; pos < len(seq); pos++ {
		var diff float64
		for v := range before[pos] {
			diff = math.Max(diff, math.Abs(before[pos][v]-after[pos][v]))
		}
		if pos < tpos && diff != 0 {
			t.Errorf("position %d changed by %g when token %d changed", pos, diff, tpos)
		}
		if pos >= tpos && diff == 0 {
			t.Errorf("position %d did not change when token %d changed", pos, tpos)
		}
	}
}

// A scorer sees weights changed after it was built (no baked constants).
func TestScorerSeesNewWeights(t *testing.T) {
	m := tinyModel(t, "float32", 7)
	pairs := randomPairs(8, 2, m.Config.Vocab, m.Config.Context)
	s, _ := m.NewScorer(m.Config.Context)
	before, _ := s.LogProbs(pairs)
	w, _ := m.Weights()
	other, _ := FromWeights(m.Config, w, m.Backend)
	v := m.Store.GetVariable(weightPath("ln_f.bias"))
	bias := make([]float32, m.Config.Width)
	bias[0] = 1
	if err := v.SetValue(tensors.FromFlatDataAndDimensions(bias, m.Config.Width)); err != nil {
		t.Fatal(err)
	}
	after, _ := s.LogProbs(pairs)
	if before[0].Sum == after[0].Sum {
		t.Fatal("scorer used stale weights")
	}
	os, _ := other.NewScorer(m.Config.Context)
	orig, _ := os.LogProbs(pairs)
	if orig[0].Sum != before[0].Sum {
		t.Fatalf("a model rebuilt from Weights() scores %g, the original %g", orig[0].Sum, before[0].Sum)
	}
}
