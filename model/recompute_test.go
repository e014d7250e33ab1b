package model

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/srdpo/srdpo/model/optim"
)

// Recomputing each block in the backward pass (gradient checkpointing)
// changes where activations live, not what is computed: the same steps
// give the same losses and weights, bit for bit, for full training and for
// a LoRA adapter, in the shared and the separate layouts.
func TestRecomputeGivesTheSameSteps(t *testing.T) {
	cfg, pairs := tinyByteTask(t, 6)
	backend, _ := Backend()
	for _, c := range []struct {
		name     string
		lora     bool
		separate bool
	}{{"full, shared prompts", false, false}, {"full, separate rows", false, true}, {"lora", true, false}} {
		t.Run(c.name, func(t *testing.T) {
			train := func(recompute bool) (map[string][]float64, []float64) {
				m, _ := New(cfg, 1, backend)
				m.Recompute = recompute
				if c.lora {
					if err := m.AddLoRA(LoRA{Rank: 2, Alpha: 4, Targets: []string{AllLinear}}, 3); err != nil {
						t.Fatal(err)
					}
					withRandomB(t, m, 4)
				}
				tr, err := m.NewPreferenceTrainer(LossConfig{Type: LossSrDPO, Beta: 0.1, Lambda: 0.5}, optim.Config{Name: "adam", LR: 1e-2}, 1)
				if err != nil {
					t.Fatal(err)
				}
				if c.separate {
					tr.SeparateRows()
				}
				var losses []float64
				for step := 0; step < 3; step++ {
					st, err := tr.Step(step, pairs[:4])
					if err != nil {
						t.Fatal(err)
					}
					losses = append(losses, st.Loss, st.GradNorm)
				}
				w, _ := m.values(m.trainable())
				return w, losses
			}
			w0, l0 := train(false)
			w1, l1 := train(true)
			for i := range l0 {
				if math.Float64bits(l0[i]) != math.Float64bits(l1[i]) {
					t.Errorf("loss/grad-norm figure %d: %v without recompute, %v with", i, l0[i], l1[i])
				}
			}
			for name, v := range w0 {
				for i := range v {
					if math.Float64bits(v[i]) != math.Float64bits(w1[name][i]) {
						t.Fatalf("%s[%d]: %v without recompute, %v with", name, i, v[i], w1[name][i])
					}
				}
			}
		})
	}
}

// With Recompute the backward pass holds a second copy of every block's
// forward operations (the recomputation), so the gradient graph grows by
// about the forward's size; without it, it does not.
func TestRecomputeRebuildsTheBlocksInTheBackwardPass(t *testing.T) {
	cfg, pairs := tinyByteTask(t, 2)
	backend, _ := Backend()
	nodes := func(recompute bool) int {
		m, _ := New(cfg, 1, backend)
		m.Recompute = recompute
		b, err := NewBatch([]Pair{{pairs[0].Prompt, pairs[0].Chosen}}, 1, 32)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		exec, err := model.NewExec(m.Backend, m.Store, func(scope *model.Scope, tokens, targets, mask *Node) *Node {
			g := tokens.Graph()
			m.Store.SetTraining(g, true)
			sum, _ := m.ResponseLogProbs(tokens, targets, mask)
			loss := ReduceAllSum(sum)
			grads := m.gradients(loss)
			n = len(g.Nodes())
			return Add(loss, ReduceAllSum(grads[0]))
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := exec.Exec(m.inputs(b)...); err != nil {
			t.Fatal(err)
		}
		return n
	}
	plain, recomputed := nodes(false), nodes(true)
	if recomputed < plain+plain/4 {
		t.Errorf("gradient graph of %d nodes with Recompute, %d without: the blocks are not recomputed", recomputed, plain)
	}
}

// tokenLogProbs gives what gathering GoMLX's LogSoftmax gives, bit for bit.
func TestTokenLogProbsEqualsLogSoftmax(t *testing.T) {
	backend, _ := Backend()
	logits := make([]float32, 2*3*50)
	for i := range logits {
		logits[i] = float32(math.Sin(float64(i)*1.7) * 9)
	}
	targets := []int32{0, 0, 4, 0, 1, 49, 0, 2, 0, 1, 0, 17, 1, 1, 3, 1, 2, 48}
	out, err := ExecOnceN(backend, func(l, tg *Node) []*Node {
		return []*Node{tokenLogProbs(l, tg), Gather(LogSoftmax(l, -1), tg)}
	}, tensors.FromFlatDataAndDimensions(logits, 2, 3, 50), tensors.FromFlatDataAndDimensions(targets, 2, 3, 3))
	if err != nil {
		t.Fatal(err)
	}
	a, b := out[0].Value().([][]float32), out[1].Value().([][]float32)
	for i := range a {
		for j := range a[i] {
			if math.Float32bits(a[i][j]) != math.Float32bits(b[i][j]) {
				t.Errorf("[%d][%d]: %v, LogSoftmax gives %v", i, j, a[i][j], b[i][j])
			}
		}
	}
}
