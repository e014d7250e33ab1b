package pipelines

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
)

// A dataset TRL precomputed — the records' message lists with TRL's
// prompt_ids / chosen_ids / rejected_ids and ref_*_logps, saved as JSON
// Lines as datasets' to_json writes it — scored with --ref-from-corpus:
// the x-side sums are the given ones exactly (written here as srdpo's own
// plus one, so that recomputing them would show), the p⊕x ids and sums
// are those of a full scoring of the same records, tokens_scored counts
// the p⊕x side only, a row whose prompt_ids are not this tokenizer's
// encoding is a dead letter given_ids_mismatch and one without the columns
// no_given_ref; Sr-DPO trains on the result and its log says the x-side
// sums were given.
func TestScoreGivenReference(t *testing.T) {
	full, rows, modelDir := scoreQwen3ConversationsWithModel(t)
	byID := map[string]schemas.Scored{}
	for _, r := range rows {
		byID[r.ID] = r
	}

	var corpus strings.Builder
	f, err := os.Open("../stages/testdata/trl/records.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	write := func(rec map[string]any) {
		b, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		corpus.Write(b)
		corpus.WriteByte('\n')
	}
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatal(err)
		}
		id, _ := rec["id"].(string)
		r, ok := byID[id]
		if !ok {
			continue
		}
		rec["prompt_ids"], rec["chosen_ids"], rec["rejected_ids"] = r.PromptIDs, r.ChosenIDs, r.RejectedIDs
		rec["ref_chosen_logps"], rec["ref_rejected_logps"] = r.RefLogpChosen+1, r.RefLogpRejected+1
		write(rec)
		if id == qwen3Records[0] {
			bad := map[string]any{}
			for k, v := range rec {
				bad[k] = v
			}
			bad["id"], bad["prompt_ids"] = "other_tokenizer", slices.Concat([]int32{1}, r.PromptIDs)
			write(bad)
			delete(bad, "ref_chosen_logps")
			delete(bad, "ref_rejected_logps")
			delete(bad, "prompt_ids")
			delete(bad, "chosen_ids")
			delete(bad, "rejected_ids")
			bad["id"] = "no_columns"
			write(bad)
		}
	}
	f.Close()
	in := filepath.Join(t.TempDir(), "trl-precomputed.jsonl")
	if err := os.WriteFile(in, []byte(corpus.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	spec := readManifest(t, strings.TrimSuffix(full, schemas.ManifestSuffix)).Metadata
	ref := stages.ReferenceSpec{ModelDir: modelDir, Tokenizer: "auto", AugPrompt: spec.Get(schemas.KeyAugPrompt), AugSeparator: " ",
		AugPosition: stages.AugLastUser, Tokenization: stages.TokenizationTRL, RefFromCorpus: true,
		Truncation: model.Truncation{MaxPromptLength: 512, MaxLength: 1024, Prompt: model.KeepEnd, Response: model.KeepStart}}
	out := filepath.Join(t.TempDir(), "given")
	counters := scoreFiles(t, ScoreConfig{Reference: ref, BatchPairs: 64}, out, 1, in)
	got := readAll[schemas.Scored](t, out, schemas.ScoredRows)
	if len(got) != len(rows) {
		t.Fatalf("%d rows scored, want %d", len(got), len(rows))
	}
	var wantTokens int64
	for _, g := range got {
		w := byID[g.ID]
		if g.RefLogpChosen != w.RefLogpChosen+1 || g.RefLogpRejected != w.RefLogpRejected+1 {
			t.Errorf("%s: x-side sums %v, %v; want the given %v, %v", g.ID, g.RefLogpChosen, g.RefLogpRejected, w.RefLogpChosen+1, w.RefLogpRejected+1)
		}
		if g.RefLogpChosenAug != w.RefLogpChosenAug || g.RefLogpRejectedAug != w.RefLogpRejectedAug {
			t.Errorf("%s: p⊕x sums %v, %v; a full scoring gives %v, %v", g.ID, g.RefLogpChosenAug, g.RefLogpRejectedAug, w.RefLogpChosenAug, w.RefLogpRejectedAug)
		}
		if !slices.Equal(g.AugPromptIDs, w.AugPromptIDs) || !slices.Equal(g.ChosenIDs, w.ChosenIDs) || !slices.Equal(g.RejectedIDs, w.RejectedIDs) {
			t.Errorf("%s: ids differ from a full scoring's", g.ID)
		}
		wantTokens += int64(2*len(w.AugPromptIDs) + len(w.ChosenIDs) + len(w.RejectedIDs))
	}
	if counters[stages.CounterTokensScored] != wantTokens {
		t.Errorf("tokens_scored %d, want %d (the p⊕x side only)", counters[stages.CounterTokensScored], wantTokens)
	}
	if md := readManifest(t, out).Metadata; md.Get(schemas.KeyRefSource) != stages.RefSourceCorpus {
		t.Errorf("metadata %s = %q", schemas.KeyRefSource, md.Get(schemas.KeyRefSource))
	}
	dead, err := os.ReadFile(DeadLetterPrefix(out) + "-00000-of-00001.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"reason":"given_ids_mismatch"`, `"reason":"no_given_ref"`} {
		if !strings.Contains(string(dead), want) {
			t.Errorf("dead letters lack %s:\n%s", want, dead)
		}
	}

	res, log, err := trainOn(t, out+schemas.ManifestSuffix, modelDir, model.LossSrDPO)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Metrics) == 0 || !strings.Contains(log, "given by the corpus") {
		t.Errorf("Sr-DPO on the given sums: %d metrics, log:\n%s", len(res.Metrics), log)
	}
}
