package pipelines

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer/tokenizertest"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
)

// A Hugging Face model directory as users download one — a llama-layout
// config.json + model.safetensors with Mistral's tokenizer.json and
// tokenizer_config.json (BOS added) — scores a corpus end to end: the
// token ids in the shards are HF's (derived from HF's tokenizers library,
// see model/tokenizer/testdata/reference.js), BOS starts each prompt, EOS
// ends each response with --response-eos, and the sums are the model's own
// computation on those ids. Then it trains with Sr-DPO and the policy goes
// back out as a Hugging Face directory that loads as the same model, with
// the same tokenizer.
func TestScoreWithTokenizerJSON(t *testing.T) {
	backend, _ := model.Backend()
	m, err := model.New(model.Config{Family: model.FamilyLlama, Vocab: 32000, Context: 64, Layers: 1, Heads: 4, KVHeads: 2, Width: 16,
		Inner: 24, NormEps: 1e-6, RopeTheta: 10000, DType: model.Float32}, 7, backend)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ref")
	if err := m.ExportHF(dir); err != nil {
		t.Fatal(err)
	}
	m, err = model.LoadDir(dir, backend, model.Float32) // the model as loaded from the directory
	if err != nil {
		t.Fatal(err)
	}
	tokDir := tokenizertest.Dir(t, "mistral")
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		b, _ := os.ReadFile(filepath.Join(tokDir, f))
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}

	in := filepath.Join(t.TempDir(), "prefs.jsonl")
	os.WriteFile(in, []byte(`{"id": "a", "prompt": "Hello world", "chosen": " It is 12 o'clock.", "rejected": " no"}
{"id": "b", "prompt": "Translate: 猫", "chosen": " un chat 🐱", "rejected": " a dog"}
`), 0o644)
	spec := stages.ReferenceSpec{ModelDir: dir, Tokenizer: "auto", AugPrompt: "Answer well.", AugSeparator: " ", ResponseEOS: true,
		Truncation: model.Truncation{MaxPromptLength: 24, MaxLength: 48, Prompt: model.KeepEnd, Response: model.KeepStart}}
	out := filepath.Join(t.TempDir(), "scored")
	scoreFiles(t, ScoreConfig{Reference: spec, BatchPairs: 64}, out, 1, in)
	rows := readAll[schemas.Scored](t, out, schemas.ScoredRows)
	// HF's ids with add_special_tokens=True for the prompts (BOS = 1), and
	// =False for the responses, then EOS = 2.
	want := map[string][4][]int32{
		"a": {{1, 22557, 1526}, {1, 26307, 1162, 28723, 22557, 1526},
			{28705, 661, 349, 28705, 28740, 28750, 289, 28742, 10487, 28723, 2}, {28705, 708, 2}},
		"b": {{1, 4335, 10020, 28747, 28705, 31664}, {1, 26307, 1162, 28723, 4335, 10020, 28747, 28705, 31664},
			{28705, 521, 10706, 28705, 243, 162, 147, 180, 2}, {28705, 264, 3914, 2}},
	}
	if len(rows) != 2 {
		t.Fatalf("%d rows", len(rows))
	}
	scorer, _ := m.NewSharedScorer(stages.ScoreBudgetTokens)
	for _, r := range rows {
		w := want[r.ID]
		got := [4][]int32{r.PromptIDs, r.AugPromptIDs, r.ChosenIDs, r.RejectedIDs}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("row %s: ids %v, want %v", r.ID, got, w)
		}
		lp, err := scorer.PairLogps([]model.Preference{{Prompt: w[0], AugPrompt: w[1], Chosen: w[2], Rejected: w[3]}})
		if err != nil {
			t.Fatal(err)
		}
		if r.RefLogpChosen != lp[0].Chosen || r.RefLogpRejectedAug != lp[0].RejectedAug {
			t.Errorf("row %s: sums %v %v, want %v %v", r.ID, r.RefLogpChosen, r.RefLogpRejectedAug, lp[0].Chosen, lp[0].RejectedAug)
		}
	}

	tc := stages.DefaultTrainConfig()
	tc.Scored, tc.Model, tc.Out = out+schemas.ManifestSuffix, dir, t.TempDir()
	tc.BatchSize, tc.Steps, tc.EvalFraction, tc.ExportHF = 2, 3, 0, true
	tc.Optim.LR = 1e-2
	res, err := stages.Train(context.Background(), tc, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	exported := filepath.Join(tc.Out, stages.HFExportDir)
	back, err := model.LoadDir(exported, backend, model.Float32)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := res.Policy.Weights()
	b, _ := back.Weights()
	if !reflect.DeepEqual(a, b) || back.Config != res.Policy.Config {
		t.Error("the exported policy is not the trained one")
	}
	if a0, _ := m.Weights(); reflect.DeepEqual(a0, a) {
		t.Error("training left the weights as they were")
	}
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		x, _ := os.ReadFile(filepath.Join(dir, f))
		y, err := os.ReadFile(filepath.Join(exported, f))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s was not copied beside the exported weights", f)
		}
	}
}
