package stages

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/srdpo/srdpo/runners/gcstest"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages/shardio"
)

// hfFixture is a scored set written by hand: two conversational pairs,
// the second with gold scores, as --tokenization trl would have scored them.
func hfFixture(t *testing.T, dir string) string {
	t.Helper()
	f := func(v float64) *float64 { return &v }
	rows := []schemas.Row{
		schemas.Scored{ID: "a", Prompt: "<u>Hi<e><a>", Chosen: "Hello!<e>", Rejected: "Go.<e>",
			Messages:     `{"prompt":[{"role":"user","content":"Hi"}],"chosen":[{"role":"assistant","content":"Hello!"}],"rejected":[{"role":"assistant","content":"Go."}]}`,
			SourceFormat: "trl_conversational", PromptIDs: []int32{1, 2, 3}, AugPromptIDs: []int32{1, 9, 2, 3}, ChosenIDs: []int32{4, 5}, RejectedIDs: []int32{6},
			PromptTokens: 3, AugPromptTokens: 4, ChosenTokens: 2, RejectedTokens: 1,
			RefLogpChosen: -3.25, RefLogpRejected: -7.1, RefLogpChosenAug: -3.125, RefLogpRejectedAug: -7.5},
		schemas.Scored{ID: "b", Prompt: "<s>S<e><u>Q 日本<e><a>", Chosen: "A 😀<e>", Rejected: "B<e>",
			Messages:     `{"prompt":[{"role":"system","content":"S"},{"role":"user","content":"Q 日本"}],"chosen":[{"role":"assistant","content":"A 😀"}],"rejected":[{"role":"assistant","content":"B"}]}`,
			SourceFormat: "ultrafeedback", PromptIDs: []int32{7, 151643}, AugPromptIDs: []int32{7, 8, 151643}, ChosenIDs: []int32{10, 11, 12}, RejectedIDs: []int32{13, 14},
			PromptTokens: 2, AugPromptTokens: 3, ChosenTokens: 3, RejectedTokens: 2,
			RefLogpChosen: -1.0 / 3, RefLogpRejected: -12.75, RefLogpChosenAug: -0.5, RefLogpRejectedAug: -12.0,
			ScoreChosen: f(8.5), ScoreRejected: f(2)},
	}
	md := schemas.NewMetadata().With(schemas.KeyTokenization, TokenizationTRL).With(schemas.KeyModelFingerprint, "m0").
		With(schemas.KeyTokenizerFingerprint, "t0").With(schemas.KeyMaxLength, "1024").With(schemas.KeyToolVersion, "test")
	var buf bytes.Buffer
	if err := schemas.WriteFile(&buf, schemas.FormatArrow, schemas.ScoredRows, md, rows); err != nil {
		t.Fatal(err)
	}
	shard := filepath.Join(dir, "scored-00000-of-00001.arrow")
	if err := os.WriteFile(shard, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return shard
}

// keepExportEnv, when set, names a folder the export test leaves its
// output in, for testdata/hfdataset/read_parquet.mjs to read.
const keepExportEnv = "SRDPO_KEEP_HF_EXPORT"

// The export of a hand-made scored set, read back by a third-party reader
// (hyparquet, testdata/hfdataset/read_parquet.mjs, whose output is
// testdata/hfdataset/expected.json): the files are byte for byte those it
// read, their "huggingface" metadata is datasets' features JSON for every
// column, and the rows hold the fixture's values in TRL's columns and
// srdpo's (float32 ref_*_logps, exact float64 copies, message lists).
func TestExportReadByAThirdPartyReader(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "hf")
	if keep := os.Getenv(keepExportEnv); keep != "" {
		out = keep
	}
	if _, err := ExportHFDataset(context.Background(), hfFixture(t, dir), HFExport{Out: out}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("testdata/hfdataset/expected.json")
	if err != nil {
		t.Fatal(err)
	}
	var want struct {
		Files []struct {
			Path     string
			SHA256   string
			Metadata map[string]string
			Rows     []map[string]any
		}
	}
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if len(want.Files) != 1 || want.Files[0].Path != "data/train-00000-of-00001.parquet" {
		t.Fatalf("expected.json lists %+v", want.Files)
	}
	w := want.Files[0]
	data, err := os.ReadFile(filepath.Join(out, w.Path))
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != w.SHA256 {
		t.Fatalf("%s is not the file hyparquet read (sha256 %x, want %s): rerun read_parquet.mjs", w.Path, sum, w.SHA256)
	}
	var features struct {
		Info struct{ Features map[string]any }
	}
	if err := json.Unmarshal([]byte(w.Metadata["huggingface"]), &features); err != nil {
		t.Fatal(err)
	}
	value := func(dtype string) any { return map[string]any{"dtype": dtype, "_type": "Value"} }
	seq := func(dtype string) any { return map[string]any{"feature": value(dtype), "_type": "Sequence"} }
	msgs := []any{map[string]any{"content": value("string"), "role": value("string")}}
	wantFeatures := map[string]any{
		"prompt": msgs, "chosen": msgs, "rejected": msgs,
		"prompt_ids": seq("int64"), "chosen_ids": seq("int64"), "rejected_ids": seq("int64"),
		"ref_chosen_logps": value("float32"), "ref_rejected_logps": value("float32"),
		"srdpo_id": value("string"), "srdpo_aug_prompt_ids": seq("int64"),
		"srdpo_ref_chosen_logps": value("float64"), "srdpo_ref_rejected_logps": value("float64"),
		"srdpo_ref_chosen_logps_aug": value("float64"), "srdpo_ref_rejected_logps_aug": value("float64"),
		"srdpo_score_chosen": value("float64"), "srdpo_score_rejected": value("float64"), "srdpo_offset": value("float64"),
		"srdpo_source_format": value("string"),
	}
	if !reflect.DeepEqual(features.Info.Features, wantFeatures) {
		t.Errorf("features\n got  %v\n want %v", features.Info.Features, wantFeatures)
	}
	if w.Metadata[schemas.KeyModelFingerprint] != "m0" || w.Metadata[schemas.KeyTokenization] != "trl" {
		t.Errorf("srdpo's provenance is not in the file's metadata: %v", w.Metadata)
	}
	if len(w.Rows) != 2 {
		t.Fatalf("%d rows", len(w.Rows))
	}
	ids := func(v any) []int32 {
		var out []int32
		for _, x := range v.([]any) {
			out = append(out, int32(x.(float64)))
		}
		return out
	}
	a, bRow := w.Rows[0], w.Rows[1]
	checks := []struct {
		name      string
		got, want any
	}{
		{"a.srdpo_id", a["srdpo_id"], "a"},
		{"a.prompt_ids", ids(a["prompt_ids"]), []int32{1, 2, 3}},
		{"a.chosen_ids", ids(a["chosen_ids"]), []int32{4, 5}},
		{"a.rejected_ids", ids(a["rejected_ids"]), []int32{6}},
		{"a.srdpo_aug_prompt_ids", ids(a["srdpo_aug_prompt_ids"]), []int32{1, 9, 2, 3}},
		{"a.ref_chosen_logps", a["ref_chosen_logps"], -3.25},
		{"a.srdpo_ref_rejected_logps_aug", a["srdpo_ref_rejected_logps_aug"], -7.5},
		{"a.srdpo_score_chosen", a["srdpo_score_chosen"], nil},
		{"a.chosen", a["chosen"], []any{map[string]any{"content": "Hello!", "role": "assistant"}}},
		{"b.prompt", bRow["prompt"], []any{map[string]any{"content": "S", "role": "system"}, map[string]any{"content": "Q 日本", "role": "user"}}},
		{"b.chosen", bRow["chosen"], []any{map[string]any{"content": "A 😀", "role": "assistant"}}},
		{"b.prompt_ids", ids(bRow["prompt_ids"]), []int32{7, 151643}},
		{"b.ref_chosen_logps (float32 of -1/3)", bRow["ref_chosen_logps"], float64(float32(-1.0 / 3))},
		{"b.srdpo_ref_chosen_logps (float64 of -1/3)", bRow["srdpo_ref_chosen_logps"], -1.0 / 3},
		{"b.ref_rejected_logps", bRow["ref_rejected_logps"], -12.75},
		{"b.srdpo_score_chosen", bRow["srdpo_score_chosen"], 8.5},
		{"b.srdpo_source_format", bRow["srdpo_source_format"], "ultrafeedback"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			if g, ok := c.got.(float64); ok {
				if w, ok := c.want.(float64); ok && math.Float64bits(g) == math.Float64bits(w) {
					continue
				}
			}
			t.Errorf("%s: hyparquet read %v, want %v", c.name, c.got, c.want)
		}
	}
}

// The export writes to gs:// (fake GCS) as it writes locally, and refuses
// a folder that already holds a dataset there too.
func TestExportToGCS(t *testing.T) {
	gcstest.Start(t, "datasets")
	ctx := context.Background()
	shard := hfFixture(t, t.TempDir())
	res, err := ExportHFDataset(ctx, shard, HFExport{Out: "gs://datasets/uf", TestFraction: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	fs, err := filesystem.New(ctx, "gs://datasets/")
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	names, err := fs.List(ctx, "gs://datasets/uf/**")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range res.Files {
		want = append(want, "gs://datasets/uf/"+f)
	}
	sort.Strings(names)
	sort.Strings(want)
	if !reflect.DeepEqual(names, want) || len(names) < 2 {
		t.Errorf("objects %v, want %v (no temporary ones left)", names, want)
	}
	local := filepath.Join(t.TempDir(), "local")
	if _, err := ExportHFDataset(ctx, shard, HFExport{Out: local, TestFraction: 0.5}); err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Files {
		remote, err := filesystem.Read(ctx, fs, "gs://datasets/uf/"+f)
		if err != nil {
			t.Fatal(err)
		}
		if l, _ := os.ReadFile(filepath.Join(local, f)); !bytes.Equal(l, remote) {
			t.Errorf("%s differs between gs:// and a local folder", f)
		}
	}
	if _, err := ExportHFDataset(ctx, shard, HFExport{Out: "gs://datasets/uf"}); err == nil || !strings.Contains(err.Error(), "already holds the split") {
		t.Errorf("a second export into gs://datasets/uf: %v", err)
	}
}

// A corpus's splits scored apart export as they were given: a second
// export under another --split joins the folder and the card lists both;
// the same split again, or a split of other columns, is refused.
func TestExportSplitsAsGiven(t *testing.T) {
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "hf")
	shard := hfFixture(t, t.TempDir())
	if _, err := ExportHFDataset(ctx, shard, HFExport{Out: out, Split: "train_prefs"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ExportHFDataset(ctx, shard, HFExport{Out: out, Split: "test_prefs", RowsPerFile: 1}); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(out, "data", "*.parquet"))
	for i := range files {
		files[i] = filepath.Base(files[i])
	}
	sort.Strings(files)
	want := []string{"test_prefs-00000-of-00002.parquet", "test_prefs-00001-of-00002.parquet", "train_prefs-00000-of-00001.parquet"}
	if !reflect.DeepEqual(files, want) {
		t.Errorf("files %v, want %v", files, want)
	}
	card, _ := os.ReadFile(filepath.Join(out, "README.md"))
	for _, s := range []string{"  - split: test_prefs\n    path: data/test_prefs-*\n  - split: train_prefs\n    path: data/train_prefs-*\n",
		"  - name: test_prefs\n", "  - name: train_prefs\n", "    num_examples: 2\n"} {
		if !strings.Contains(string(card), s) {
			t.Errorf("the card lacks %q:\n%s", s, card)
		}
	}
	if _, err := ExportHFDataset(ctx, shard, HFExport{Out: out, Split: "train_prefs"}); err == nil || !strings.Contains(err.Error(), `already holds the split "train_prefs"`) {
		t.Errorf("the same split again: %v", err)
	}
	// A text (not conversational) set has other columns.
	text := hfFixture(t, t.TempDir())
	rows, _, err := shardio.ReadShard(ctx, shardio.ShardRef{Path: text, Rows: -1}, schemas.ScoredRows)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for i := range rows {
		r := rows[i].(schemas.Scored)
		r.Messages = ""
		rows[i] = r
	}
	md := schemas.NewMetadata().With(schemas.KeyTokenization, TokenizationTRL)
	if err := schemas.WriteFile(&buf, schemas.FormatArrow, schemas.ScoredRows, md, rows); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(text, buf.Bytes(), 0o644)
	if _, err := ExportHFDataset(ctx, text, HFExport{Out: out, Split: "validation"}); err == nil || !strings.Contains(err.Error(), "other columns") {
		t.Errorf("a split of other columns: %v", err)
	}
	if _, err := ExportHFDataset(ctx, shard, HFExport{Out: filepath.Join(t.TempDir(), "x"), Split: "bad/name"}); err == nil {
		t.Error("a split name with a slash was taken")
	}
}

// A set that mixes text and conversational rows, or holds none, is refused
// by name: a dataset column holds one type.
func TestExportRefusesMixedOrEmptySets(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		edit func([]schemas.Row) []schemas.Row
		want string
	}{
		{"mixed", func(rows []schemas.Row) []schemas.Row {
			r := rows[1].(schemas.Scored)
			r.Messages = ""
			rows[1] = r
			return rows
		}, "row b: the shards mix text and conversational records"},
		{"empty", func([]schemas.Row) []schemas.Row { return nil }, "holds no rows"},
	} {
		path := hfFixture(t, t.TempDir())
		rows, md, err := shardio.ReadShard(ctx, shardio.ShardRef{Path: path, Rows: -1}, schemas.ScoredRows)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := schemas.WriteFile(&buf, schemas.FormatArrow, schemas.ScoredRows, md, c.edit(rows)); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(path, buf.Bytes(), 0o644)
		out := filepath.Join(t.TempDir(), "hf")
		if _, err := ExportHFDataset(ctx, path, HFExport{Out: out}); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming %s and saying %q", c.name, err, path, c.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: the refused export left %s (%v)", c.name, out, err)
		}
	}
}
