package model

import (
	"fmt"
	"testing"
)

// benchModel is a GPT of width d as DESIGN §8 and issue 3 measure it:
// vocab 256, 2 layers, T = 128, batch 16.
func benchModel(b *testing.B, d int) (*GPT, []Pair) {
	backend, err := NewBackend()
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
			step, err := m.NewSFTStep(Optim{Name: "adam", LR: 1e-4})
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
