package tasks

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func readJSONL(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestGenerateIsSeededAndConsistent(t *testing.T) {
	cfg := GenConfig{Seed: 7, SFTWords: 50, Pairs: 300, HeldoutPairs: 30, EvalPrompts: 20, Temperature: 0.1, AugPrompt: DefaultAugPrompt, AugSeparator: " "}
	a, b := t.TempDir(), t.TempDir()
	cfg.Out = a
	if err := Generate(cfg); err != nil {
		t.Fatal(err)
	}
	cfg.Out = b
	Generate(cfg)
	for _, f := range []string{"sft.jsonl", "prefs.jsonl", "heldout.jsonl", "eval_prompts.jsonl"} {
		x, _ := os.ReadFile(filepath.Join(a, f))
		y, _ := os.ReadFile(filepath.Join(b, f))
		if !bytes.Equal(x, y) || len(x) == 0 {
			t.Errorf("%s: not the same bytes for the same seed", f)
		}
	}
	sft, prefs, eval := readJSONL(t, filepath.Join(a, "sft.jsonl")), readJSONL(t, filepath.Join(a, "prefs.jsonl")), readJSONL(t, filepath.Join(a, "eval_prompts.jsonl"))
	heldout := readJSONL(t, filepath.Join(a, "heldout.jsonl"))
	if len(sft) != 100 || len(prefs) != 300 || len(eval) != 20 || len(heldout) != 30 {
		t.Fatalf("%d sft, %d pairs, %d eval prompts", len(sft), len(prefs), len(eval))
	}
	// Words never repeat across the three sets; gold scores are r*; labels
	// are noisy only where the gap is small.
	owner := map[string]string{}
	for name, set := range map[string][]map[string]any{"sft": sft, "prefs": prefs, "heldout": heldout, "eval": eval} {
		for _, r := range set {
			w, err := WordOf(r["prompt"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if o, ok := owner[w]; ok && o != name {
				t.Errorf("word %q is in both %s and %s", w, o, name)
			}
			owner[w] = name
		}
	}
	flippedBig := 0
	for _, p := range prefs {
		x := p["prompt"].(string)
		rc, _ := Reward(x, p["chosen"].(string))
		rr, _ := Reward(x, p["rejected"].(string))
		if rc != p["score_chosen"].(float64) || rr != p["score_rejected"].(float64) {
			t.Fatalf("gold scores %v are not r*", p)
		}
		if rr-rc > 0.5 {
			flippedBig++
		}
	}
	if flippedBig > 0 {
		t.Errorf("%d labels flipped across a gap over 0.5 at temperature 0.1", flippedBig)
	}
}

// With a sampler, pairs are the model's own samples.
func TestGenerateUsesSamples(t *testing.T) {
	out := t.TempDir()
	sample := func(prompts []string, n int, seed uint64) ([][]string, error) {
		res := make([][]string, len(prompts))
		for i, x := range prompts {
			w, _ := WordOf(x)
			res[i] = []string{Target(w), " " + w + "\n"}
		}
		return res, nil
	}
	if err := Generate(GenConfig{Out: out, Seed: 1, SFTWords: 1, Pairs: 5, Temperature: 0.01, AugPrompt: "p", AugSeparator: " ", Sample: sample}); err != nil {
		t.Fatal(err)
	}
	for _, p := range readJSONL(t, filepath.Join(out, "prefs.jsonl")) {
		w, _ := WordOf(p["prompt"].(string))
		if p["chosen"] != Target(w) && p["chosen"] != " "+w+"\n" {
			t.Errorf("pair not from the samples: %v", p)
		}
	}
}
