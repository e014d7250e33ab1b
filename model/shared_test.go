package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

// raggedItems are prompts with two or three responses of mixed lengths.
func raggedItems(vocab int, seed uint64) []Shared {
	rng := rand.New(rand.NewPCG(seed, 1))
	seq := func(n int) []int32 {
		s := make([]int32, n)
		for i := range s {
			s[i] = int32(rng.IntN(vocab))
		}
		return s
	}
	var items []Shared
	for i := 0; i < 7; i++ {
		it := Shared{Prompt: seq(1 + rng.IntN(20))}
		for k := 0; k < 2+i%2; k++ {
			it.Responses = append(it.Responses, seq(1+rng.IntN(12)))
		}
		items = append(items, it)
	}
	return items
}

// Shared-prompt log-probs equal those of each response scored alone after
// its prompt (the separate-row path), for every family, in float64 to
// 1e-12 and in float32 to 1e-5 relative.
func TestSharedEqualsSeparateRows(t *testing.T) {
	configs := familyConfigs()
	configs["gpt2"] = Config{Vocab: 37, Context: 16, Layers: 2, Heads: 4, Width: 16, NormEps: 1e-5, DType: Float64}
	for name, c := range configs {
		for _, dt := range []DType{Float64, Float32} {
			c.Context, c.DType = 64, dt
			m := randomWeights(t, c, 5)
			items := raggedItems(c.Vocab, 3)
			shared, err := m.NewSharedScorer(256)
			if err != nil {
				t.Fatal(err)
			}
			got, err := shared.LogProbs(items)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			sep, _ := m.NewScorer(256)
			tol := map[DType]float64{Float64: 1e-12, Float32: 1e-5}[dt]
			worst := 0.0
			for i, it := range items {
				for k, r := range it.Responses {
					want, err := sep.LogProbs([]Pair{{Prompt: it.Prompt, Response: r}})
					if err != nil {
						t.Fatal(err)
					}
					rel := math.Abs(got[i][k].Sum-want[0].Sum) / math.Abs(want[0].Sum)
					worst = max(worst, rel)
					if rel > tol || got[i][k].Tokens != len(r) {
						t.Errorf("%s %s item %d response %d: shared %v, alone %v (rel %.2g)", name, dt, i, k, got[i][k], want[0], rel)
					}
				}
			}
			t.Logf("%s %s: largest relative difference %.2g", name, dt, worst)
		}
	}
}

// No response sees another: changing the first response's tokens leaves
// the second's log-prob bit for bit the same, and changing the prompt
// changes both.
func TestSharedResponsesDoNotSeeEachOther(t *testing.T) {
	c := familyConfigs()["llama GQA 4:2"]
	c.Context = 64
	m := randomWeights(t, c, 2)
	s, _ := m.NewSharedScorer(256)
	base := Shared{Prompt: []int32{1, 2, 3, 4}, Responses: [][]int32{{5, 6, 7}, {8, 9}}}
	other := Shared{Prompt: base.Prompt, Responses: [][]int32{{10, 11, 12}, {8, 9}}}
	moved := Shared{Prompt: []int32{1, 2, 3, 5}, Responses: base.Responses}
	got, err := s.LogProbs([]Shared{base, other, moved})
	if err != nil {
		t.Fatal(err)
	}
	if got[0][1].Sum != got[1][1].Sum {
		t.Errorf("the second response saw the first: %v vs %v", got[0][1].Sum, got[1][1].Sum)
	}
	if got[0][0].Sum == got[1][0].Sum {
		t.Error("the first response's own tokens did not matter")
	}
	if got[0][0].Sum == got[2][0].Sum || got[0][1].Sum == got[2][1].Sum {
		t.Error("a response did not see the prompt")
	}
}
