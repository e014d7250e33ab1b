package stages

import (
	"math"
	"strings"
	"testing"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
)

// The KL estimate against a value known in closed form. With every weight
// zero but the final norm's bias (a·e₀) and an untied head whose row 0 is
// e₀, the residual stream stays 0, so every position's logits are
// [a, 0, …, 0]: the policy puts e^a/(e^a+V−1) on token 0 and greedy
// decoding emits token 0 only. The reference (all zero) is uniform, 1/V.
// So the estimate, the mean of log π − log π_ref over generated tokens, is
// a − log(e^a + V − 1) + log V.
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
	}, model.GenerateConfig{MaxNewTokens: 5, EOS: -1})
	if err != nil {
		t.Fatal(err)
	}
	V := float64(cfg.Vocab)
	want := a - math.Log(math.Exp(a)+V-1) + math.Log(V)
	if g.Tokens != 10 || math.Abs(g.KL-want) > 1e-9 {
		t.Errorf("KL %.12g over %d tokens, want %.12g over 10", g.KL, g.Tokens, want)
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
	res, err := MultipleChoice(m, tokenizer.Byte{}, []MCItem{{Context: "Q:", Choices: []string{"\x00\x00\x00\x00", "b"}, Gold: 0}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.Acc != 0 || res.AccNorm != 1 {
		t.Errorf("acc %g, acc_norm %g; want 0 and 1", res.Acc, res.AccNorm)
	}
}
