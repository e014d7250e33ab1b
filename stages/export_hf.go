package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages/shardio"
)

// HFExport says how scored shards become a Hugging Face dataset folder.
type HFExport struct {
	Out          string  // the folder, local or gs://; it must not hold a dataset already
	TestFraction float64 // pairs held out as the "test" split, by heldOut's rule on the id (the training stage's); 0: train only
	RowsPerFile  int64   // rows a Parquet file holds at most (default 100,000)
	Config       string  // the config's name in the card (default "default")
	// Split names the split the rows go to (default "train"; the held-out
	// ones go to "test"). A folder holding other splits of the same
	// features gains this one, and the card lists them all: a corpus's
	// splits scored apart are exported as they were given.
	Split string
}

// HFExportResult is what an export wrote.
type HFExportResult struct {
	Rows  map[string]int64 // by split
	Files []string         // relative to Out, in order
	TRL   bool             // the TRL columns were written (scored with --tokenization trl)
}

// hfBatchRows is how many rows go into one Arrow record batch.
const hfBatchRows = 1024

// ExportHFDataset writes the scored shards of pattern as a dataset folder
// that `datasets` loads as it is: data/{split}-{i:05d}-of-{n:05d}.parquet
// with the "huggingface" features metadata, and a README.md card. Columns:
// prompt, chosen, rejected as the corpus gave them (strings, or message
// lists of role and content); with --tokenization trl, TRL's prompt_ids,
// chosen_ids, rejected_ids (int64 lists) and ref_chosen_logps,
// ref_rejected_logps (float32 sums over completion tokens); and srdpo's own
// columns, all named srdpo_*. Rows go in id order; memory does not grow
// with the corpus (two passes over the shards, a record batch at a time).
func ExportHFDataset(ctx context.Context, pattern string, o HFExport) (HFExportResult, error) {
	o, err := o.withDefaults()
	if err != nil {
		return HFExportResult{}, err
	}
	store, err := openScored(ctx, pattern)
	if err != nil {
		return HFExportResult{}, err
	}
	defer store.Close()
	res := HFExportResult{Rows: map[string]int64{}, TRL: store.md.Get(schemas.KeyTokenization) == TokenizationTRL}
	conv, err := surveyRows(store, o, res.Rows)
	if err != nil {
		return res, fmt.Errorf("%s: %w", pattern, err)
	}
	cols := hfColumns(conv, res.TRL)
	featuresJSON, err := hfFeaturesJSON(cols)
	if err != nil {
		return res, err
	}
	others, err := existingSplits(ctx, o.Out, res.Rows, featuresJSON)
	if err != nil {
		return res, err
	}
	// Each file carries the features and srdpo's provenance, so a dataset
	// brought back to srdpo train is checked against the model as shards are.
	keys, vals := []string{"huggingface"}, []string{featuresJSON}
	for _, k := range sortedMetadataKeys(store.md) {
		keys, vals = append(keys, k), append(vals, store.md[k])
	}
	md := arrow.NewMetadata(keys, vals)
	schema := arrow.NewSchema(hfArrowFields(cols), &md)
	// Pass 2: the rows, each split into its files.
	fs, err := filesystem.New(ctx, o.Out)
	if err != nil {
		return res, err
	}
	defer fs.Close()
	writers := map[string]*hfSplitWriter{}
	var order []string
	for _, name := range []string{o.Split, "test"} {
		if n := res.Rows[name]; n > 0 {
			writers[name] = &hfSplitWriter{ctx: ctx, fs: fs, out: o.Out, schema: schema, cols: cols, split: name,
				files: int((n + o.RowsPerFile - 1) / o.RowsPerFile), perFile: o.RowsPerFile}
			order = append(order, name)
		}
	}
	err = store.walk(func(_ rowAt, r schemas.Scored) error {
		return writers[hfSplitOf(r.ID, o.TestFraction, o.Split)].add(r)
	})
	for _, name := range order {
		if cerr := writers[name].close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return res, err
	}
	splits := others
	for _, name := range order {
		w := writers[name]
		res.Files = append(res.Files, w.written...)
		splits = append(splits, hfSplit{name: name, rows: res.Rows[name], files: w.files, bytes: w.bytes})
	}
	sort.Slice(splits, func(i, j int) bool { return splits[i].name < splits[j].name })
	card := hfCard(o.Config, cols, splits, hfProvenance(store.md, res.TRL))
	if err := shardio.WriteFile(ctx, fs, joinPath(o.Out, "README.md"), []byte(card)); err != nil {
		return res, err
	}
	res.Files = append(res.Files, "README.md")
	return res, nil
}

