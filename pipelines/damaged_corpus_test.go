package pipelines

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
)

var damagedRecords = flag.Int("damaged-records", 100_000, "records in the damaged-corpus test")

// damage is one way a record can be broken, and the reason its dead
// letter must give.
type damage struct {
	reason string
	line   func(i int) string
}

// damages are 25 kinds of bad record, each as a corpus could hold it.
var damages = []damage{
	{stages.ReasonMalformedJSON, func(i int) string { return fmt.Sprintf(`{"id": "d%d", "prompt": "cut here`, i) }}, // truncated
	{stages.ReasonMalformedJSON, func(i int) string {
		return fmt.Sprintf("\ufeff{\"id\": \"d%d\", \"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\"}", i)
	}}, // BOM mid-file
	{stages.ReasonMalformedJSON, func(i int) string {
		return fmt.Sprintf("{\"id\": \"d%d\",\x00 \"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\"}", i)
	}}, // a raw NUL byte
	{stages.ReasonNotAnObject, func(i int) string { return fmt.Sprintf(`["d%d", "p", "a", "b"]`, i) }},
	{stages.ReasonMissingField, func(i int) string { return fmt.Sprintf(`{"id": "d%d", "prompt": "p", "chosen": "a"}`, i) }},
	{stages.ReasonWrongType, func(i int) string {
		return fmt.Sprintf(`{"id": "d%d", "prompt": "p", "chosen": 5, "rejected": "b"}`, i)
	}},
	{stages.ReasonBadMessage, func(i int) string {
		return fmt.Sprintf(`{"id": "d%d", "prompt": "p", "chosen": %s"a"%s, "rejected": "b"}`, i, strings.Repeat("[", 300), strings.Repeat("]", 300))
	}}, // deep nesting: a list where messages belong
	{stages.ReasonInvalidUTF8, func(i int) string {
		return fmt.Sprintf("{\"id\": \"d%d\", \"prompt\": \"p\xff\xfe\", \"chosen\": \"a\", \"rejected\": \"b\"}", i)
	}},
	{stages.ReasonUnpairedSurrogate, func(i int) string {
		return fmt.Sprintf(`{"id": "d%d", "prompt": "p\ud800", "chosen": "a", "rejected": "b"}`, i)
	}},
	{stages.ReasonTooLarge, func(i int) string {
		return fmt.Sprintf(`{"id": "d%d", "prompt": "p", "chosen": "%s", "rejected": "b"}`, i, strings.Repeat("x", 5000))
	}}, // a huge field
	{stages.ReasonEmptyPrompt, func(i int) string {
		return fmt.Sprintf(`{"id": "d%d", "prompt": "  ", "chosen": "a", "rejected": "b"}`, i)
	}},
	{stages.ReasonEmptyChosen, func(i int) string {
		return fmt.Sprintf(`{"id": "d%d", "prompt": "p", "chosen": "", "rejected": "b"}`, i)
	}},
	{stages.ReasonEmptyRejected, func(i int) string {
		return fmt.Sprintf(`{"id": "d%d", "prompt": "p", "chosen": "a", "rejected": "\t"}`, i)
	}},
	{stages.ReasonIdentical, func(i int) string {
		return fmt.Sprintf(`{"id": "d%d", "prompt": "p", "chosen": "same", "rejected": "same"}`, i)
	}},
	{stages.ReasonNoSharedPrompt, func(i int) string { return fmt.Sprintf(`{"id": "d%d", "chosen": "abc", "rejected": "xyz"}`, i) }},
	{stages.ReasonHHPrefixMismatch, func(i int) string {
		return fmt.Sprintf(`{"id": "d%d", "chosen": "\n\nHuman: hi\n\nAssistant: a", "rejected": "\n\nHuman: ho\n\nAssistant: b"}`, i)
	}},
	{stages.ReasonBadMessage, func(i int) string {
		return fmt.Sprintf(`{"id": "d%d", "prompt": [{"role": "user"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}`, i)
	}},
	{stages.ReasonUnknownRole, func(i int) string {
		return fmt.Sprintf(`{"id": "d%d", "prompt": [{"role": "tool", "content": "42"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}`, i)
	}},
	{stages.ReasonBadTurnOrder, func(i int) string {
		return fmt.Sprintf(`{"id": "d%d", "prompt": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a0"}], "chosen": [{"role": "assistant", "content": "a"}], "rejected": [{"role": "assistant", "content": "b"}]}`, i)
	}},
	{stages.ReasonBadScore, func(i int) string {
		return fmt.Sprintf(`{"id": "d%d", "prompt": "p", "chosen": "a", "rejected": "b", "score_chosen": "high", "score_rejected": 1}`, i)
	}},
	{stages.ReasonBadScore, func(i int) string {
		return fmt.Sprintf(`{"id": "d%d", "prompt": "p", "chosen": "a", "rejected": "b", "score_chosen": 2}`, i)
	}},
	{stages.ReasonBadID, func(i int) string {
		return fmt.Sprintf(`{"id": {"n": %d}, "prompt": "p", "chosen": "a", "rejected": "b"}`, i)
	}},
	{stages.ReasonWrongType, func(i int) string {
		return fmt.Sprintf(`{"id": "d%d", "prompt": "p", "chosen": "a", "rejected": "b", "offset": "big"}`, i)
	}},
	{stages.ReasonBadMessage, func(i int) string {
		return fmt.Sprintf(`{"id": "d%d", "conversations": [{"from": "human", "value": "q"}], "chosen": "not a message", "rejected": {"from": "gpt", "value": "b"}}`, i)
	}},
	{stages.ReasonDuplicateID, nil}, // a copy of the good record before it
}

