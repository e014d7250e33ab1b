package main

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/schemas"
)

// LoRA end to end on a Llama-layout Hugging Face directory: train an
// adapter with Sr-DPO, export it as a PEFT folder and merged, load it back,
// score and train with --adapter, evaluate it as a policy, resume.
func TestLoRATrainExportScoreEval(t *testing.T) {
	dir := t.TempDir()
	must := func(args ...string) (string, string) {
		t.Helper()
		code, stdout, stderr := run(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, stdout, stderr)
		}
		return stdout, stderr
	}
	ref := saveTinyLlamaHF(t)
	must("gen", "--out", dir, "--sft-words", "4", "--pairs", "48", "--eval-prompts", "6")
	must("score", "--model", ref, "--corpus", filepath.Join(dir, "prefs.jsonl"), "--out", filepath.Join(dir, "scored"))
	shards := filepath.Join(dir, "scored") + schemas.ManifestSuffix
	out := filepath.Join(dir, "lora")
	train := []string{"train", "--shards", shards, "--model", ref, "--out", out, "--loss", "sr-dpo",
		"--optimizer", "adam", "--lr", "1e-2", "--batch-size", "8", "--steps", "8", "--log-every", "4", "--eval-fraction", "0",
		"--lora-rank", "4", "--lora-alpha", "8", "--lora-dropout", "0.1", "--lora-targets", "q_proj,v_proj,down_proj"}
	must(append(train, "--export-hf", "--merge")...)

	backend, _ := model.Backend()
	base, err := model.LoadDir(ref, backend, model.Float32)
	if err != nil {
		t.Fatal(err)
	}
	ckpt, err := model.LoadDir(filepath.Join(out, "checkpoint"), backend, model.Float32)
	if err != nil {
		t.Fatal(err)
	}
	// The base weights are bit-identical after training; only the adapter moved.
	bw, _ := base.Weights()
	cw, _ := ckpt.Weights()
	for name, v := range bw {
		for i := range v {
			if math.Float64bits(v[i]) != math.Float64bits(cw[name][i]) {
				t.Fatalf("base weight %s[%d] changed in training: %v → %v", name, i, v[i], cw[name][i])
			}
		}
	}
	if l, ok := ckpt.LoRA(); !ok || l.Rank != 4 || len(ckpt.LoRATargets()) != 3 {
		t.Fatalf("checkpoint adapter %+v %v, targets %v", l, ok, ckpt.LoRATargets())
	}
	// The PEFT folder loads onto the base as the checkpoint's adapter.
	for _, f := range []string{model.PEFTConfigFile, model.PEFTWeightsFile} {
		if _, err := os.Stat(filepath.Join(out, "hf", f)); err != nil {
			t.Fatalf("--export-hf with LoRA: %v", err)
		}
	}
	if err := base.LoadPEFTAdapter(filepath.Join(out, "hf")); err != nil {
		t.Fatal(err)
	}
	if a, b := fingerprint(t, base), fingerprint(t, ckpt); a != b {
		t.Errorf("base + exported adapter %s, checkpoint %s", a, b)
	}
	// The merged model computes what the adapted one does.
	merged, err := model.LoadDir(filepath.Join(out, "hf-merged"), backend, model.Float32)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := merged.LoRA(); ok {
		t.Error("the merged model has an adapter")
	}
	pair := []model.Pair{{Prompt: tokenizer.Bytes("cat dog"), Response: tokenizer.Bytes(" bird fish")}}
	a, b := logProbs(t, ckpt, pair), logProbs(t, merged, pair)
	if math.Abs(a-b) > 1e-3*math.Abs(a) {
		t.Errorf("log-prob %v with the adapter, %v merged", a, b)
	}
	if plain := logProbs(t, mustLoad(t, ref), pair); math.Abs(a-plain) < 1e-4 {
		t.Errorf("the adapter changed nothing: %v against the base's %v", a, plain)
	}

	// Resuming a finished run says so; a checkpoint of another rank is refused.
	if _, stderr := must(append(train, "--resume")...); !strings.Contains(stderr, "resuming at step 8 of 8") {
		t.Errorf("resume: %s", stderr)
	}
	other := append(append([]string{}, train...), "--resume")
	other[len(train)-7] = "2" // --lora-rank 2
	if code, _, stderr := run(other...); code != 1 || !strings.Contains(stderr, "has LoRA") {
		t.Errorf("resume with rank 2: exit %d: %s", code, stderr)
	}

	// score --adapter makes shards of the adapted reference; train --adapter
	// continues the adapter on them, and refuses the base's shards.
	must("score", "--model", ref, "--adapter", filepath.Join(out, "hf"), "--corpus", filepath.Join(dir, "prefs.jsonl"), "--out", filepath.Join(dir, "scored-lora"))
	more := []string{"train", "--model", ref, "--adapter", filepath.Join(out, "hf"), "--optimizer", "adam", "--lr", "1e-2",
		"--batch-size", "8", "--steps", "2", "--eval-fraction", "0"}
	must(append(more, "--shards", filepath.Join(dir, "scored-lora")+schemas.ManifestSuffix, "--out", filepath.Join(dir, "more"))...)
	if code, _, stderr := run(append(more, "--shards", shards, "--out", filepath.Join(dir, "more2"))...); code != 1 || !strings.Contains(stderr, "with adapter") {
		t.Errorf("train --adapter on the base's shards: exit %d: %s", code, stderr)
	}

	// eval --adapter name=DIR evaluates the reference with the adapter.
	stdout, _ := must("eval", "--reference", ref, "--adapter", "lora="+filepath.Join(out, "hf"), "--policy", "ckpt="+filepath.Join(out, "checkpoint"),
		"--prompts", filepath.Join(dir, "eval_prompts.jsonl"), "--max-new", "6", "--samples", "2", "--out", filepath.Join(dir, "eval"))
	if !strings.Contains(stdout, "| lora |") || !strings.Contains(stdout, "| ckpt |") {
		t.Errorf("eval output:\n%s", stdout)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "eval", "eval-00000-of-00001.arrow"))
	rows, _, err := schemas.ReadRows[schemas.Eval](data, schemas.FormatArrow, schemas.Evals)
	if err != nil {
		t.Fatal(err)
	}
	// The adapter folder and the checkpoint are the same policy: the same samples, the same figures.
	byMetric := map[string]map[string]float64{}
	for _, r := range rows {
		if byMetric[r.Benchmark+"/"+r.Metric] == nil {
			byMetric[r.Benchmark+"/"+r.Metric] = map[string]float64{}
		}
		byMetric[r.Benchmark+"/"+r.Metric][r.Policy] = r.Value
	}
	compared := 0
	for k, v := range byMetric {
		l, okL := v["lora"]
		c, okC := v["ckpt"]
		if okL && okC && !strings.Contains(k, "win") {
			compared++
			if math.Abs(l-c) > 1e-6*(1+math.Abs(c)) {
				t.Errorf("%s: %v with --adapter, %v from the checkpoint", k, l, c)
			}
		}
	}
	if compared < 2 {
		t.Errorf("only %d figures to compare: %v", compared, byMetric)
	}
}

func mustLoad(t *testing.T, dir string) *model.Decoder {
	t.Helper()
	backend, _ := model.Backend()
	m, err := model.LoadDir(dir, backend, model.Float32)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func fingerprint(t *testing.T, m *model.Decoder) string {
	t.Helper()
	fp, err := m.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

func logProbs(t *testing.T, m *model.Decoder, pairs []model.Pair) float64 {
	t.Helper()
	s, err := m.NewScorer(1024)
	if err != nil {
		t.Fatal(err)
	}
	lp, err := s.LogProbs(pairs)
	if err != nil {
		t.Fatal(err)
	}
	return lp[0].Sum
}
