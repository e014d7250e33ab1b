package stages

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/srdpo/srdpo/benchmarks"
	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/optim"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/runners/gcstest"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages/shardio"
)

const benchData = "../benchmarks/testdata/"

// benchSpecs are the fixtures of every benchmark, in their datasets'
// schemas; GSM8K and MMLU 1-shot from their train and dev fixtures.
func benchSpecs() []BenchmarkSpec {
	return []BenchmarkSpec{
		{Name: "arc_challenge", Path: benchData + "arc_challenge.jsonl", Shots: -1},
		{Name: "hellaswag", Path: benchData + "hellaswag.jsonl", Shots: -1},
		{Name: "mmlu", Path: benchData + "mmlu_test.jsonl", Fewshot: benchData + "mmlu_dev.jsonl", Shots: 1},
		{Name: "truthfulqa_mc1", Path: benchData + "truthfulqa.jsonl", Shots: -1},
		{Name: "truthfulqa_mc2", Path: benchData + "truthfulqa.jsonl", Shots: -1},
		{Name: "winogrande", Path: benchData + "winogrande.jsonl", Shots: -1},
		{Name: "gsm8k", Path: benchData + "gsm8k_test.jsonl", Fewshot: benchData + "gsm8k_train.jsonl", Shots: 1},
	}
}

// taughtModel is a tiny byte-level model trained on every benchmark
// document's gold answer (the pair the evaluation scores for the gold
// choice; for GSM8K the reference answer then EOS after the prompt the
// evaluation generates from), so that it answers every fixture right.
func taughtModel(t *testing.T, spec EvalSpec) string {
	t.Helper()
	ctx := context.Background()
	backend, _ := model.Backend()
	m, err := model.New(model.Config{Vocab: 257, Context: 768, Layers: 2, Heads: 2, Width: 32, NormEps: 1e-5, TiedHead: true, DType: model.Float32}, 3, backend)
	if err != nil {
		t.Fatal(err)
	}
	s := benchScorer{m: m, encode: tokenizer.Byte{}.Encode, decode: tokenizer.Byte{}.Decode, eos: tokenizer.ByteEOS, maxGen: spec.MaxGenTokens}
	var pairs []model.Pair
	for _, bs := range spec.Benchmarks {
		b, err := loadBenchmark(ctx, bs, spec.Limit, spec.LimitSeed)
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range b.Docs {
			if b.Task.Kind == benchmarks.GenerateUntil {
				ids := tokenizer.Bytes(b.Task.Context(d, s.shots(b, i)))
				ids = ids[max(0, len(ids)-(m.Config.Context-spec.MaxGenTokens)):]
				pairs = append(pairs, model.Pair{Prompt: ids, Response: append(tokenizer.Bytes(" "+d.Target), tokenizer.ByteEOS)})
				continue
			}
			p, err := s.pair(b.Task.Requests(d, s.shots(b, i))[d.Gold])
			if err != nil {
				t.Fatal(err)
			}
			pairs = append(pairs, p)
		}
	}
	if err := m.SFT(pairs, model.SFTConfig{Optim: optim.Config{Name: "adam", LR: 3e-3, MaxGradNorm: 1}, BatchSize: 8, Steps: 100, Seed: 1}, nil); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "taught")
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func evalRows(t *testing.T, spec EvalSpec, policies []PolicyRef) map[[3]string]schemas.Eval {
	t.Helper()
	shards, err := BenchmarkElements(context.Background(), spec, policies)
	if err != nil {
		t.Fatal(err)
	}
	p, s := beam.NewPipelineWithRoot()
	rows := EvaluateBenchmarks(s, spec, beam.CreateList(s, shards))
	out := filepath.Join(t.TempDir(), "eval")
	shardio.WriteShards(s, out, schemas.Evals, schemas.NewMetadata(), rows, shardio.WithShards(1))
	ptest.RunAndValidate(t, p)
	data, err := os.ReadFile(shardio.ShardName(out, 0, 1, schemas.FormatArrow))
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := schemas.ReadRows[schemas.Eval](data, schemas.FormatArrow, schemas.Evals)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[[3]string]schemas.Eval{}
	for _, r := range got {
		byKey[[3]string{r.Policy, r.Benchmark, r.Metric}] = r
	}
	return byKey
}

