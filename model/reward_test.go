package model

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeRewardDir writes m as transformers writes a *ForSequenceClassification
// checkpoint: the decoder's tensors without an LM head, score.weight
// [1, hidden], and a config.json naming the architecture, one label and
// pad (nil: no pad_token_id).
func writeRewardDir(t *testing.T, m *Decoder, score []float64, arch string, pad *int) string {
	t.Helper()
	dir := t.TempDir()
	c := m.Config
	w, err := m.Weights()
	if err != nil {
		t.Fatal(err)
	}
	tensors := map[string]Tensor{"score.weight": {Shape: []int{1, c.Width}, Data: score}}
	for name, v := range w {
		if name == c.layout().head {
			continue
		}
		tensors[name] = Tensor{Shape: c.WeightShape(name), Data: v}
	}
	if err := writeHFWeights(dir, tensorSource(tensors), DefaultShardBytes); err != nil {
		t.Fatal(err)
	}
	b, err := familyConfigJSON(c)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	cfg["architectures"], cfg["id2label"], cfg["label2id"] = []string{arch}, map[string]string{"0": "LABEL_0"}, map[string]int{"LABEL_0": 0}
	if pad != nil {
		cfg["pad_token_id"] = *pad
	}
	b, _ = json.Marshal(cfg)
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// scoreHeadWeights are m's weights as the checkpoint holds them (F32) with
// an untied LM head whose row 0 is score and the rest 0, and the config to
// read them with: logit 0 of the reference forward pass is then the
// reward at each position.
func scoreHeadWeights(m *Decoder, score []float64) (map[string][]float64, Config) {
	w, _ := m.Weights()
	for _, v := range w {
		for i := range v {
			v[i] = float64(float32(v[i]))
		}
	}
	ref := m.Config
	ref.TiedHead = false
	head := make([]float64, ref.Vocab*ref.Width)
	for i, x := range score {
		head[i] = float64(float32(x))
	}
	w[ref.layout().head] = head
	return w, ref
}

// A reward model's score is transformers': the plain-Go float64
// transcription of the families' modeling code (familyReferenceLogits,
// with the LM head's row 0 replaced by score.weight, so that logit 0 at a
// position is score · final_norm(hidden)) read at the position
// transformers pools: the rightmost token that is not pad_token_id (the
// last without one; token 0 when all are pads), for every rotary family.
func TestRewardModelEqualsReference(t *testing.T) {
	two := 2
	seqs := [][]int32{{3, 5, 9, 11, 4}, {3, 5, 9, 2, 2}, {2, 7, 2, 8}, {2, 2, 2}, {6}}
	for _, name := range []string{"llama GQA 4:2", "qwen3 q/k norms", "neox parallel, 25%", "qwen2 biases, tied"} {
		c := familyConfigs()[name]
		m := randomWeights(t, c, 7)
		rng := rand.New(rand.NewPCG(3, 4))
		score := make([]float64, c.Width)
		for i := range score {
			score[i] = rng.NormFloat64()
		}
		arch := map[Family]string{FamilyLlama: "LlamaForSequenceClassification", FamilyQwen2: "Qwen2ForSequenceClassification",
			FamilyQwen3: "Qwen3ForSequenceClassification", FamilyNeoX: "GPTNeoXForSequenceClassification"}[c.Family]
		w, ref := scoreHeadWeights(m, score)
		for _, pad := range []*int{nil, &two} {
			dir := writeRewardDir(t, m, score, arch, pad)
			backend, _ := Backend()
			rm, err := ImportReward(dir, backend, Float64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got, err := rm.Rewards(seqs)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range seqs {
				at := len(s) - 1 // the pooled position, by hand
				if pad != nil {
					at = map[int]int{0: 4, 1: 2, 2: 3, 3: 0, 4: 0}[i]
				}
				want := familyReferenceLogits(ref, w, s)[at][0]
				// GoMLX's float64 Erf (NeoX's exact GELU) has float32
				// accuracy under GOEXPERIMENT=simd, as in
				// TestFamiliesEqualReference.
				tol := 1e-9
				if c.Family == FamilyNeoX {
					tol = 2e-6
				}
				if math.Abs(got[i]-want) > tol*math.Max(1, math.Abs(want)) {
					t.Errorf("%s, pad %v, sequence %v: reward %.12g, want %.12g (position %d)", name, pad, s, got[i], want, at)
				}
			}
		}
	}
}

// What is not a one-label sequence-classification checkpoint is refused
// with the reason.
func TestImportRewardRefuses(t *testing.T) {
	c := familyConfigs()["llama GQA 4:2"]
	m := randomWeights(t, c, 7)
	score := make([]float64, c.Width)
	backend, _ := Backend()
	dir := writeRewardDir(t, m, score, "LlamaForCausalLM", nil)
	if _, err := ImportReward(dir, backend, Float64); err == nil || !strings.Contains(err.Error(), "ForSequenceClassification") {
		t.Errorf("a causal LM: %v", err)
	}
	dir = writeRewardDir(t, m, score, "LlamaForSequenceClassification", nil)
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	var cfg map[string]any
	json.Unmarshal(b, &cfg)
	cfg["id2label"] = map[string]string{"0": "bad", "1": "good"}
	b, _ = json.Marshal(cfg)
	os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
	if _, err := ImportReward(dir, backend, Float64); err == nil || !strings.Contains(err.Error(), "2 labels") {
		t.Errorf("two labels: %v", err)
	}
}

// A GPT-2 reward model (GPT2ForSequenceClassification: the decoder under
// "transformer.", written by ExportReward) equals GPT-2's plain-Go float64
// forward pass (referenceLogits, its head's row 0 replaced by score) at
// the pooled position.
func TestGPT2RewardModelEqualsReference(t *testing.T) {
	c := Config{Vocab: 37, Context: 16, Layers: 2, Heads: 4, Width: 16, NormEps: 1e-5, TiedHead: true, DType: Float64}
	m := randomWeights(t, c, 9)
	score := make([]float64, c.Width)
	for i := range score {
		score[i] = float64(float32(0.3 * float64(i%5-2)))
	}
	dir := t.TempDir()
	if err := ExportReward(m, score, 2, dir); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if !strings.Contains(string(b), "GPT2ForSequenceClassification") {
		t.Fatalf("config.json: %s", b)
	}
	backend, _ := Backend()
	rm, err := ImportReward(dir, backend, Float64)
	if err != nil {
		t.Fatal(err)
	}
	w, ref := scoreHeadWeights(m, score)
	seqs := [][]int32{{3, 5, 9, 11, 4}, {3, 5, 9, 2, 2}}
	got, err := rm.Rewards(seqs)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range seqs {
		at := []int{4, 2}[i]
		if want := referenceLogits(ref, w, s)[at][0]; math.Abs(got[i]-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("sequence %v: reward %.12g, want %.12g", s, got[i], want)
		}
	}
}
