package model

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/srdpo/srdpo/model/tokenizer"
)

// naiveGreedy re-runs the whole sequence through the network for every new
// token: what the cache must reproduce.
func naiveGreedy(t *testing.T, m *Decoder, prompt []int32, n int) []int32 {
	seq := append([]int32{}, prompt...)
	var out []int32
	for i := 0; i < n && len(seq) < m.Config.Context; i++ {
		lg := logits(t, m, seq)
		tok := sample(lg[len(seq)-1], GenerateConfig{}, nil)
		out = append(out, tok)
		seq = append(seq, tok)
	}
	return out
}

// Greedy generation with the cache equals re-running the prefix each step,
// for a batch of prompts of different lengths, up to a full context.
func TestGenerateWithCacheEqualsFullRecompute(t *testing.T) {
	checkCachedGeneration(t, tinyModel(t, "float64", 31), [][]int32{{1, 2, 3}, {5}, {7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23}})
}

// The same for the rotary families: the cache holds keys already turned by
// their positions, and grouped-query heads.
func TestFamilyGenerateWithCacheEqualsFullRecompute(t *testing.T) {
	for _, name := range []string{"llama GQA 4:2", "qwen3 q/k norms", "neox parallel, 25%"} {
		t.Run(name, func(t *testing.T) {
			checkCachedGeneration(t, randomWeights(t, familyConfigs()[name], 5), [][]int32{{1, 2, 3}, {5}, {7, 8, 9, 10, 11, 12}})
		})
	}
}

func checkCachedGeneration(t *testing.T, m *Decoder, prompts [][]int32) {
	gen, err := m.NewGenerator()
	if err != nil {
		t.Fatal(err)
	}
	got, err := gen.Generate(prompts, GenerateConfig{MaxNewTokens: 40, EOS: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range prompts {
		want := naiveGreedy(t, m, p, 40)
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("prompt %d: cached %v\nfull      %v", i, got[i], want)
		}
	}
	if n := len(prompts[2]) + len(got[2]); n != m.Config.Context {
		t.Errorf("the long prompt stopped at %d tokens, want the full context %d", n, m.Config.Context)
	}
}

func TestGenerateAfterSFTReproducesMemorisedContinuation(t *testing.T) {
	m := trainTiny(t)
	gen, _ := m.NewGenerator()
	var prompts [][]int32
	for _, c := range sftCorpus {
		prompts = append(prompts, tokenizer.Bytes(c[0]))
	}
	out, err := gen.Generate(prompts, GenerateConfig{MaxNewTokens: 20, EOS: '\n'})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range sftCorpus {
		if got, want := (tokenizer.Byte{}).Decode(out[i]), c[1][:len(c[1])-1]; got != want {
			t.Errorf("%q → %q, want %q", c[0], got, want)
		}
	}
	// Sampling is seeded: the same seed, the same text; top-k 1 is greedy.
	sampled := func(cfg GenerateConfig) [][]int32 {
		o, err := gen.Generate(prompts, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	hot := GenerateConfig{MaxNewTokens: 20, EOS: '\n', Temperature: 1.5, Seed: 4}
	if !reflect.DeepEqual(sampled(hot), sampled(hot)) {
		t.Error("same seed, different samples")
	}
	k1 := hot
	k1.TopK = 1
	if !reflect.DeepEqual(sampled(k1), out) {
		t.Error("top-k 1 differs from greedy")
	}
}

func TestSampleRestrictsToTopKAndTopP(t *testing.T) {
	logits := []float64{math.Log(0.5), math.Log(0.3), math.Log(0.2)}
	rng := rand.New(rand.NewPCG(1, 1))
	counts := map[int32]int{}
	for i := 0; i < 4000; i++ {
		counts[sample(logits, GenerateConfig{Temperature: 1, TopP: 0.6}, rng)]++
	}
	// top-p 0.6 keeps tokens 0 and 1 (0.5 + 0.3 ≥ 0.6), renormalised to 5/8 and 3/8.
	if counts[2] != 0 || math.Abs(float64(counts[0])/4000-0.625) > 0.03 {
		t.Errorf("top-p counts %v", counts)
	}
	counts = map[int32]int{}
	for i := 0; i < 4000; i++ {
		counts[sample(logits, GenerateConfig{Temperature: 1}, rng)]++
	}
	if math.Abs(float64(counts[2])/4000-0.2) > 0.03 {
		t.Errorf("full softmax counts %v", counts)
	}
	for i := 0; i < 100; i++ {
		if tok := sample(logits, GenerateConfig{Temperature: 1, TopK: 2}, rng); tok == 2 {
			t.Fatal("top-k 2 sampled the third token")
		}
	}
}