// Every benchmark through the Beam stage, one document per element: the
// model taught the answers gets every multiple-choice fixture right and
// GSM8K's exact match on both filters; the untaught model's figures equal
// the metrics computed here from its own loglikelihoods.
func TestEvaluateBenchmarks(t *testing.T) {
	spec := EvalSpec{Tokenizer: "byte", Benchmarks: benchSpecs(), DocsPerElement: 1, MaxGenTokens: 48, Seed: 1}
	taught := taughtModel(t, spec)
	backend, _ := model.Backend()
	raw, _ := model.New(model.Config{Vocab: 257, Context: 768, Layers: 1, Heads: 2, Width: 16, NormEps: 1e-5, TiedHead: true, DType: model.Float32}, 9, backend)
	untaught := filepath.Join(t.TempDir(), "raw")
	if err := raw.Save(untaught); err != nil {
		t.Fatal(err)
	}
	rows := evalRows(t, spec, []PolicyRef{{Name: "taught", Dir: taught}, {Name: "raw", Dir: untaught}})

	for _, want := range []struct {
		bench, metric string
		n             int64
	}{
		{"arc_challenge", "acc", 3}, {"arc_challenge", "acc_norm", 3}, {"hellaswag", "acc", 2}, {"hellaswag", "acc_norm", 2},
		{"mmlu", "acc", 3}, {"mmlu_abstract_algebra", "acc", 2}, {"mmlu_high_school_geography", "acc", 1},
		{"truthfulqa_mc1", "acc", 2}, {"winogrande", "acc", 2},
		{"gsm8k", "exact_match,strict-match", 2}, {"gsm8k", "exact_match,flexible-extract", 2},
	} {
		r, ok := rows[[3]string{"taught", want.bench, want.metric}]
		if !ok || r.Value != 1 || r.N != want.n || r.Stderr != 0 {
			t.Errorf("taught %s %s: %+v (found %v); want 1 over %d items, stderr 0", want.bench, want.metric, r, ok, want.n)
		}
	}
	if r := rows[[3]string{"taught", "truthfulqa_mc2", "acc"}]; !(r.Value > 0.5 && r.Value <= 1) {
		t.Errorf("taught mc2 %v: want most of the mass on the true answers", r.Value)
	}

	// The untaught model, by hand: loglikelihoods from the scorer, then the
	// metric definitions, for ARC (acc, acc_norm), TruthfulQA mc2 and
	// MMLU's pooled standard error.
	ctx := context.Background()
	s := benchScorer{m: raw, encode: tokenizer.Byte{}.Encode}
	sc, _ := raw.NewScorer(4096)
	lls := func(b *loadedBenchmark, i int) []float64 {
		var pairs []model.Pair
		for _, r := range b.Task.Requests(b.Docs[i], s.shots(b, i)) {
			p, _ := s.pair(r)
			pairs = append(pairs, p)
		}
		lp, err := sc.LogProbs(pairs)
		if err != nil {
			t.Fatal(err)
		}
		var out []float64
		for _, l := range lp {
			out = append(out, l.Sum)
		}
		return out
	}
	arc, _ := loadBenchmark(ctx, spec.Benchmarks[0], 0, 0)
	var acc, accNorm float64
	for i, d := range arc.Docs {
		ll := lls(arc, i)
		best, bestNorm := 0, 0
		for c := range ll {
			if ll[c] > ll[best] {
				best = c
			}
			if ll[c]/float64(len([]rune(d.Choices[c]))) > ll[bestNorm]/float64(len([]rune(d.Choices[bestNorm]))) {
				bestNorm = c
			}
		}
		if best == d.Gold {
			acc++
		}
		if bestNorm == d.Gold {
			accNorm++
		}
	}
	if r := rows[[3]string{"raw", "arc_challenge", "acc"}]; r.Value != acc/3 {
		t.Errorf("raw arc acc %v, by hand %v", r.Value, acc/3)
	}
	if r := rows[[3]string{"raw", "arc_challenge", "acc_norm"}]; r.Value != accNorm/3 {
		t.Errorf("raw arc acc_norm %v, by hand %v", r.Value, accNorm/3)
	}
	tqa, _ := loadBenchmark(ctx, spec.Benchmarks[4], 0, 0)
	var mc2 float64
	for i, d := range tqa.Docs {
		ll := lls(tqa, i)
		var all, truth float64
		for c, l := range ll {
			all += math.Exp(l)
			if d.Labels[c] == 1 {
				truth += math.Exp(l)
			}
		}
		mc2 += truth / all / 2
	}
	if r := rows[[3]string{"raw", "truthfulqa_mc2", "acc"}]; math.Abs(r.Value-mc2) > 1e-12 {
		t.Errorf("raw mc2 %v, by hand %v", r.Value, mc2)
	}
}

