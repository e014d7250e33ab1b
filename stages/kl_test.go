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
