package model

import (
	"math"
	"math/rand/v2"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// The gradient of a tiny float64 model's summed response log-probs matches
// central finite differences, for weights of every kind.
func TestGradientMatchesFiniteDifferences(t *testing.T) {
	m := tinyModel(t, "float64", 21)
	checkGradients(t, m, []string{"wte.weight", "wpe.weight", "h.0.attn.c_attn.weight", "h.0.attn.c_proj.bias",
		"h.0.ln_1.weight", "h.1.mlp.c_fc.weight", "h.1.mlp.c_proj.weight", "ln_f.bias"}, 24)
}

// The same for every family, for one weight of every kind it has.
func TestFamilyGradientsMatchFiniteDifferences(t *testing.T) {
	kinds := map[Family][]string{
		FamilyLlama: {"model.embed_tokens.weight", "model.layers.0.input_layernorm.weight", "model.layers.0.self_attn.q_proj.weight",
			"model.layers.0.self_attn.k_proj.weight", "model.layers.1.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight",
			"model.layers.1.post_attention_layernorm.weight", "model.layers.0.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight",
			"model.layers.0.mlp.down_proj.weight", "model.norm.weight", "lm_head.weight"},
		FamilyQwen2: {"model.layers.0.self_attn.q_proj.bias", "model.layers.1.self_attn.k_proj.bias", "model.layers.0.self_attn.v_proj.bias"},
		FamilyQwen3: {"model.layers.0.self_attn.q_norm.weight", "model.layers.1.self_attn.k_norm.weight"},
		FamilyNeoX: {"gpt_neox.embed_in.weight", "gpt_neox.layers.0.input_layernorm.bias", "gpt_neox.layers.0.attention.query_key_value.weight",
			"gpt_neox.layers.1.attention.query_key_value.bias", "gpt_neox.layers.0.attention.dense.weight", "gpt_neox.layers.1.post_attention_layernorm.weight",
			"gpt_neox.layers.0.mlp.dense_h_to_4h.weight", "gpt_neox.layers.1.mlp.dense_4h_to_h.bias", "gpt_neox.final_layer_norm.weight", "embed_out.weight"},
	}
	for name, c := range familyConfigs() {
		if names, ok := kinds[c.Family]; ok && (name == "llama GQA 4:2" || c.Family != FamilyLlama) && name != "neox sequential, all" {
			t.Run(name, func(t *testing.T) { checkGradients(t, randomWeights(t, c, 3), names, c.Context) })
		}
	}
}

// checkGradients compares the gradient of summed response log-probs with
// central finite differences at a few entries of each named weight.
func checkGradients(t *testing.T, m *Decoder, names []string, length int) {
	pairs := randomPairs(22, 3, m.Config.Vocab, length)
	b, err := NewBatch(pairs, 4, length)
	if err != nil {
		t.Fatal(err)
	}
	exec, err := model.NewExec(m.Backend, m.Store, func(scope *model.Scope, tokens, targets, mask *Node) []*Node {
		g := tokens.Graph()
		m.Store.SetTraining(g, true) // weights as parameters: see docs/design.md §8, pitfall 1
		sum, _ := m.ResponseLogProbs(tokens, targets, mask)
		loss := ReduceAllSum(sum)
		var ws []*Node
		for _, n := range names {
			ws = append(ws, m.w(g, n))
		}
		return append([]*Node{loss}, Gradient(loss, ws...)...)
	})
	if err != nil {
		t.Fatal(err)
	}
	run := func() []*tensors.Tensor {
		res, err := exec.Exec(m.inputs(b)...)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := run()
	rng := rand.New(rand.NewPCG(23, 0))
	eps, tol := 1e-6, 1e-5
	if m.Config.Family == FamilyNeoX {
		// Erf has float32 accuracy in float64 under GOEXPERIMENT=simd
		// (docs/design.md §8, pitfall 6): wider steps, looser agreement.
		eps, tol = 1e-3, 1e-2
	}
	for k, name := range names {
		grad := toFloat64(res[k+1])
		v := m.Store.GetVariable(weightPath(name))
		orig := tensors.MustCopyFlatData[float64](v.MustValue())
		lossAt := func(i int, delta float64) float64 {
			w := append([]float64(nil), orig...)
			w[i] += delta
			if err := v.SetValue(tensors.FromFlatDataAndDimensions(w, m.shapeOf(name)...)); err != nil {
				t.Fatal(err)
			}
			return toFloat64(run()[0])[0]
		}
		var largest float64
		for trial := 0; trial < 4; trial++ {
			i := rng.IntN(len(orig))
			if name == m.Config.layout().embed && trial < 2 {
				i = int(pairs[0].Response[0])*m.Config.Width + trial // a row the batch uses
			}
			fd := (lossAt(i, eps) - lossAt(i, -eps)) / (2 * eps)
			if math.Abs(fd-grad[i]) > tol/10+tol*math.Abs(fd) {
				t.Errorf("%s[%d]: gradient %.10g, finite difference %.10g", name, i, grad[i], fd)
			}
			largest = math.Max(largest, math.Abs(fd))
		}
		if largest < 1e-4 { // zero against zero proves nothing
			t.Errorf("%s: the entries checked barely move the loss (%g); pick others", name, largest)
		}
		if err := v.SetValue(tensors.FromFlatDataAndDimensions(orig, m.shapeOf(name)...)); err != nil {
			t.Fatal(err)
		}
	}
}
