package pipelines

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/srdpo/srdpo/schemas"
)

// readParquetTable reads a Parquet file with arrow-go's reader: its Arrow
// schema (with the "huggingface" metadata) and rows as JSON-like maps.
func readParquetTable(t *testing.T, path string) (*arrow.Schema, []map[string]any) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pf, err := file.NewParquetReader(f)
	if err != nil {
		t.Fatal(err)
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	if kv := pf.MetaData().KeyValueMetadata(); kv.FindValue("huggingface") == nil {
		t.Errorf("%s: the Parquet key-value metadata has no \"huggingface\" key", path)
	}
	schema, err := fr.Schema()
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 1<<20)
	defer tr.Release()
	var rows []map[string]any
	for tr.Next() {
		rec := tr.RecordBatch()
		b, err := rec.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var part []map[string]any
		if err := json.Unmarshal(b, &part); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, part...)
	}
	return schema, rows
}

func ids64(v any) []int32 {
	var out []int32
	for _, x := range v.([]any) {
		out = append(out, int32(x.(float64)))
	}
	return out
}

// srdpo score --hf-dataset / srdpo export: a conversational corpus scored
// with --tokenization trl becomes a dataset folder that datasets loads as
// it is: data/{split}-NNNNN-of-NNNNN.parquet with the "huggingface"
// features, TRL's columns and dtypes (message lists; int64 id lists;
// float32 ref_*_logps, the x-side sums), srdpo's columns apart, the held-out
// split by the training stage's rule, and a card naming config, splits,
// features and the scoring settings; values equal the shards'.
func TestExportHFDataset(t *testing.T) {
	out, rows := scoreQwen3Conversations(t)
	dir := filepath.Join(t.TempDir(), "hf")
	c := DefaultExportConfig()
	c.Scored, c.Out, c.TestFraction, c.RowsPerFile = out, dir, 0.5, 2
	res, err := c.Export(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]schemas.Scored{}
	for _, r := range rows {
		byID[r.ID] = r
	}
	// The split rule is the training stage's held-out rule.
	wantSplit := map[string]int64{}
	for _, r := range rows {
		split := "train"
		if heldOutByTraining(r.ID, 0.5) {
			split = "test"
		}
		wantSplit[split]++
	}
	if !maps2Equal(res.Rows, wantSplit) {
		t.Errorf("splits %v, want %v", res.Rows, wantSplit)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "data", "*.parquet"))
	sort.Strings(files)
	var names []string
	seen := 0
	for _, f := range files {
		names = append(names, filepath.Base(f))
		schema, got := readParquetTable(t, f)
		hf, ok := schema.Metadata().GetValue("huggingface")
		if !ok {
			t.Fatalf("%s: no huggingface metadata", f)
		}
		var meta struct {
			Info struct {
				Features map[string]json.RawMessage
			}
		}
		if err := json.Unmarshal([]byte(hf), &meta); err != nil {
			t.Fatal(err)
		}
		for _, col := range schema.Fields() {
			if _, ok := meta.Info.Features[col.Name]; !ok {
				t.Errorf("%s: the features do not name column %s", f, col.Name)
			}
		}
		wantFeatures := map[string]string{
			"prompt":             `[{"content":{"dtype":"string","_type":"Value"},"role":{"dtype":"string","_type":"Value"}}]`,
			"prompt_ids":         `{"_type":"Sequence","feature":{"_type":"Value","dtype":"int64"}}`,
			"ref_chosen_logps":   `{"_type":"Value","dtype":"float32"}`,
			"srdpo_score_chosen": `{"_type":"Value","dtype":"float64"}`,
		}
		for col, want := range wantFeatures {
			if !jsonEqual(t, meta.Info.Features[col], want) {
				t.Errorf("%s: feature %s = %s, want %s", f, col, meta.Info.Features[col], want)
			}
		}
		for col, typ := range map[string]arrow.DataType{"prompt_ids": arrow.ListOf(arrow.PrimitiveTypes.Int64),
			"ref_chosen_logps": arrow.PrimitiveTypes.Float32, "ref_rejected_logps": arrow.PrimitiveTypes.Float32} {
			idx := schema.FieldIndices(col)
			if len(idx) != 1 || !arrow.TypeEqual(schema.Field(idx[0]).Type, typ) {
				t.Errorf("%s: column %s is not %s", f, col, typ)
			}
		}
		for _, r := range got {
			want := byID[r["srdpo_id"].(string)]
			seen++
			if split := strings.SplitN(filepath.Base(f), "-", 2)[0]; (split == "test") != heldOutByTraining(want.ID, 0.5) {
				t.Errorf("%s in split %s", want.ID, split)
			}
			if !slices.Equal(ids64(r["prompt_ids"]), want.PromptIDs) || !slices.Equal(ids64(r["chosen_ids"]), want.ChosenIDs) ||
				!slices.Equal(ids64(r["rejected_ids"]), want.RejectedIDs) || !slices.Equal(ids64(r["srdpo_aug_prompt_ids"]), want.AugPromptIDs) {
				t.Errorf("%s: ids differ from the shard's", want.ID)
			}
			if float32(r["ref_chosen_logps"].(float64)) != float32(want.RefLogpChosen) || r["srdpo_ref_rejected_logps_aug"].(float64) != want.RefLogpRejectedAug {
				t.Errorf("%s: sums %v / %v, want %v / %v", want.ID, r["ref_chosen_logps"], r["srdpo_ref_rejected_logps_aug"], float32(want.RefLogpChosen), want.RefLogpRejectedAug)
			}
			var msgs map[string][]map[string]string
			_ = json.Unmarshal([]byte(want.Messages), &msgs)
			for _, part := range []string{"prompt", "chosen", "rejected"} {
				gotMsgs, _ := json.Marshal(r[part])
				wantMsgs, _ := json.Marshal(msgs[part])
				if !jsonEqual(t, gotMsgs, string(wantMsgs)) {
					t.Errorf("%s %s: %s, want %s", want.ID, part, gotMsgs, wantMsgs)
				}
			}
		}
	}
	if seen != len(rows) {
		t.Errorf("%d rows exported, want %d", seen, len(rows))
	}
	wantNames := []string{}
	for _, split := range []string{"test", "train"} {
		n := int(wantSplit[split])
		for i := 0; i < (n+1)/2; i++ {
			wantNames = append(wantNames, split+"-0000"+string(rune('0'+i))+"-of-0000"+string(rune('0'+(n+1)/2))+".parquet")
		}
	}
	if !slices.Equal(names, wantNames) {
		t.Errorf("files %v, want %v", names, wantNames)
	}
	card, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"configs:\n- config_name: default\n  data_files:\n", "  - split: train\n    path: data/train-*\n",
		"  - name: prompt_ids\n    sequence: int64\n", "  - name: prompt\n    list:\n    - name: content\n      dtype: string\n",
		"  - name: ref_chosen_logps\n    dtype: float32\n", "| `srdpo.tokenization` | `trl` |", "srdpo.model_fingerprint",
		"num_examples: " + itoa(wantSplit["train"])} {
		if !strings.Contains(string(card), want) {
			t.Errorf("the card lacks %q:\n%s", want, card)
		}
	}
	// The folder reads back as a corpus (the dataset folder layout, message
	// lists from Parquet, ids from srdpo_id): the same conversations.
	ic := DefaultIngestConfig()
	ic.Corpus, ic.Out, ic.Shards, ic.IDField = []string{dir}, filepath.Join(t.TempDir(), "prefs"), 1, "srdpo_id"
	if err := ic.ResolveCorpus(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.ResolveChatTemplate(context.Background(), "", ""); err != nil {
		t.Fatal(err)
	}
	pipe, scope := beam.NewPipelineWithRoot()
	BuildIngest(scope, ic)
	ptest.RunAndValidate(t, pipe)
	back := readAll[schemas.Preference](t, ic.Out, schemas.Preferences)
	if len(back) != len(rows) {
		t.Fatalf("%d rows read back from the dataset, want %d", len(back), len(rows))
	}
	for _, p := range back {
		if !jsonEqual(t, []byte(p.Messages), byID[p.ID].Messages) {
			t.Errorf("%s: read back %s, want %s", p.ID, p.Messages, byID[p.ID].Messages)
		}
	}
	// A second export into the same folder is refused, and leaves it whole.
	if _, err := c.Export(context.Background()); err == nil || !strings.Contains(err.Error(), "already holds the split") {
		t.Errorf("export over a dataset: %v", err)
	}
}

// heldOutByTraining is the training stage's held-out rule, written out:
// FNV-1a 64 of the id, modulo 10^6, over 10^6, below the fraction.
func heldOutByTraining(id string, fraction float64) bool {
	h := fnv.New64a()
	h.Write([]byte(id))
	return float64(h.Sum64()%1_000_000)/1_000_000 < fraction
}

func maps2Equal(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// jsonEqual compares two JSON texts as values.
func jsonEqual(t *testing.T, a []byte, b string) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
