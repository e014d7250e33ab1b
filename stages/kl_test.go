package stages

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/srdpo/srdpo/benchmarks"
	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/model/tokenizer/tokenizertest"
	"github.com/srdpo/srdpo/tasks"
)

// The greedy log ratio against a value known in closed form. With every weight
// zero but the final norm's bias (a·e₀) and an untied head whose row 0 is
// e₀, the residual stream stays 0, so every position's logits are
// [a, 0, …, 0]: the policy puts e^a/(e^a+V−1) on token 0 and greedy
// decoding emits token 0 only. The reference (all zero) is uniform, 1/V.
// So the greedy figure, the mean of log π − log π_ref over generated
// tokens, is a − log(e^a + V − 1) + log V.
func TestKLEstimateClosedForm(t *testing.T) {
	const a = 3.0
	cfg := model.Config{Vocab: 257, Context: 32, Layers: 1, Heads: 2, Width: 8, NormEps: 1e-5, DType: model.Float64}
	backend, _ := model.Backend()
	zeros := func() map[string][]float64 {
		w := map[string][]float64{}
		for _, n := range cfg.WeightNames() {
			w[n] = make([]float64, prod(cfg.WeightShape(n)))
		}
		return w
	}
	refW := zeros()
	ref, err := model.FromWeights(cfg, refW, backend)
	if err != nil {
		t.Fatal(err)
	}
	polW := zeros()
	polW["ln_f.bias"][0] = a
	polW["lm_head.weight"][0] = 1 // row 0, column 0
	policy, err := model.FromWeights(cfg, polW, backend)
	if err != nil {
		t.Fatal(err)
	}
	g, err := Gold(policy, ref, tokenizer.Byte{}, []string{"ab", "xyz"}, func(x, y string) (float64, error) {
		if strings.Trim(y, "\x00") != "" {
			t.Errorf("greedy generation %q is not all token 0", y)
		}
		return 0, nil
	}, 5, nil)
	if err != nil {
		t.Fatal(err)
	}
	V := float64(cfg.Vocab)
	want := a - math.Log(math.Exp(a)+V-1) + math.Log(V)
	if g.Tokens != 10 || math.Abs(g.LogRatio-want) > 1e-9 {
		t.Errorf("log ratio %.12g over %d tokens, want %.12g over 10", g.LogRatio, g.Tokens, want)
	}
}

