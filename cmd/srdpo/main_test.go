package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/schemas"
)

func run(args ...string) (code int, stdout, stderr string) {
	var o, e bytes.Buffer
	code = realMain(args, &o, &e)
	return code, o.String(), e.String()
}

func TestHelpOnEveryCommand(t *testing.T) {
	if code, out, _ := run("--help"); code != 0 || !strings.Contains(out, "Commands:") {
		t.Fatalf("srdpo --help: %d %q", code, out)
	}
	for _, c := range commands {
		code, out, errOut := run(c.name, "--help")
		if code != 0 || !strings.Contains(out, "srdpo "+c.name+":") {
			t.Errorf("srdpo %s --help: exit %d, stdout %q, stderr %q", c.name, code, out, errOut)
		}
	}
	_, out, _ := run("score", "--help")
	for _, f := range []string{"--corpus", "--out", "--format", "--model", "--aug-prompt", "--aug-sep",
		"--max-length", "--truncate-prompt", "--ingest-only", "--runner", "--endpoint", "--environment_type"} {
		if !strings.Contains(out, f+" ") && !strings.Contains(out, f+"\n") {
			t.Errorf("score --help does not list %s", f)
		}
	}
}

func TestScoreWithAnEmptyModelDirectory(t *testing.T) {
	code, _, errOut := run("score", "--corpus", "x.jsonl", "--out", t.TempDir()+"/o", "--model", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "holds neither an srdpo checkpoint") {
		t.Errorf("score with an empty model directory: exit %d, %q", code, errOut)
	}
}

func TestBadUsageExits2WithAReason(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"nosuch"}, `unknown command "nosuch"`},
		{[]string{"score", "--ingest-only", "--out", dir + "/o"}, "--corpus is required"},
		{[]string{"score", "--ingest-only", "--corpus", "a.jsonl"}, "--out is required"},
		{[]string{"score", "--ingest-only", "--corpus", "a.jsonl", "--out", dir + "/o", "--format", "csv"}, `--format "csv"`},
		{[]string{"score", "--ingest-only", "--corpus", "a.jsonl", "--out", dir + "/o", "--corpus-format", "xml"}, "unknown corpus format"},
		{[]string{"score", "--ingest-only", "--corpus", "a.jsonl", "--out", dir + "/o", "--model", "m"}, "only apply to scoring"},
		{[]string{"score", "--ingest-only", "--corpus", "s3x://b/a.jsonl", "--out", dir + "/o"}, `scheme "s3x" not registered`},
		{[]string{"score", "--nosuchflag"}, "flag provided but not defined"},
		{[]string{"score", "--corpus", "a.jsonl", "--out", dir + "/o"}, "--model is required"},
		{[]string{"score", "--corpus", "a.jsonl", "--out", dir + "/o", "--model", dir, "--max-length", "10", "--max-prompt-length", "20"}, "must exceed max prompt length"},
		{[]string{"score", "stray"}, `unexpected argument "stray"`},
		{[]string{"score", "--corpus", "a.jsonl", "--out", dir + "/o", "--model", dir, "--tokenization", "hf"}, `--tokenization "hf": want srdpo or trl`},
		{[]string{"score", "--corpus", "a.jsonl", "--out", dir + "/o", "--model", dir, "--aug-position", "middle"}, `--aug-position "middle"`},
		{[]string{"score", "--corpus", "a.jsonl", "--out", dir + "/o", "--model", dir, "--tokenization", "trl", "--response-eos"}, "--response-eos does not apply with --tokenization trl"},
		{[]string{"score", "--corpus", "a.jsonl", "--out", dir + "/o", "--model", dir, "--ref-from-corpus"}, "--ref-from-corpus needs --tokenization trl"},
		{[]string{"score", "--corpus", "a.jsonl", "--out", dir + "/o", "--model", dir, "--tokenization", "trl", "--ref-from-corpus", "--reuse", dir + "/old"}, "--ref-from-corpus with --reuse"},
		{[]string{"score", "--corpus", "a.jsonl", "--out", dir + "/o", "--chat-template-kwargs", "[1]"}, "--chat-template-kwargs: want a JSON object"},
		{[]string{"score", "--corpus", "a.jsonl", "--out", dir + "/o", "--chat-template", dir + "/none.jinja"}, "chat template"},
		{[]string{"render"}, "give --model DIR, or --tokenizer DIR"},
		{[]string{"export", "--out", dir + "/hf"}, "--shards is required"},
		{[]string{"export", "--shards", dir + "/s", "--out", dir + "/hf", "--format", "csv"}, `--format "csv": want hf-dataset`},
		{[]string{"export", "--shards", dir + "/s", "--out", dir + "/hf", "--test-fraction", "1"}, "--test-fraction 1"},
		{[]string{"score", "--ingest-only", "--corpus", "a.jsonl", "--out", dir + "/o", "--hf-dataset", dir + "/hf"}, "--hf-dataset exports scored pairs"},
		{[]string{"render", "--tokenizer", "byte", "--tokenization", "trl", "--response-eos"}, "--response-eos does not apply"},
	} {
		code, _, errOut := run(c.args...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", c.args, code, errOut, c.want)
		}
	}
}

