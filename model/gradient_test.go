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
	pairs := randomPairs(22, 3, m.Config.Vocab, 24)
	b, err := NewBatch(pairs, 4, 24)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"wte.weight", "wpe.weight", "h.0.attn.c_attn.weight", "h.0.attn.c_proj.bias",
		"h.0.ln_1.weight", "h.1.mlp.c_fc.weight", "h.1.mlp.c_proj.weight", "ln_f.bias"}
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
	const eps = 1e-6
	for k, name := range names {
		grad := toFloat64(res[k+1])
		v := m.Store.GetVariable(weightPath(name))
		orig := tensors.MustCopyFlatData[float64](v.MustValue())
		lossAt := func(i int, delta float64) float64 {
			w := append([]float64(nil), orig...)
			w[i] += delta
			v.MustSetValue(tensors.FromFlatDataAndDimensions(w, m.Config.WeightShape(name)...))
			return toFloat64(run()[0])[0]
		}
		var largest float64
		for trial := 0; trial < 4; trial++ {
			i := rng.IntN(len(orig))
			if name == "wte.weight" && trial < 2 {
				i = int(pairs[0].Response[0])*m.Config.Width + trial // a row the batch uses
			}
			fd := (lossAt(i, eps) - lossAt(i, -eps)) / (2 * eps)
			if math.Abs(fd-grad[i]) > 1e-6+1e-5*math.Abs(fd) {
				t.Errorf("%s[%d]: gradient %.10g, finite difference %.10g", name, i, grad[i], fd)
			}
			largest = math.Max(largest, math.Abs(fd))
		}
		if largest < 1e-4 { // zero against zero proves nothing
			t.Errorf("%s: the entries checked barely move the loss (%g); pick others", name, largest)
		}
		v.MustSetValue(tensors.FromFlatDataAndDimensions(orig, m.Config.WeightShape(name)...))
	}
}
