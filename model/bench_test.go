package model

import (
	"fmt"
	"testing"

	"github.com/srdpo/srdpo/model/optim"
)

// benchModel is a GPT of width d as docs/design.md §8 and issue 3 measure it:
// vocab 256, 2 layers, T = 128, batch 16.
func benchModel(b *testing.B, d int) (*Decoder, []Pair) {
	backend, err := Backend()
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{Vocab: 256, Context: 128, Layers: 2, Heads: max(1, d/32), Width: d, NormEps: 1e-5, TiedHead: true, DType: "float32"}
	m, err := New(cfg, 1, backend)
	if err != nil {
		b.Fatal(err)
	}
	pairs := randomPairs(1, 16, 256, 128)
	for i := range pairs { // exactly 128 tokens each: 64 prompt, 64 response
		pairs[i].Prompt = append(pairs[i].Prompt, make([]int32, 64)...)[:64]
		pairs[i].Response = append(pairs[i].Response, make([]int32, 64)...)[:64]
	}
	return m, pairs
}

// BenchmarkForward times log-probs of a batch of 16 × 128 tokens.
func BenchmarkForward(b *testing.B) {
	for _, d := range []int{64, 128, 256} {
		b.Run(fmt.Sprintf("d=%d", d), func(b *testing.B) {
			m, pairs := benchModel(b, d)
			s, err := m.NewScorer(16 * 128)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.LogProbs(pairs); err != nil { // compile
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.LogProbs(pairs)
			}
			b.ReportMetric(float64(16*128*b.N)/b.Elapsed().Seconds(), "tokens/s")
		})
	}
}

// BenchmarkTrainStep times one SFT step (forward, backward, Adam) on 16 × 128.
func BenchmarkTrainStep(b *testing.B) {
	for _, d := range []int{64, 128, 256} {
		b.Run(fmt.Sprintf("d=%d", d), func(b *testing.B) {
			m, pairs := benchModel(b, d)
			step, err := m.NewSFTStep(optim.Config{Name: "adam", LR: 1e-4})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := step.Run(0, pairs); err != nil { // compile
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				step.Run(i+1, pairs)
			}
		})
	}
}

// BenchmarkPreferenceStep: a DPO step against an Sr-DPO step (exact Δπ:
// one more forward pass, on p⊕x) and an Sr-DPO step whose Δπ is given (a
// --delta-refresh cache hit); 16 pairs, prompts and responses of 32
// tokens (p⊕x: 48), d = 128, 2 layers. Run with -count to alternate.
func BenchmarkPreferenceStep(b *testing.B) {
	backend, _ := Backend()
	cfg := Config{Vocab: 256, Context: 128, Layers: 2, Heads: 4, Width: 128, NormEps: 1e-5, TiedHead: true, DType: "float32"}
	pairs := make([]PreferencePair, 16)
	raw := randomPairs(3, 48, 256, 128)
	for i := range pairs {
		fix := func(ids []int32, n int) []int32 { return append(append([]int32{}, ids...), make([]int32, n)...)[:n] }
		pairs[i] = PreferencePair{ID: fmt.Sprint(i), Prompt: fix(raw[3*i].Prompt, 32), AugPrompt: fix(raw[3*i+1].Prompt, 48),
			Chosen: fix(raw[3*i].Response, 32), Rejected: fix(raw[3*i+2].Response, 32), Ref: PairLogps{-100, -100, -100, -100}}
	}
	for _, c := range []struct {
		name  string
		loss  LossType
		given bool
	}{{"dpo", "dpo", false}, {"sr-dpo", "sr-dpo", false}, {"sr-dpo-cached-delta", "sr-dpo", true}} {
		b.Run(c.name, func(b *testing.B) {
			m, _ := New(cfg, 1, backend)
			tr, err := m.NewPreferenceTrainer(LossConfig{Type: c.loss, Beta: 0.1, Lambda: 0.5}, optim.Config{Name: "rmsprop", LR: 5e-7}, 1)
			if err != nil {
				b.Fatal(err)
			}
			var aug []float64
			if c.given {
				aug = make([]float64, 32)
			}
			if _, err := tr.StepWithAug(0, pairs, aug); err != nil { // compile
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				tr.StepWithAug(i+1, pairs, aug)
			}
		})
	}
}
