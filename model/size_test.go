package model

import "testing"

// GPT-2 small's shape (124M parameters) builds, scores and generates here;
// the tests elsewhere use tiny models.
func TestGPT2SmallSize(t *testing.T) {
	backend, _ := Backend()
	cfg := Config{Vocab: 50257, Context: 1024, Layers: 12, Heads: 12, Width: 768, NormEps: 1e-5, TiedHead: true, DType: "float32"}
	if n := cfg.Params(); n < 124_000_000 || n > 125_000_000 {
		t.Fatalf("GPT-2 small has %d parameters here, want 124.4M", n)
	}
	m, err := New(cfg, 1, backend)
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.NewScorer(1024)
	if err != nil {
		t.Fatal(err)
	}
	pair := Pair{Prompt: []int32{464, 3290, 318}, Response: []int32{257, 1332, 13}}
	got, err := s.LogProbs([]Pair{pair})
	if err != nil {
		t.Fatal(err)
	}
	// Initial weights are small, so the model is near uniform over 50257 tokens.
	if uniform := -3 * 10.8249; got[0].Tokens != 3 || got[0].Sum > uniform+1 || got[0].Sum < uniform-1 {
		t.Errorf("log-prob %g over %d tokens, want about %g", got[0].Sum, got[0].Tokens, uniform)
	}
	gen, _ := m.NewGenerator()
	out, err := gen.Generate([][]int32{pair.Prompt}, GenerateConfig{MaxNewTokens: 4, EOS: -1})
	if err != nil || len(out[0]) != 4 {
		t.Fatalf("generate: %v %v", out, err)
	}
}

// A model of about 0.1M parameters works too.
func TestSmallestSize(t *testing.T) {
	backend, _ := Backend()
	cfg := Config{Vocab: 257, Context: 64, Layers: 1, Heads: 2, Width: 32, NormEps: 1e-5, TiedHead: true, DType: "float32"}
	if n := cfg.Params(); n > 100_000 {
		t.Fatalf("%d parameters", n)
	}
	m, err := New(cfg, 1, backend)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := m.NewScorer(64)
	if _, err := s.LogProbs([]Pair{{Prompt: []int32{1}, Response: []int32{2}}}); err != nil {
		t.Fatal(err)
	}
}
