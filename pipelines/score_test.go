package pipelines

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/runners/prismtest"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
)

func TestMain(m *testing.M) { prismtest.Main(m) }

const corpus = "../stages/testdata/corpus/"

// tinyReference saves a small byte-level model and returns its spec.
func tinyReference(t *testing.T) stages.ReferenceSpec {
	t.Helper()
	backend, _ := model.Backend()
	m, err := model.New(model.Config{Vocab: 257, Context: 256, Layers: 2, Heads: 2, Width: 32, NormEps: 1e-5, TiedHead: true, DType: "float32"}, 42, backend)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "ref")
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	// A short p, so that only some prompts are cut at 64 tokens.
	return stages.ReferenceSpec{ModelDir: dir, Tokenizer: "auto", AugPrompt: "Answer well. Query:",
		AugSeparator: schemas.DefaultAugSeparator,
		Truncation:   model.Truncation{MaxPromptLength: 64, MaxLength: 96, Prompt: model.KeepEnd, Response: model.KeepStart}}
}

func ingestConfig(out string, shards int, files ...string) IngestConfig {
	var paths []string
	for _, file := range files {
		paths = append(paths, corpus+file)
	}
	c := DefaultIngestConfig()
	c.Out, c.Shards, c.Corpus = out, shards, paths
	return c
}

func readPreferences(t *testing.T, files ...string) []schemas.Preference {
	t.Helper()
	out := filepath.Join(t.TempDir(), "prefs")
	p, s := beam.NewPipelineWithRoot()
	BuildIngest(s, ingestConfig(out, 1, files...))
	ptest.RunAndValidate(t, p)
	return readAll[schemas.Preference](t, out, schemas.Preferences)
}

// scoreFiles runs the scoring job of sc on corpus files into out (shards
// shards) on prism and returns its counters.
func scoreFiles(t *testing.T, sc ScoreConfig, out string, shards int, files ...string) map[string]int64 {
	t.Helper()
	c := DefaultIngestConfig()
	c.Out, c.Shards, c.Corpus = out, shards, files
	p, s := beam.NewPipelineWithRoot()
	if _, _, err := BuildScore(context.Background(), s, c, sc); err != nil {
		t.Fatal(err)
	}
	return stages.Counters(ptest.RunAndValidate(t, p))
}

// readManifest reads an output's manifest.
func readManifest(t *testing.T, prefix string) schemas.Manifest {
	t.Helper()
	b, err := os.ReadFile(prefix + schemas.ManifestSuffix)
	if err != nil {
		t.Fatal(err)
	}
	m, err := schemas.ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func readAll[T schemas.Row](t *testing.T, prefix string, tb *schemas.Table) []T {
	t.Helper()
	m := readManifest(t, prefix)
	var out []T
	for _, sh := range m.Shards {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(prefix), sh.Name))
		if err != nil {
			t.Fatal(err)
		}
		rows, md, err := schemas.ReadFile(data, m.Format, tb)
		if err != nil {
			t.Fatal(err)
		}
		if err := md.Expect(m.Metadata); err != nil {
			t.Errorf("shard %s: %v", sh.Name, err)
		}
		for _, r := range rows {
			out = append(out, r.(T))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key() < out[j].Key() })
	return out
}

// direct computes a scored row with the model package alone: tokenise,
// truncate, and score the pair alone with shared prompts; checked against
// the four sequences scored as separate rows.
func direct(t *testing.T, spec stages.ReferenceSpec, p schemas.Preference) schemas.Scored {
	backend, _ := model.Backend()
	m, err := model.Load(spec.ModelDir, backend)
	if err != nil {
		t.Fatal(err)
	}
	tr := spec.Truncation
	x, xc := model.Keep(tokenizer.Bytes(p.Prompt), tr.MaxPromptLength, tr.Prompt)
	ax, axc := model.Keep(tokenizer.Bytes(spec.AugPrompt+spec.AugSeparator+p.Prompt), tr.MaxPromptLength, tr.Prompt)
	room := tr.MaxLength - max(len(x), len(ax))
	c, cc := model.Keep(tokenizer.Bytes(p.Chosen), room, tr.Response)
	r, rc := model.Keep(tokenizer.Bytes(p.Rejected), room, tr.Response)
	shared, _ := m.NewSharedScorer(stages.ScoreBudgetTokens)
	lp, err := shared.PairLogps([]model.Preference{{Prompt: x, AugPrompt: ax, Chosen: c, Rejected: r}})
	if err != nil {
		t.Fatal(err)
	}
	// The separate rows, each sequence on its own, are the reference the
	// shared layout must match within float32 rounding.
	s, _ := m.NewScorer(stages.ScoreBudgetTokens)
	seq := model.PairSequences(x, ax, c, r)
	sep, err := s.LogProbs(seq[:])
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range []float64{lp[0].Chosen, lp[0].Rejected, lp[0].ChosenAug, lp[0].RejectedAug} {
		if d := math.Abs(v - sep[i].Sum); d > 1e-5*math.Abs(sep[i].Sum) {
			t.Errorf("row %s sequence %d: shared %v, separate rows %v (relative difference %.2g)", p.ID, i, v, sep[i].Sum, d/math.Abs(sep[i].Sum))
		}
	}
	return schemas.Scored{ID: p.ID, Prompt: p.Prompt, Chosen: p.Chosen, Rejected: p.Rejected, Messages: p.Messages, SourceFormat: p.SourceFormat,
		PromptIDs: x, AugPromptIDs: ax, ChosenIDs: c, RejectedIDs: r,
		PromptTokens: int32(len(x)), AugPromptTokens: int32(len(ax)), ChosenTokens: int32(len(c)), RejectedTokens: int32(len(r)),
		PromptTruncated: xc, AugPromptTruncated: axc, ChosenTruncated: cc, RejectedTruncated: rc,
		RefLogpChosen: lp[0].Chosen, RefLogpRejected: lp[0].Rejected, RefLogpChosenAug: lp[0].ChosenAug, RefLogpRejectedAug: lp[0].RejectedAug,
		ScoreChosen: p.ScoreChosen, ScoreRejected: p.ScoreRejected, Offset: p.Offset}
}