// srdpo score --ingest-only runs the ingestion pipeline on prism and writes
// shards the Arrow reader reads back, with dead letters beside them.
func TestScoreIngestOnly(t *testing.T) {
	out := filepath.Join(t.TempDir(), "prefs")
	code, stdout, stderr := run("score", "--ingest-only", "--shards", "2",
		"--corpus", "../../stages/testdata/corpus/trl_standard.jsonl,../../stages/testdata/corpus/malformed.jsonl", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"records_read                 26", "records_good                 7", "records_dead                 19"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	if !strings.Contains(stderr, "19 records were unusable") {
		t.Errorf("no dead-letter warning: %s", stderr)
	}
	var n int
	for i := 0; i < 2; i++ {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(out), "prefs-0000"+string(rune('0'+i))+"-of-00002.arrow"))
		if err != nil {
			t.Fatal(err)
		}
		rows, md, err := schemas.ReadFile(data, schemas.FormatArrow, schemas.Preferences)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(md.Get(schemas.KeyChatTemplate), `"name":"hh"`) {
			t.Errorf("metadata %v", md)
		}
		n += len(rows)
	}
	if n != 7 {
		t.Errorf("%d rows in shards, want 7", n)
	}
	dead, err := os.ReadFile(out + ".deadletters-00000-of-00001.jsonl")
	if err != nil || strings.Count(string(dead), "\n") != 19 {
		t.Errorf("dead letters: %v\n%s", err, dead)
	}
}

// srdpo score runs ingestion and reference scoring on prism and writes
// scored shards with the model's provenance.
func TestScore(t *testing.T) {
	ref := saveTinyModel(t)
	out := filepath.Join(t.TempDir(), "scored")
	code, stdout, stderr := run("score", "--model", ref, "--shards", "2", "--max-prompt-length", "128",
		"--corpus", "../../stages/testdata/corpus/trl_standard.jsonl,../../stages/testdata/corpus/hh_rlhf.jsonl", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"scored into", "pairs_scored                 5", "tokens_per_sec"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	n := 0
	for i := 0; i < 2; i++ {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(out), "scored-0000"+string(rune('0'+i))+"-of-00002.arrow"))
		if err != nil {
			t.Fatal(err)
		}
		rows, md, err := schemas.ReadFile(data, schemas.FormatArrow, schemas.ScoredRows)
		if err != nil {
			t.Fatal(err)
		}
		if md.Get(schemas.KeyModelFingerprint) == "" || md.Get(schemas.KeyAugPrompt) != schemas.DefaultAugPrompt || md.Get(schemas.KeyMaxPromptLength) != "128" {
			t.Errorf("metadata %v", md)
		}
		n += len(rows)
	}
	if n != 5 {
		t.Errorf("%d scored rows, want 5", n)
	}
}

