package pipelines

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/srdpo/srdpo/stages"
)

// writeGrownCorpus writes n text records, record edited (if ≥ 0) with another
// chosen response.
func writeGrownCorpus(t *testing.T, path string, n, edited int) {
	t.Helper()
	var b strings.Builder
	for i := range n {
		chosen := fmt.Sprintf(" answer %d is %d.", i, i*7%13)
		if i == edited {
			chosen = " an edited answer."
		}
		fmt.Fprintf(&b, `{"id": "pair-%03d", "prompt": "Question %d: what is %d times 7 modulo 13?", "chosen": %q, "rejected": " no idea %d."}`+"\n", i, i, i, chosen, i)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// scoreRun scores a corpus into out, reusing an earlier set if given,
// and returns the job's counters and the log line of --reuse.
func scoreRun(t *testing.T, spec stages.ReferenceSpec, corpusFile, out, reuse string) (map[string]int64, string) {
	t.Helper()
	c := DefaultIngestConfig()
	c.Out, c.Shards, c.Corpus = out, 3, []string{corpusFile}
	sc := ScoreConfig{Reference: spec, BatchPairs: 8, Reuse: reuse}
	note, err := sc.ResolveReuse(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return scoreFiles(t, sc, out, c.Shards, corpusFile), note
}

// filesUnder reads every file of an output (prefix*) by name.
func filesUnder(t *testing.T, prefix string) map[string][]byte {
	t.Helper()
	names, _ := filepath.Glob(prefix + "*")
	out := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(n, prefix)] = b
	}
	return out
}

// --reuse: a corpus grown by 10% with one old record edited scores exactly
// the new and the edited records, and writes what a full rescore writes,
// byte for byte; an earlier set scored with another p (or model,
// tokenizer, template, lengths) reuses nothing, and the log says why.
func TestReuseScoresOnlyWhatChanged(t *testing.T) {
	spec := tinyReference(t)
	dir := t.TempDir()
	before, grown := filepath.Join(dir, "before.jsonl"), filepath.Join(dir, "grown.jsonl")
	writeGrownCorpus(t, before, 40, -1)
	writeGrownCorpus(t, grown, 44, 17)
	first, _ := scoreRun(t, spec, before, filepath.Join(dir, "v1", "scored"), "")
	if first[stages.CounterPairsScored] != 40 {
		t.Fatalf("first run: %v", first)
	}
	reused, note := scoreRun(t, spec, grown, filepath.Join(dir, "v2", "scored"), filepath.Join(dir, "v1", "scored"))
	if !strings.Contains(note, "carried over") {
		t.Errorf("log: %q", note)
	}
	want := map[string]int64{stages.CounterPairsReused: 39, stages.CounterReuseNew: 4, stages.CounterReuseChanged: 1, stages.CounterPairsScored: 5}
	for k, v := range want {
		if reused[k] != v {
			t.Errorf("counter %s = %d, want %d (all: %v)", k, reused[k], v, reused)
		}
	}
	full, _ := scoreRun(t, spec, grown, filepath.Join(dir, "v3", "scored"), "")
	if full[stages.CounterPairsScored] != 44 {
		t.Fatalf("full rescore: %v", full)
	}
	a, b := filesUnder(t, filepath.Join(dir, "v2", "scored")), filesUnder(t, filepath.Join(dir, "v3", "scored"))
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("outputs of %d and %d files", len(a), len(b))
	}
	for name, data := range a {
		if string(b[name]) != string(data) {
			t.Errorf("%s differs from the full rescore's", name)
		}
	}
	// Another p: nothing is reused.
	spec.AugPrompt = "Answer better. Query:"
	other, note := scoreRun(t, spec, grown, filepath.Join(dir, "v4", "scored"), filepath.Join(dir, "v1", "scored"))
	if other[stages.CounterPairsReused] != 0 || other[stages.CounterPairsScored] != 44 || !strings.Contains(note, "reusing nothing") || !strings.Contains(note, "srdpo.aug_prompt") {
		t.Errorf("another p: %v, %q", other, note)
	}
}