// withDefaults fills the export's defaults and checks its settings.
func (o HFExport) withDefaults() (HFExport, error) {
	if o.RowsPerFile <= 0 {
		o.RowsPerFile = 100_000
	}
	if o.Config == "" {
		o.Config = "default"
	}
	if o.Split == "" {
		o.Split = "train"
	}
	if !validSplitName(o.Split) || o.TestFraction > 0 && o.Split == "test" {
		return o, fmt.Errorf("split name %q: want letters, digits and _ (and not \"test\" with a test fraction)", o.Split)
	}
	if o.TestFraction < 0 || o.TestFraction >= 1 {
		return o, fmt.Errorf("test fraction %g: want 0 ≤ f < 1", o.TestFraction)
	}
	return o, nil
}

// surveyRows is the export's first pass: whether the text columns are
// conversational (all rows alike), checked messages, and the rows of each
// split, counted into rows.
func surveyRows(store *scoredStore, o HFExport, rows map[string]int64) (conv bool, err error) {
	seen := false
	err = store.walk(func(_ rowAt, r schemas.Scored) error {
		c := r.Messages != ""
		if seen && c != conv {
			return fmt.Errorf("row %s: the shards mix text and conversational records; a dataset column holds one type (export them apart)", r.ID)
		}
		conv, seen = c, true
		if c {
			if _, err := hfMessages(r); err != nil {
				return err
			}
		}
		rows[hfSplitOf(r.ID, o.TestFraction, o.Split)]++
		return nil
	})
	if err == nil && !seen {
		err = fmt.Errorf("holds no rows")
	}
	return conv, err
}