func prod(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// acc and acc_norm pick different winners when the per-character normalisation
// matters. With the model above (token 0 at log p₀ = a − log(e^a + V − 1),
// every other token at −log(e^a + V − 1)), the choice "\x00\x00\x00\x00"
// sums to 4·log p₀ ≈ −10.48 and "b" to ≈ −5.62: acc prefers "b"; per character
// the first is ≈ −2.62 against −5.62: acc_norm prefers it, the gold.
func TestAccNormDiffersFromAcc(t *testing.T) {
	const a = 3.0
	cfg := model.Config{Vocab: 257, Context: 32, Layers: 1, Heads: 2, Width: 8, NormEps: 1e-5, DType: model.Float64}
	backend, _ := model.Backend()
	w := map[string][]float64{}
	for _, n := range cfg.WeightNames() {
		w[n] = make([]float64, prod(cfg.WeightShape(n)))
	}
	w["ln_f.bias"][0], w["lm_head.weight"][0] = a, 1
	m, err := model.FromWeights(cfg, w, backend)
	if err != nil {
		t.Fatal(err)
	}
	b := &loadedBenchmark{Task: benchmarks.ChoiceFile("q"), Docs: []benchmarks.Doc{{Text: "Q:", Choices: []string{"\x00\x00\x00\x00", "b"}, Gold: 0}}, Shots: [][]int{nil}}
	res, err := benchScorer{m: m, encode: tokenizer.Byte{}.Encode}.score(b, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	if acc, accNorm := res[0].Values[0], res[0].Values[1]; acc != 0 || accNorm != 1 {
		t.Errorf("acc %g, acc_norm %g; want 0 and 1", acc, accNorm)
	}
}

// peaked is a model whose logits are a at token peak and 0 elsewhere at
// every position (every weight zero but the final norm's bias a·e₀ and an
// untied head whose row peak is e₀: the residual stream stays 0); a = 0
// gives the uniform distribution.
func peaked(t *testing.T, vocab int, a float64, peak int) *model.Decoder {
	t.Helper()
	cfg := model.Config{Vocab: vocab, Context: 32, Layers: 1, Heads: 2, Width: 8, NormEps: 1e-5, DType: model.Float64}
	backend, _ := model.Backend()
	w := map[string][]float64{}
	for _, n := range cfg.WeightNames() {
		w[n] = make([]float64, prod(cfg.WeightShape(n)))
	}
	w["ln_f.bias"][0] = a
	w["lm_head.weight"][peak*cfg.Width] = 1 // row peak, column 0
	m, err := model.FromWeights(cfg, w, backend)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Sampled KL against closed forms. The policy puts q₀ = e^a/(e^a+V−1) on
// token 0 and q₁ = 1/(e^a+V−1) on each other token at every position; the
// reference is uniform. So each position's exact KL(q‖π_ref) is
// q₀ log(q₀V) + (V−1) q₁ log(q₁V), and a response's exact sum is that
// times its positions (its tokens, plus the EOS that ended it); its
// Monte-Carlo term Σ log q(y_t)/π_ref(y_t) adds log(q₀V) or log(q₁V) per
// token drawn. Over many samples the two agree within the Monte-Carlo
// error, and token 0 is drawn at the rate q₀.
func TestSampledKLClosedForm(t *testing.T) {
	const a, V = 3.0, 257
	policy, ref := peaked(t, V, a, 0), peaked(t, V, 0, 0)
	z := math.Exp(a) + V - 1
	q0, q1 := math.Exp(a)/z, 1/z
	perPosition := q0*math.Log(q0*V) + (V-1)*q1*math.Log(q1*V)
	gen, _ := policy.NewGenerator()
	refGen, _ := ref.NewGenerator()
	const n = 400
	prompts, keys := make([][]int32, n), make([]uint64, n)
	for i := range prompts {
		prompts[i], keys[i] = []int32{int32('a' + i%26), 'b'}, uint64(i)
	}
	out, err := gen.Sample(prompts, keys, refGen, model.GenerateConfig{MaxNewTokens: 6, Temperature: 1, Seed: 9, EOS: tokenizer.ByteEOS})
	if err != nil {
		t.Fatal(err)
	}
	var exact, mc, mc2 float64
	zeros, draws := 0, 0
	for i, s := range out {
		positions := len(s.Tokens)
		var term float64
		for _, tok := range s.Tokens {
			if tok == 0 {
				term += math.Log(q0 * V)
				zeros++
			} else {
				term += math.Log(q1 * V)
			}
		}
		if s.Ended == model.EndedEOS {
			positions++
			term += math.Log(q1 * V)
		} else if s.Ended != model.EndedLength || len(s.Tokens) != 6 {
			t.Errorf("sample %d ended %q after %d tokens", i, s.Ended, len(s.Tokens))
		}
		draws += positions
		if s.Positions != positions || math.Abs(s.KL-float64(positions)*perPosition) > 1e-9 || math.Abs(s.LogQ-s.LogRef-term) > 1e-9 {
			t.Errorf("sample %d: %d positions, KL %.12g, log q/π_ref %.12g; want %d, %.12g, %.12g", i, s.Positions, s.KL, s.LogQ-s.LogRef, positions, float64(positions)*perPosition, term)
		}
		exact += s.KL
		mc += s.LogQ - s.LogRef
		mc2 += (s.LogQ - s.LogRef) * (s.LogQ - s.LogRef)
	}
	exact, mc = exact/n, mc/n
	se := math.Sqrt((mc2/n - mc*mc) / (n - 1))
	if math.Abs(exact-mc) > 4*se {
		t.Errorf("exact %.4f and Monte-Carlo %.4f ± %.4f disagree", exact, mc, se)
	}
	rate, sd := float64(zeros)/float64(draws), math.Sqrt(q0*(1-q0)/float64(draws))
	if math.Abs(rate-q0) > 4*sd {
		t.Errorf("token 0 drawn at %.4f, want q₀ = %.4f ± %.4f", rate, q0, sd)
	}
}

// A response depends on its key, not on the rows beside it: drawn in one
// batch, one at a time, or in another order, each key gives the same
// tokens, and the same log-probabilities and KL to the dtype's rounding
// (the backend's sums depend on the batch's shape: 1e-12 relative in
// float64, 1e-5 in float32).
func TestSamplesDoNotDependOnBatching(t *testing.T) {
	for _, dt := range []model.DType{model.Float64, model.Float32} {
		t.Run(string(dt), func(t *testing.T) {
			backend, _ := model.Backend()
			cfg := model.Tiny(257)
			cfg.Context, cfg.DType = 48, dt
			policy, _ := model.New(cfg, 4, backend)
			ref, _ := model.New(cfg, 5, backend)
			gen, _ := policy.NewGenerator()
			refGen, _ := ref.NewGenerator()
			prompts := [][]int32{{1, 2, 3}, {5}, {7, 8, 9, 10, 11}, {5}, {40, 41}, {9, 9, 9, 9, 9, 9, 9}}
			keys := []uint64{11, 12, 13, 14, 15, 16}
			gc := model.GenerateConfig{MaxNewTokens: 12, Temperature: 1.3, TopK: 50, TopP: 0.95, Seed: 2, EOS: tokenizer.ByteEOS}
			all, err := gen.Sample(prompts, keys, refGen, gc)
			if err != nil {
				t.Fatal(err)
			}
			same := func(a, b model.Sample) bool {
				if !slices.Equal(a.Tokens, b.Tokens) || a.Ended != b.Ended || a.Positions != b.Positions {
					return false
				}
				tol := 1e-5
				if dt == model.Float64 {
					tol = 1e-12
				}
				close := func(x, y float64) bool { return math.Abs(x-y) <= tol*math.Max(1, math.Abs(y)) }
				return close(a.LogQ, b.LogQ) && close(a.LogRef, b.LogRef) && close(a.KL, b.KL)
			}
			for i := range prompts {
				one, err := gen.Sample(prompts[i:i+1], keys[i:i+1], refGen, gc)
				if err != nil {
					t.Fatal(err)
				}
				if !same(one[0], all[i]) {
					t.Errorf("row %d alone %+v\n in a batch %+v", i, one[0], all[i])
				}
			}
			rev, rk := slices.Clone(prompts), slices.Clone(keys)
			slices.Reverse(rev)
			slices.Reverse(rk)
			back, _ := gen.Sample(rev, rk, refGen, gc)
			for i := range prompts {
				if !same(back[len(prompts)-1-i], all[i]) {
					t.Errorf("row %d reversed differs", i)
				}
			}
			if slices.Equal(all[1].Tokens, all[3].Tokens) {
				t.Errorf("the same prompt under two keys drew the same response %v", all[1].Tokens)
			}
		})
	}
}

// Evaluation stops on the tokenizer's EOS and on stop strings, not on
// token id 10 (the byte tokenizer's newline; "+" in GPT-2's vocabulary):
// a policy that always says "+" writes MaxNew of them; one that says
// "\n" (GPT-2 id 198) stops after it, keeping it; one that says EOS writes
// nothing and has no log-ratio figure (NaN), not a 0 over no tokens.
func TestGenerationStopsOnTheTokenizersEOS(t *testing.T) {
	tok, err := tokenizer.LoadDir(tokenizertest.Dir(t, "gpt2"))
	if err != nil {
		t.Fatal(err)
	}
	V := tok.VocabSize()
	ref := peaked(t, V, 0, 0)
	prompts := []string{"Reverse: cat\nA:"}
	reward := func(x, y string) (float64, error) { return 0, nil }
	plus := peaked(t, V, 8, 10)
	g, err := Gold(plus, ref, tok, prompts, reward, 5, tasks.Stop)
	if err != nil {
		t.Fatal(err)
	}
	if g.Responses[0] != "+++++" || g.Tokens != 5 || math.IsNaN(g.LogRatio) {
		t.Errorf(`"+" policy: %q, %d tokens, log ratio %v; want "+++++" over 5`, g.Responses[0], g.Tokens, g.LogRatio)
	}
	newline := peaked(t, V, 8, 198)
	g, _ = Gold(newline, ref, tok, prompts, reward, 5, tasks.Stop)
	if g.Responses[0] != "\n" || g.Tokens != 1 {
		t.Errorf(`"\n" policy: %q over %d tokens; want "\n" over 1`, g.Responses[0], g.Tokens)
	}
	e, err := Sampled(newline, ref, tok, []string{"p"}, prompts, reward, SampleSpec{Samples: 3, Temperature: 0, MaxNew: 5, Stop: tasks.Stop, BatchRows: 2})
	if err != nil {
		t.Fatal(err)
	}
	if e.Ended[model.EndedStop] != 3 || e.Responses[0][0] != "\n" {
		t.Errorf("sampled: ended %v, %q", e.Ended, e.Responses[0])
	}
	silent := peaked(t, V, 8, int(tok.EOS()))
	g, _ = Gold(silent, ref, tok, prompts, reward, 5, tasks.Stop)
	if g.Responses[0] != "" || g.Tokens != 0 || !math.IsNaN(g.LogRatio) {
		t.Errorf("EOS policy: %q, %d tokens, log ratio %v; want nothing and NaN", g.Responses[0], g.Tokens, g.LogRatio)
	}
}