// saveTinyModel writes a small byte-level reference model.
func saveTinyModel(t *testing.T) string { return saveTinyModelSeed(t, 1) }

// srdpo score then srdpo train: the policy learns a separable toy set.
func TestScoreThenTrain(t *testing.T) {
	dir := t.TempDir()
	var corpus strings.Builder
	for i := 0; i < 24; i++ {
		fmt.Fprintf(&corpus, `{"id": "t%02d", "prompt": "Q%d: say yes.\nA:", "chosen": " yes", "rejected": " no%d"}`+"\n", i, i, i%3)
	}
	os.WriteFile(filepath.Join(dir, "toy.jsonl"), []byte(corpus.String()), 0o644)
	ref := saveTinyModel(t)
	scored := filepath.Join(dir, "scored")
	if code, _, stderr := run("score", "--model", ref, "--corpus", filepath.Join(dir, "toy.jsonl"), "--out", scored, "--max-prompt-length", "256"); code != 0 {
		t.Fatalf("score: %s", stderr)
	}
	out := filepath.Join(dir, "train")
	code, stdout, stderr := run("train", "--shards", scored+schemas.ManifestSuffix, "--model", ref, "--out", out,
		"--optimizer", "adam", "--lr", "1e-3", "--batch-size", "8", "--steps", "30", "--log-every", "5", "--eval-fraction", "0")
	if code != 0 || !strings.Contains(stdout, "trained 30 steps") || !strings.Contains(stderr, "step 30/30") {
		t.Fatalf("train: exit %d\n%s\n%s", code, stdout, stderr)
	}
	data, err := os.ReadFile(filepath.Join(out, "metrics.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := schemas.ReadFile(data, schemas.FormatArrow, schemas.Metrics)
	if err != nil || len(rows) != 6 {
		t.Fatalf("metrics: %d rows, %v", len(rows), err)
	}
	if last := rows[5].(schemas.Metric); last.RewardsAccuracies < 0.9 {
		t.Errorf("last metrics %+v", last)
	}
	backend, _ := model.Backend()
	if _, err := model.Load(filepath.Join(out, "checkpoint"), backend); err != nil {
		t.Errorf("checkpoint does not load: %v", err)
	}
	// Training from another model than the shards' reference is refused.
	other := saveTinyModelSeed(t, 2)
	code, _, stderr = run("train", "--shards", scored+schemas.ManifestSuffix, "--model", other, "--out", filepath.Join(dir, "x"))
	if code != 1 || !strings.Contains(stderr, "the shards were scored with model") {
		t.Errorf("mismatch: exit %d: %s", code, stderr)
	}
}

// Without length flags, scoring follows the model's context (128 here, not
// the paper's 512) and records the lengths it used; a length above the
// context stays an error.
func TestScoreLengthsFollowTheModel(t *testing.T) {
	backend, _ := model.Backend()
	m, _ := model.New(model.Config{Vocab: 257, Context: 128, Layers: 1, Heads: 2, Width: 16, NormEps: 1e-5, TiedHead: true, DType: model.Float32}, 1, backend)
	ref := filepath.Join(t.TempDir(), "m")
	if err := m.Save(ref); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "s")
	if code, _, stderr := run("score", "--model", ref, "--corpus", "../../stages/testdata/corpus/trl_standard.jsonl", "--out", out); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	b, _ := os.ReadFile(out + schemas.ManifestSuffix)
	mf, err := schemas.ParseManifest(b)
	if err != nil || mf.Metadata.Get(schemas.KeyMaxLength) != "128" || mf.Metadata.Get(schemas.KeyMaxPromptLength) != "64" {
		t.Errorf("lengths recorded: %q / %q (%v)", mf.Metadata.Get(schemas.KeyMaxLength), mf.Metadata.Get(schemas.KeyMaxPromptLength), err)
	}
	code, _, stderr := run("score", "--model", ref, "--corpus", "../../stages/testdata/corpus/trl_standard.jsonl", "--out", out+"2", "--max-length", "600")
	if code != 1 || !strings.Contains(stderr, "longer than the model's context of 128") {
		t.Errorf("--max-length 600: exit %d: %s", code, stderr)
	}
}

// saveTinyLlamaHF writes a tiny llama-layout model (grouped-query
// attention, untied head) as a Hugging Face directory: config.json and
// model.safetensors, as a user downloads one.
func saveTinyLlamaHF(t *testing.T) string {
	t.Helper()
	backend, _ := model.Backend()
	m, err := model.New(model.Config{Family: model.FamilyLlama, Vocab: 257, Context: 512, Layers: 1, Heads: 4, KVHeads: 2, Width: 32,
		Inner: 48, NormEps: 1e-6, RopeTheta: 10000, DType: model.Float32}, 1, backend)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "llama")
	if err := m.ExportHF(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func saveTinyModelSeed(t *testing.T, seed uint64) string {
	t.Helper()
	backend, _ := model.Backend()
	m, _ := model.New(model.Config{Vocab: 257, Context: 512, Layers: 1, Heads: 2, Width: 32, NormEps: 1e-5, TiedHead: true, DType: "float32"}, seed, backend)
	dir := filepath.Join(t.TempDir(), "m")
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// srdpo gen writes the task's corpora; the preference corpus goes straight
// into srdpo score, gold scores and all.
func TestGenThenIngest(t *testing.T) {
	dir := t.TempDir()
	code, stdout, stderr := run("gen", "--out", dir, "--seed", "3", "--sft-words", "20", "--pairs", "40", "--eval-prompts", "5")
	if code != 0 || !strings.Contains(stdout, "prefs.jsonl (40 pairs)") {
		t.Fatalf("gen: exit %d %s %s", code, stdout, stderr)
	}
	out := filepath.Join(dir, "prefs")
	code, stdout, stderr = run("score", "--ingest-only", "--corpus", filepath.Join(dir, "prefs.jsonl"), "--out", out)
	if code != 0 || !strings.Contains(stdout, "records_good                 40") {
		t.Fatalf("ingest: exit %d %s %s", code, stdout, stderr)
	}
	data, _ := os.ReadFile(out + "-00000-of-00004.arrow")
	rows, _, err := schemas.ReadFile(data, schemas.FormatArrow, schemas.Preferences)
	if err != nil || len(rows) == 0 || rows[0].(schemas.Preference).ScoreChosen == nil {
		t.Fatalf("gold scores did not survive ingestion: %v %v", rows, err)
	}
	// Sampling from a model works too (an untrained one samples noise).
	code, _, stderr = run("gen", "--out", filepath.Join(dir, "m"), "--pairs", "4", "--sft-words", "2", "--eval-prompts", "0", "--model", saveTinyModel(t))
	if code != 0 {
		t.Fatalf("gen --model: %s", stderr)
	}
}

// The whole chain on the known-reward task, tiny: gen, score, train DPO and
// Sr-DPO, eval with the report.
func TestGenScoreTrainEval(t *testing.T) {
	t.Run("gpt2 checkpoint", func(t *testing.T) { genScoreTrainEval(t, saveTinyModel(t)) })
	t.Run("llama HF directory", func(t *testing.T) { genScoreTrainEval(t, saveTinyLlamaHF(t)) })
}

func genScoreTrainEval(t *testing.T, ref string) {
	dir := t.TempDir()
	must := func(args ...string) string {
		t.Helper()
		code, stdout, stderr := run(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, stdout, stderr)
		}
		return stdout
	}
	must("gen", "--out", dir, "--sft-words", "4", "--pairs", "48", "--eval-prompts", "6")
	must("score", "--model", ref, "--aug-prompt", "Answer perfectly.", "--corpus", filepath.Join(dir, "prefs.jsonl"), "--out", filepath.Join(dir, "scored"))
	shards := filepath.Join(dir, "scored") + schemas.ManifestSuffix
	for _, loss := range []string{"dpo", "sr-dpo"} {
		must("train", "--shards", shards, "--model", ref, "--out", filepath.Join(dir, loss), "--loss", loss,
			"--optimizer", "adam", "--lr", "1e-3", "--batch-size", "8", "--steps", "6", "--log-every", "2", "--eval-fraction", "0", "--export-hf")
	}
	// The trained policy also went out as a Hugging Face directory of its family.
	backend, _ := model.Backend()
	exported, err := model.LoadDir(filepath.Join(dir, "sr-dpo", "hf"), backend, model.Float32)
	ckpt, err2 := model.LoadDir(filepath.Join(dir, "sr-dpo", "checkpoint"), backend, model.Float32)
	var fa, fb string
	if err == nil && err2 == nil {
		fa, err = exported.Fingerprint()
		fb, err2 = ckpt.Fingerprint()
	}
	if err != nil || err2 != nil || fa != fb {
		t.Errorf("--export-hf: %v, %v: the exported policy differs from the checkpoint", err, err2)
	}
	out := must("eval", "--reference", ref, "--policy", "dpo="+filepath.Join(dir, "dpo", "checkpoint"),
		"--policy", "sr-dpo="+filepath.Join(dir, "sr-dpo", "checkpoint"), "--prompts", filepath.Join(dir, "eval_prompts.jsonl"),
		"--shards", shards, "--mc", "../../stages/testdata/mc/animals.jsonl", "--max-new", "8", "--out", filepath.Join(dir, "eval"))
	for _, want := range []string{"| reference |", "| dpo |", "| sr-dpo |", "report.md"} {
		if !strings.Contains(out, want) {
			t.Errorf("eval output lacks %q:\n%s", want, out)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, "eval", "report.md"))
	if err != nil || !strings.Contains(string(md), "![loss](loss.png)") || !strings.Contains(string(md), "| animals | acc |") {
		t.Errorf("report: %v\n%s", err, md)
	}
	data, _ := os.ReadFile(filepath.Join(dir, "eval", "eval-00000-of-00001.arrow"))
	if rows, _, err := schemas.ReadFile(data, schemas.FormatArrow, schemas.Evals); err != nil || len(rows) < 20 {
		t.Errorf("eval rows: %d, %v", len(rows), err)
	}
}

// srdpo run, tiny: every stage end to end, two seeds, and the report.
func TestRunTiny(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := run("run", "--out", out, "--seeds", "2", "--sft-words", "60", "--sft-steps", "10", "--pairs", "32",
		"--heldout-pairs", "12", "--eval-prompts", "8", "--train-steps", "4", "--batch-size", "8", "--curve-points", "2")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	// Curves: each method kept at step 2 of 4 and evaluated there; the
	// matched-KL table pairs the two seeds.
	for _, m := range []string{"dpo", "ipo", "sr-dpo", "sr-ipo"} {
		if _, err := os.Stat(filepath.Join(out, "seed-2", m, "steps", "000002", "config.json")); err != nil {
			t.Errorf("%s kept at step 2: %v", m, err)
		}
	}
	if !strings.Contains(stdout, "| KL(π‖π_ref) |") || !strings.Contains(stdout, "sr-dpo − dpo") || !strings.Contains(stdout, "over 2 seeds") {
		t.Errorf("no matched-KL table with paired intervals:\n%s", stdout)
	}
	for _, want := range []string{"| reference |", "| dpo |", "| ipo |", "| sr-dpo |", "| sr-ipo |", "2 seed(s)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	md, err := os.ReadFile(filepath.Join(out, "report.md"))
	if err != nil || !strings.Contains(string(md), "2 seed(s)") || !strings.Contains(string(md), "[") {
		t.Errorf("report: %v\n%s", err, md)
	}
	for _, f := range []string{"seed-1/reference/config.json", "seed-2/sr-dpo/checkpoint/metrics.arrow", "seed-2/eval/eval-00000-of-00001.arrow", "win_rates.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("missing %s", f)
		}
	}
}

// srdpo eval on benchmark files alone (no known-reward prompts): the
// Table-3 layout on stdout and in the report, N the documents scored after
// --limit, and clear usage errors.
func TestEvalBenchmarks(t *testing.T) {
	ref, dpo := saveTinyModel(t), saveTinyModelSeed(t, 2)
	out := filepath.Join(t.TempDir(), "eval")
	data := "../../benchmarks/testdata/"
	code, stdout, stderr := run("eval", "--reference", ref, "--policy", "dpo="+dpo,
		"--benchmark", "arc_challenge="+data+"arc_challenge.jsonl", "--benchmark", "gsm8k="+data+"gsm8k_test.jsonl",
		"--fewshot-docs", "gsm8k="+data+"gsm8k_train.jsonl", "--num-fewshot", "gsm8k=1", "--max-gen-tokens", "8",
		"--limit", "2", "--docs-per-element", "1", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"| policy | ARC | GSM8K | Average |", "| reference | ", "| dpo | "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	b, _ := os.ReadFile(filepath.Join(out, "eval-00000-of-00001.arrow"))
	rows, _, err := schemas.ReadRows[schemas.Eval](b, schemas.FormatArrow, schemas.Evals)
	if err != nil || len(rows) != 8 { // 2 policies × (acc, acc_norm, strict, flexible)
		t.Fatalf("%d rows (%v)", len(rows), err)
	}
	for _, r := range rows {
		if r.N != 2 {
			t.Errorf("%s %s %s over %d documents; --limit 2", r.Policy, r.Benchmark, r.Metric, r.N)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--num-fewshot", "mmlu=1"}, "no --benchmark mmlu=PATH (or --mc mmlu.jsonl) before it"},
		{[]string{"--benchmark", "arc=x.jsonl"}, `unknown benchmark "arc"`},
		{[]string{"--benchmark", "gsm8k=" + data + "gsm8k_test.jsonl"}, "5-shot needs the train split's files"},
	} {
		args := append([]string{"eval", "--reference", ref, "--out", filepath.Join(t.TempDir(), "x")}, c.args...)
		if code, _, stderr := run(args...); code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d: %s", c.args, code, stderr)
		}
	}
}

// srdpo score --shards auto sizes the set from the corpus: about 2.2 MB of
// records at --shard-mb 1 make 3 shards, and the job says so.
func TestScoreShardsAuto(t *testing.T) {
	dir := t.TempDir()
	var corpus strings.Builder
	for i := 0; corpus.Len() < 2_200_000; i++ {
		fmt.Fprintf(&corpus, `{"id": "p%06d", "prompt": "%s", "chosen": " yes", "rejected": " no"}`+"\n", i, strings.Repeat("word ", 40))
	}
	in := filepath.Join(dir, "prefs.jsonl")
	os.WriteFile(in, []byte(corpus.String()), 0o644)
	out := filepath.Join(dir, "out", "prefs")
	code, _, stderr := run("score", "--ingest-only", "--corpus", in, "--out", out, "--shards", "auto", "--shard-mb", "1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "--shards auto: 3 shard(s) for 2.2 MB of corpus") {
		t.Errorf("stderr does not say the shard count: %s", stderr)
	}
	m, err := os.ReadFile(out + ".manifest.json")
	if err != nil || strings.Count(string(m), "-of-00003.arrow") != 3 {
		t.Errorf("manifest %s (%v): want 3 shards", m, err)
	}
}