func sortedMetadataKeys(md schemas.Metadata) []string {
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// hfSplitOf is a pair's split: "test" for the held-out ones, else split.
func hfSplitOf(id string, testFraction float64, split string) string {
	if testFraction > 0 && heldOut(id, testFraction) {
		return "test"
	}
	return split
}

func validSplitName(s string) bool {
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return s != ""
}

// existingSplits are the splits a folder already holds: none of them may
// be one this export writes, and their files must have these features.
// Their sizes go into the card beside the new splits'.
func existingSplits(ctx context.Context, out string, ours map[string]int64, featuresJSON string) (_ []hfSplit, err error) {
	defer schemas.RecoverMalformed(&err, "a Parquet file already in "+out)
	pattern := joinPath(out, "data/*.parquet")
	fs, err := filesystem.New(ctx, pattern)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	files, err := fs.List(ctx, pattern)
	if err != nil {
		return nil, nil // nothing there yet
	}
	sort.Strings(files)
	bySplit := map[string]*hfSplit{}
	var order []string
	for _, f := range files {
		base := f[strings.LastIndex(f, "/")+1:]
		name, _, ok := strings.Cut(base, "-")
		if !ok {
			return nil, fmt.Errorf("%s: not a split's file (want data/{split}-NNNNN-of-NNNNN.parquet)", f)
		}
		if _, clash := ours[name]; clash {
			return nil, fmt.Errorf("%s already holds the split %q (%s); export into a new folder or under another --split", out, name, f)
		}
		data, err := filesystem.Read(ctx, fs, f)
		if err != nil {
			return nil, err
		}
		pf, _, err := schemas.OpenParquet(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		got := pf.MetaData().KeyValueMetadata().FindValue("huggingface")
		rows := pf.NumRows()
		pf.Close()
		if got == nil || *got != featuresJSON {
			return nil, fmt.Errorf("%s holds a split with other columns (%s): export into a new folder", out, f)
		}
		s, ok := bySplit[name]
		if !ok {
			s = &hfSplit{name: name}
			bySplit[name] = s
			order = append(order, name)
		}
		s.rows += rows
		s.files++
		s.bytes += int64(len(data))
	}
	var splits []hfSplit
	for _, name := range order {
		splits = append(splits, *bySplit[name])
	}
	return splits, nil
}

// hfColumns are the exported columns in order.
func hfColumns(conv, trl bool) []hfColumn {
	text := arrow.DataType(arrow.BinaryTypes.String)
	if conv {
		text = arrow.ListOf(arrow.StructOf(
			arrow.Field{Name: "content", Type: arrow.BinaryTypes.String, Nullable: true},
			arrow.Field{Name: "role", Type: arrow.BinaryTypes.String, Nullable: true}))
	}
	ids := arrow.ListOf(arrow.PrimitiveTypes.Int64)
	f64 := arrow.PrimitiveTypes.Float64
	cols := []hfColumn{{"prompt", text}, {"chosen", text}, {"rejected", text}}
	idPrefix := "srdpo_"
	if trl {
		idPrefix = ""
	}
	cols = append(cols, hfColumn{idPrefix + "prompt_ids", ids}, hfColumn{idPrefix + "chosen_ids", ids}, hfColumn{idPrefix + "rejected_ids", ids})
	if trl {
		cols = append(cols, hfColumn{"ref_chosen_logps", arrow.PrimitiveTypes.Float32}, hfColumn{"ref_rejected_logps", arrow.PrimitiveTypes.Float32})
	}
	return append(cols,
		hfColumn{"srdpo_id", arrow.BinaryTypes.String},
		hfColumn{"srdpo_aug_prompt_ids", ids},
		hfColumn{"srdpo_ref_chosen_logps", f64}, hfColumn{"srdpo_ref_rejected_logps", f64},
		hfColumn{"srdpo_ref_chosen_logps_aug", f64}, hfColumn{"srdpo_ref_rejected_logps_aug", f64},
		hfColumn{"srdpo_score_chosen", f64}, hfColumn{"srdpo_score_rejected", f64}, hfColumn{"srdpo_offset", f64},
		hfColumn{"srdpo_source_format", arrow.BinaryTypes.String})
}

func hfArrowFields(cols []hfColumn) []arrow.Field {
	out := make([]arrow.Field, len(cols))
	for i, c := range cols {
		out[i] = arrow.Field{Name: c.name, Type: c.typ, Nullable: true}
	}
	return out
}

// hfProvenance is what the card records of the scoring run.
func hfProvenance(md schemas.Metadata, trl bool) map[string]string {
	out := map[string]string{"reference dtype": "float32 (sums accumulated in float64)"}
	for _, k := range []string{schemas.KeyModelFingerprint, schemas.KeyTokenizerFingerprint, schemas.KeyChatTemplate,
		schemas.KeyTokenization, schemas.KeyMaxLength, schemas.KeyMaxPromptLength, schemas.KeyTruncationMode,
		schemas.KeyAugPrompt, schemas.KeyAugSeparator, schemas.KeyAugPosition, schemas.KeyResponseEOS, schemas.KeyToolVersion} {
		if v := md.Get(k); v != "" {
			out[k] = v
		}
	}
	if !trl {
		out["note"] = "scored with --tokenization srdpo: the ids and sums are srdpo's rule, not TRL's; score with --tokenization trl for a TRL run"
	}
	return out
}

// hfMessages are a conversational row's messages as role and content.
func hfMessages(r schemas.Scored) ([3][][2]string, error) {
	var raw map[string][]map[string]any
	var out [3][][2]string
	if err := json.Unmarshal([]byte(r.Messages), &raw); err != nil {
		return out, fmt.Errorf("row %s: messages: %v", r.ID, err)
	}
	for i, part := range []string{"prompt", "chosen", "rejected"} {
		for _, m := range raw[part] {
			role, ok1 := m["role"].(string)
			content, ok2 := m["content"].(string)
			if !ok1 || !ok2 {
				return out, fmt.Errorf("row %s: a %s message without string role and content", r.ID, part)
			}
			for k := range m {
				if k != "role" && k != "content" {
					return out, fmt.Errorf("row %s: a %s message has the field %q; only role and content are exported", r.ID, part, k)
				}
			}
			out[i] = append(out[i], [2]string{content, role})
		}
	}
	return out, nil
}