// The scores the pipeline computes are, row for row and bit for bit, the
// model package's own computation on the same pair alone, and within
// float32 rounding the four sequences scored as separate rows.
func TestScoresEqualDirectComputation(t *testing.T) {
	spec := tinyReference(t)
	files := []string{"trl_standard.jsonl", "hh_rlhf.jsonl", "ultrafeedback.jsonl", "sharegpt.json"}
	prefs := readPreferences(t, files...)
	var want []schemas.Scored
	truncated := 0
	for _, p := range prefs {
		d := direct(t, spec, p)
		if d.PromptTruncated || d.AugPromptTruncated || d.ChosenTruncated || d.RejectedTruncated {
			truncated++
		}
		want = append(want, d)
	}
	if truncated == 0 || truncated == len(want) {
		t.Fatalf("%d of %d rows truncated: the test should cover both", truncated, len(want))
	}
	p, s := beam.NewPipelineWithRoot()
	rows, _ := ingestConfig(filepath.Join(t.TempDir(), "x"), 1, files...).ReadCorpus(s, stages.Augmentation{})
	scored, dead := stages.ScorePreferences(s, spec, rows, stages.WithBatchPairs(3))
	passert.Equals(s, scored, beam.CreateList(s, want))
	passert.Empty(s, dead)
	res := ptest.RunAndValidate(t, p)
	c := stages.Counters(res)
	if c[stages.CounterPairsScored] != int64(len(want)) || c[stages.CounterRowsTruncated] != int64(truncated) || c[stages.CounterTokensScored] == 0 {
		t.Errorf("counters %v", c)
	}
}

// Batch size and shard count change nothing in the scores; dead letters of
// ingestion land beside the shards and the counters add up; every shard and
// the manifest carry the provenance.
func TestScoreDeterminismDeadLettersMetadata(t *testing.T) {
	spec := tinyReference(t)
	ctx := context.Background()
	run := func(batch, shards int) (string, map[string]int64) {
		out := filepath.Join(t.TempDir(), "scored")
		p, s := beam.NewPipelineWithRoot()
		if _, _, err := BuildScore(ctx, s, ingestConfig(out, shards, "trl_standard.jsonl", "malformed.jsonl", "hh_rlhf.jsonl"), ScoreConfig{Reference: spec, BatchPairs: batch}); err != nil {
			t.Fatal(err)
		}
		return out, stages.Counters(ptest.RunAndValidate(t, p))
	}
	a, ca := run(1, 2)
	b, cb := run(64, 5)
	ra := readAll[schemas.Scored](t, a, schemas.ScoredRows)
	rb := readAll[schemas.Scored](t, b, schemas.ScoredRows)
	if len(ra) != 9 || !reflect.DeepEqual(ra, rb) {
		t.Fatalf("batch 1 / 2 shards and batch 64 / 5 shards differ (%d and %d rows)", len(ra), len(rb))
	}
	for _, c := range []map[string]int64{ca, cb} {
		if c[stages.CounterRecordsRead] != c[stages.CounterRecordsGood]+c[stages.CounterRecordsDead] ||
			c[stages.CounterPairsScored] != c[stages.CounterRecordsGood] || c[stages.CounterRecordsDead] != 19 {
			t.Errorf("counters %v", c)
		}
	}
	dead, err := os.ReadFile(DeadLetterPrefix(a) + "-00000-of-00001.jsonl")
	if err != nil || strings.Count(string(dead), "\n") != 19 {
		t.Errorf("dead letters: %v", err)
	}
	mb, _ := os.ReadFile(a + schemas.ManifestSuffix)
	m, _ := schemas.ParseManifest(mb)
	ref, _ := stages.LoadReference(ctx, spec)
	want := schemas.Metadata{
		schemas.KeyModelFingerprint:     ref.Fingerprint,
		schemas.KeyTokenizerFingerprint: tokenizer.Byte{}.Fingerprint(),
		schemas.KeyAugPrompt:            "Answer well. Query:",
		schemas.KeyAugSeparator:         " ",
		schemas.KeyMaxPromptLength:      "64",
		schemas.KeyMaxLength:            "96",
		schemas.KeyTruncationMode:       "prompt=keep_end,response=keep_start",
		schemas.KeyTable:                "scored",
	}
	if err := m.Metadata.Expect(want); err != nil {
		t.Errorf("manifest: %v", err)
	}
	// readAll has checked each shard's metadata against the manifest's.
}