// A corpus of many records, 5% damaged in 25 ways across files, ingests
// without a crash: every record is a row or a dead letter with its reason
// and line, the counters add up, and no good record is altered.
func TestDamagedCorpusAtScale(t *testing.T) {
	n := *damagedRecords
	if testing.Short() {
		n = 10_000
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 25))
	texts := []string{"Say yes.", "héllo wörld", "日本語の質問", "emoji 😀 here", "tab\tand\nnewline", "nul \u0000 inside", "quote \" and \\ backslash"}
	type goodRec struct{ prompt, chosen, rejected string }
	good := map[string]goodRec{}
	wantDead := map[string]string{} // "file:line" → reason
	const files = 4
	var lastGood string
	for f := 0; f < files; f++ {
		var b bytes.Buffer
		for line := 1; line <= n/files; line++ {
			i := f*(n/files) + line
			if rng.IntN(100) < 5 {
				d := damages[rng.IntN(len(damages))]
				if d.line == nil { // a duplicate of the previous good record
					if lastGood == "" {
						continue
					}
					g := good[lastGood]
					rec, _ := json.Marshal(map[string]string{"id": lastGood, "prompt": g.prompt, "chosen": g.chosen, "rejected": g.rejected + " again"})
					b.Write(append(rec, '\n'))
				} else {
					b.WriteString(d.line(i) + "\n")
				}
				wantDead[fmt.Sprintf("part-%d.jsonl:%d", f, line)] = d.reason
				continue
			}
			id := fmt.Sprintf("r%d", i)
			g := goodRec{texts[rng.IntN(len(texts))] + fmt.Sprint(i), " " + texts[rng.IntN(len(texts))], " no " + fmt.Sprint(i)}
			rec, _ := json.Marshal(map[string]string{"id": id, "prompt": g.prompt, "chosen": g.chosen, "rejected": g.rejected})
			b.Write(append(rec, '\n'))
			good[id], lastGood = g, id
		}
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("part-%d.jsonl", f)), b.Bytes(), 0o644)
	}
	out := filepath.Join(t.TempDir(), "prefs")
	c := DefaultIngestConfig()
	c.Out, c.Shards, c.Corpus, c.MaxRecordBytes = out, 4, []string{filepath.Join(dir, "part-*.jsonl")}, 4096
	p, s := beam.NewPipelineWithRoot()
	BuildIngest(s, c)
	counters := stages.Counters(ptest.RunAndValidate(t, p))

	rows := readAll[schemas.Preference](t, out, schemas.Preferences)
	if len(rows) != len(good) {
		t.Errorf("%d rows, want %d good records", len(rows), len(good))
	}
	for _, r := range rows {
		g, ok := good[r.ID]
		if !ok || r.Prompt != g.prompt || r.Chosen != g.chosen || r.Rejected != g.rejected {
			t.Fatalf("row %s differs from its record: %q %q %q", r.ID, r.Prompt, r.Chosen, r.Rejected)
		}
	}
	deadFile, err := os.ReadFile(DeadLetterPrefix(out) + "-00000-of-00001.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	gotDead := map[string]string{}
	err = schemas.EachLine(deadFile, func(_ int, text []byte) error {
		var d struct {
			Source, Reason string
			Line           int64
		}
		if err := json.Unmarshal(text, &d); err != nil {
			return err
		}
		gotDead[fmt.Sprintf("%s:%d", filepath.Base(d.Source), d.Line)] = d.Reason
		kinds[d.Reason] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for k, reason := range wantDead {
		if gotDead[k] != reason {
			t.Errorf("%s: dead letter %q, want %q", k, gotDead[k], reason)
		}
	}
	if len(gotDead) != len(wantDead) {
		t.Errorf("%d dead letters, want %d", len(gotDead), len(wantDead))
	}
	read, ok, bad := counters[stages.CounterRecordsRead], counters[stages.CounterRecordsGood], counters[stages.CounterRecordsDead]
	if read != ok+bad || ok != int64(len(good)) || bad != int64(len(wantDead)) {
		t.Errorf("counters read %d = good %d + dead %d? want %d good, %d dead", read, ok, bad, len(good), len(wantDead))
	}
	var names []string
	for k := range kinds {
		names = append(names, k)
	}
	sort.Strings(names)
	t.Logf("%d records: %d rows, %d dead letters of %d reasons %v", read, ok, bad, len(kinds), names)
}