// ARC as downloaded from the Hub — a folder with test and train Parquet
// shards — on gs:// (a fake GCS): the test split's records are the
// documents, the same as from the JSONL fixture, and the train split's
// give the few-shot examples; --limit keeps the first documents.
func TestBenchmarkParquetFolderOnGCS(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String},
		{Name: "question", Type: arrow.BinaryTypes.String},
		{Name: "choices", Type: arrow.StructOf(
			arrow.Field{Name: "text", Type: arrow.ListOf(arrow.BinaryTypes.String)},
			arrow.Field{Name: "label", Type: arrow.ListOf(arrow.BinaryTypes.String)})},
		{Name: "answerKey", Type: arrow.BinaryTypes.String},
	}, nil)
	local := filepath.Join(t.TempDir(), "arc.parquet")
	jsonlToParquet(t, schema, benchData+"arc_challenge.jsonl", local)
	data, _ := os.ReadFile(local)
	gcstest.Start(t, "hub")
	ctx := context.Background()
	fs, _ := filesystem.New(ctx, "gs://hub/")
	for _, name := range []string{"test-00000-of-00001.parquet", "train-00000-of-00001.parquet", "validation-00000-of-00001.parquet"} {
		if err := filesystem.Write(ctx, fs, "gs://hub/ai2_arc/ARC-Challenge/"+name, data); err != nil {
			t.Fatal(err)
		}
	}
	b, err := readBenchmark(ctx, BenchmarkSpec{Name: "arc_challenge", Path: "gs://hub/ai2_arc/ARC-Challenge", Shots: 1}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	want, err := readBenchmark(ctx, BenchmarkSpec{Name: "arc_challenge", Path: benchData + "arc_challenge.jsonl", Shots: 0}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b.Docs, want.Docs) || len(b.Pool) != 3 {
		t.Fatalf("from Parquet on gs://: %d documents, %d few-shot; want the fixture's %d and 3", len(b.Docs), len(b.Pool), len(want.Docs))
	}
	// random.Random(1234).sample(range(3), 1) three times: [1], [0], [0]
	// (k, not k+1: ARC's test_split is "test" and its few-shot split train).
	if !reflect.DeepEqual(b.Shots, [][]int{{1}, {0}, {0}}) {
		t.Errorf("shots %v", b.Shots)
	}
	b, err = readBenchmark(ctx, BenchmarkSpec{Name: "arc_challenge", Path: "gs://hub/ai2_arc/ARC-Challenge", Shots: 0}, 2, 0)
	if err != nil || len(b.Docs) != 2 || b.Docs[1].Gold != want.Docs[1].Gold {
		t.Errorf("--limit 2: %d documents (%v)", len(b.Docs), err)
	}
	// HellaSwag evaluates the validation split: pointed at ARC's folder it
	// reads ARC's validation file and fails on its first record, naming it.
	if _, err := readBenchmark(ctx, BenchmarkSpec{Name: "hellaswag", Path: "gs://hub/ai2_arc/ARC-Challenge", Shots: 0}, 0, 0); err == nil ||
		!strings.Contains(err.Error(), "gs://hub/ai2_arc/ARC-Challenge/validation-00000-of-00001.parquet record 1: no field \"activity_label\"") {
		t.Errorf("hellaswag on ARC's files: %v", err)
	}
	// GSM8K evaluates the test split: a folder holding only a validation
	// split says so.
	shardio.RemoveFile(ctx, fs, "gs://hub/ai2_arc/ARC-Challenge/test-00000-of-00001.parquet")
	if _, err := readBenchmark(ctx, BenchmarkSpec{Name: "gsm8k", Path: "gs://hub/ai2_arc/ARC-Challenge", Shots: 0}, 0, 0); err == nil ||
		!strings.Contains(err.Error(), "no files of the test split") {
		t.Errorf("gsm8k without a test split: %v", err)
	}
}

// --limit: the first documents, as the harness's --limit, or with a seed a
// seeded subset kept in file order; MMLU's limit is per subject.
func TestSelectDocs(t *testing.T) {
	var docs []benchmarks.Doc
	for i := 0; i < 10; i++ {
		docs = append(docs, benchmarks.Doc{Text: fmt.Sprint(i), Subject: []string{"a", "b"}[i%2]})
	}
	texts := func(ds []benchmarks.Doc) string {
		var s []string
		for _, d := range ds {
			s = append(s, d.Text)
		}
		return strings.Join(s, ",")
	}
	arc, _ := benchmarks.Lookup("arc_easy")
	mmlu, _ := benchmarks.Lookup("mmlu")
	if got := texts(selectDocs(arc, docs, 3, 0)); got != "0,1,2" {
		t.Errorf("first 3: %s", got)
	}
	if got := texts(selectDocs(mmlu, docs, 2, 0)); got != "0,1,2,3" {
		t.Errorf("first 2 per subject: %s", got)
	}
	a, b := texts(selectDocs(arc, docs, 4, 7)), texts(selectDocs(arc, docs, 4, 7))
	if a != b || a == "0,1,2,3" || len(strings.Split(a, ",")) != 4 {
		t.Errorf("seeded subset %s, again %s", a, b)
	}
	for i, s := range strings.Split(a, ",")[1:] {
		if prev := strings.Split(a, ",")[i]; len(prev) == len(s) && prev > s {
			t.Errorf("seeded subset not in file order: %s", a)
		}
	}
	if got := texts(selectDocs(arc, docs, 0, 7)); got != "0,1,2,3,4,5,6,7,8,9" {
		t.Errorf("no limit: %s", got)
	}
}
