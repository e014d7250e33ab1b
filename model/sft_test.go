package model

import (
	"math"
	"strings"
	"testing"

	"github.com/srdpo/srdpo/model/optim"
	"github.com/srdpo/srdpo/model/tokenizer"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// sftCorpus is a tiny memorisable corpus for the byte tokenizer.
var sftCorpus = [][2]string{
	{"Q: cat\nA:", " meow\n"},
	{"Q: dog\nA:", " woof\n"},
	{"Q: cow\nA:", " moo\n"},
	{"Q: owl\nA:", " hoot\n"},
	{"Q: bee\nA:", " buzz\n"},
	{"Q: duck\nA:", " quack\n"},
}

func bytePairs(corpus [][2]string) []Pair {
	var out []Pair
	for _, c := range corpus {
		out = append(out, Pair{Prompt: tokenizer.Bytes(c[0]), Response: tokenizer.Bytes(c[1])})
	}
	return out
}

func trainTiny(t *testing.T) *Decoder {
	t.Helper()
	backend, _ := Backend()
	cfg := Tiny(tokenizer.Byte{}.VocabSize())
	cfg.Context = 32
	m, err := New(cfg, 1, backend)
	if err != nil {
		t.Fatal(err)
	}
	var losses []float64
	err = m.SFT(bytePairs(sftCorpus), SFTConfig{
		Optim:     optim.Config{Name: "adamw", LR: 3e-3, Warmup: 10, Schedule: "cosine", TotalSteps: 150, MaxGradNorm: 1, WeightDecay: 0.01},
		BatchSize: 6, Steps: 150, Seed: 7,
	}, func(s SFTStep) { losses = append(losses, s.Loss) })
	if err != nil {
		t.Fatal(err)
	}
	first, last := losses[0], losses[len(losses)-1]
	if !(first > 4 && last < 0.1*first) {
		t.Fatalf("SFT loss went from %.3f to %.3f; want a fall of 90%%", first, last)
	}
	return m
}

func TestSFTReducesLoss(t *testing.T) {
	m := trainTiny(t)
	// The trained model prefers each memorised response over another's.
	s, _ := m.NewScorer(m.Config.Context)
	pairs := bytePairs(sftCorpus)
	swapped := bytePairs(sftCorpus)
	for i := range swapped {
		swapped[i].Response = pairs[(i+1)%len(pairs)].Response
	}
	own, _ := s.LogProbs(pairs)
	other, _ := s.LogProbs(swapped)
	for i := range own {
		if own[i].Sum <= other[i].Sum+1 {
			t.Errorf("%q: own response %.2f, another's %.2f", sftCorpus[i][0], own[i].Sum, other[i].Sum)
		}
	}
}

// One optimiser step, checked by hand from the gradient: Adam's first step
// moves each weight by lr·g/(|g|+ε), RMSprop's by lr·g/(√(1−α)|g|+ε),
// AdamW's adds lr·λ·w; clipping scales the moments by max/‖g‖.
func TestOptimizerFirstStepByHand(t *testing.T) {
	pairs := bytePairs(sftCorpus)[:3]
	for _, o := range []optim.Config{
		{Name: "adam", LR: 0.01},
		{Name: "adamw", LR: 0.01, WeightDecay: 0.1},
		{Name: "rmsprop", LR: 0.01},
		{Name: "adam", LR: 0.01, MaxGradNorm: 0.5},
	} {
		backend, _ := Backend()
		cfg := Tiny(tokenizer.Byte{}.VocabSize())
		cfg.Context, cfg.DType = 32, "float64"
		m, _ := New(cfg, 3, backend)
		b, _ := NewBatch(pairs, 4, 32)
		names := cfg.WeightNames()
		gexec, _ := model.NewExec(backend, m.Store, func(scope *model.Scope, tokens, targets, mask *Node) []*Node {
			g := tokens.Graph()
			m.Store.SetTraining(g, true)
			sum, count := m.ResponseLogProbs(tokens, targets, mask)
			loss := Neg(Div(ReduceAllSum(sum), ReduceAllSum(count)))
			var ws []*Node
			for _, n := range names {
				ws = append(ws, m.w(g, n))
			}
			return Gradient(loss, ws...)
		})
		res, err := gexec.Exec(m.inputs(b)...)
		if err != nil {
			t.Fatal(err)
		}
		var norm2 float64
		grads := map[string][]float64{}
		for i, n := range names {
			grads[n] = toFloat64(res[i])
			for _, g := range grads[n] {
				norm2 += g * g
			}
		}
		before, _ := m.Weights()
		step, err := m.NewSFTStep(o)
		if err != nil {
			t.Fatal(err)
		}
		r, err := step.Run(0, pairs)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(r.GradNorm-math.Sqrt(norm2)) > 1e-9 {
			t.Errorf("%+v: gradient norm %g, want %g", o, r.GradNorm, math.Sqrt(norm2))
		}
		scale := 1.0
		if o.MaxGradNorm > 0 {
			scale = math.Min(1, o.MaxGradNorm/(math.Sqrt(norm2)+1e-6))
		}
		after, _ := m.Weights()
		// PyTorch's defaults (torch.optim.Adam/AdamW/RMSprop), which the step
		// must take when the config leaves them out.
		beta1, beta2, eps := 0.9, 0.999, 1e-8
		if o.Name == "rmsprop" {
			beta2 = 0.99
		}
		for _, n := range []string{"h.0.attn.c_attn.weight", "wte.weight", "ln_f.bias"} {
			mom := tensors.MustCopyFlatData[float64](m.Store.GetVariable("/optim/m" + weightPath(n)).MustValue())
			for i, g := range grads[n] {
				g *= scale
				var want float64
				switch o.Name {
				case "rmsprop":
					want = before[n][i] - o.LR*g/(math.Sqrt(1-beta2)*math.Abs(g)+eps)
				default:
					want = before[n][i] - o.LR*(g/(math.Abs(g)+eps)+o.WeightDecay*before[n][i])
					if math.Abs(mom[i]-(1-beta1)*g) > 1e-12 {
						t.Fatalf("%+v: %s[%d] first moment %g, want %g", o, n, i, mom[i], (1-beta1)*g)
					}
				}
				if math.Abs(after[n][i]-want) > 1e-9 {
					t.Fatalf("%+v: %s[%d] = %.12g after one step, want %.12g", o, n, i, after[n][i], want)
				}
			}
		}
	}
}

// A step whose loss is not finite is refused and changes nothing.
func TestSFTStepRefusesNonFiniteLoss(t *testing.T) {
	backend, _ := Backend()
	cfg := Tiny(tokenizer.Byte{}.VocabSize())
	cfg.Context = 32
	m, _ := New(cfg, 3, backend)
	bias := make([]float32, cfg.Width)
	bias[0] = float32(math.Inf(1))
	if err := m.Store.GetVariable(weightPath("ln_f.bias")).SetValue(tensors.FromFlatDataAndDimensions(bias, cfg.Width)); err != nil {
		t.Fatal(err)
	}
	before, _ := m.Weights()
	step, _ := m.NewSFTStep(optim.Config{Name: "adam", LR: 0.01})
	if _, err := step.Run(5, bytePairs(sftCorpus)); err == nil || !containsAll(err.Error(), "sft step 5", "not finite") {
		t.Fatalf("got %v", err)
	}
	after, _ := m.Weights()
	for n, v := range before {
		for i := range v {
			if v[i] != after[n][i] && !(math.IsNaN(v[i]) && math.IsNaN(after[n][i])) {
				t.Fatalf("%s[%d] changed from %g to %g", n, i, v[i], after[n][i])
			}
		}
	}
	if s := tensors.ToScalar[float64](m.Store.GetVariable("/optim/step").MustValue()); s != 0 {
		t.Fatalf("optimiser step counter moved to %g", s)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
