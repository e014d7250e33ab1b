package stages

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages/shardio"
)

// A Hugging Face dataset folder with TRL's precomputed columns —
// prompt_ids, chosen_ids, rejected_ids, ref_chosen_logps,
// ref_rejected_logps, as TRL's DPOTrainer writes them, or as srdpo export
// writes them — trains without scoring. srdpo's own columns (srdpo_id,
// the p⊕x ids and sums, gold scores) come back when present, and so does
// the provenance srdpo export puts in each file's metadata; a dataset
// made elsewhere has none, which the training log says.

// isDatasetFolder tells a dataset folder from shard patterns: a path that
// is neither a glob, a manifest nor a shard, with Parquet files under it.
func isDatasetFolder(ctx context.Context, p string) bool {
	if strings.ContainsAny(p, "*?[") || strings.HasSuffix(p, schemas.ManifestSuffix) {
		return false
	}
	if _, err := schemas.FormatOf(p); err == nil {
		return false
	}
	files, isFile, err := folderFiles(ctx, p)
	if err != nil || isFile {
		return false
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".parquet") {
			return true
		}
	}
	return false
}

// hfTrainingFiles are the Parquet files a dataset folder trains on: its
// train split's when it names one, else all of them.
func hfTrainingFiles(ctx context.Context, folder string) ([]string, error) {
	files, err := DatasetFiles(ctx, folder, "train")
	if err != nil {
		if files, err = DatasetFiles(ctx, folder, ""); err != nil {
			return nil, err
		}
	}
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, ".parquet") {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no Parquet files under %s", folder)
	}
	return out, nil
}

// openHFDataset reads a dataset folder's training rows as scored rows, with
// the srdpo metadata its files carry (none for a dataset made elsewhere).
func openHFDataset(ctx context.Context, folder string) (rowsInMemory, schemas.Metadata, error) {
	files, err := hfTrainingFiles(ctx, folder)
	if err != nil {
		return nil, nil, err
	}
	var rows rowsInMemory
	var md schemas.Metadata
	for i, f := range files {
		part, fmd, err := readHFParquet(ctx, f)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f, err)
		}
		if i == 0 {
			md = fmd
		} else if err := fmd.Expect(md); err != nil {
			return nil, nil, fmt.Errorf("%s was written by another run than %s: %w", f, files[0], err)
		}
		rows = append(rows, part...)
	}
	return rows, md, nil
}

// readHFParquet reads one Parquet file of TRL's columns.
func readHFParquet(ctx context.Context, name string) (_ []schemas.Row, _ schemas.Metadata, err error) {
	defer schemas.RecoverMalformed(&err, name)
	data, err := shardio.ReadAll(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	pf, mem, err := schemas.OpenParquet(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, nil, err
	}
	defer pf.Close()
	md := schemas.Metadata{}
	kv := pf.MetaData().KeyValueMetadata()
	keys, vals := kv.Keys(), kv.Values()
	for i, k := range keys {
		if strings.HasPrefix(k, "srdpo.") {
			md[k] = vals[i]
		}
	}
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1024}, mem)
	if err != nil {
		return nil, nil, err
	}
	tbl, err := fr.ReadTable(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 1024)
	defer tr.Release()
	var out []schemas.Row
	for tr.Next() {
		rec := tr.RecordBatch()
		cols := hfRecordColumns(rec)
		for _, need := range []string{"prompt_ids", "chosen_ids", "rejected_ids", "ref_chosen_logps", "ref_rejected_logps"} {
			if cols[need] == nil {
				return nil, nil, fmt.Errorf("no column %s: a dataset trains without scoring only with TRL's precomputed columns (prompt_ids, chosen_ids, rejected_ids, ref_chosen_logps, ref_rejected_logps)", need)
			}
		}
		for i := 0; i < int(rec.NumRows()); i++ {
			r, err := hfScoredRow(cols, i)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, r)
		}
	}
	return out, md, tr.Err()
}

func hfRecordColumns(rec arrow.RecordBatch) map[string]arrow.Array {
	cols := map[string]arrow.Array{}
	for i, f := range rec.Schema().Fields() {
		cols[f.Name] = rec.Column(i)
	}
	return cols
}

// hfIDs is row i of an integer list column.
func hfIDs(a arrow.Array, i int, col string) ([]int32, error) {
	l, ok := a.(*array.List)
	if !ok || l.IsNull(i) {
		return nil, fmt.Errorf("row %d: %s is not a list of ids", i, col)
	}
	lo, hi := l.ValueOffsets(i)
	out := make([]int32, 0, hi-lo)
	switch v := l.ListValues().(type) {
	case *array.Int64:
		for j := lo; j < hi; j++ {
			if x := v.Value(int(j)); x < 0 || x > 1<<31-1 {
				return nil, fmt.Errorf("row %d: %s holds id %d", i, col, x)
			} else {
				out = append(out, int32(x))
			}
		}
	case *array.Int32:
		for j := lo; j < hi; j++ {
			out = append(out, v.Value(int(j)))
		}
	default:
		return nil, fmt.Errorf("%s holds %s, want integers", col, l.ListValues().DataType())
	}
	return out, nil
}

// hfFloat is row i of a float column; ok is false for a null or no column.
func hfFloat(a arrow.Array, i int) (float64, bool) {
	if a == nil || a.IsNull(i) {
		return 0, false
	}
	switch v := a.(type) {
	case *array.Float32:
		return float64(v.Value(i)), true
	case *array.Float64:
		return v.Value(i), true
	}
	return 0, false
}

// hfScoredRow is row i as a scored row: TRL's columns, and srdpo's own
// where present (the float64 sums before the float32 ones).
func hfScoredRow(cols map[string]arrow.Array, i int) (schemas.Scored, error) {
	var r schemas.Scored
	var err error
	if r.PromptIDs, err = hfIDs(cols["prompt_ids"], i, "prompt_ids"); err != nil {
		return r, err
	}
	if r.ChosenIDs, err = hfIDs(cols["chosen_ids"], i, "chosen_ids"); err != nil {
		return r, err
	}
	if r.RejectedIDs, err = hfIDs(cols["rejected_ids"], i, "rejected_ids"); err != nil {
		return r, err
	}
	if a := cols["srdpo_aug_prompt_ids"]; a != nil {
		if r.AugPromptIDs, err = hfIDs(a, i, "srdpo_aug_prompt_ids"); err != nil {
			return r, err
		}
	}
	for _, f := range []struct {
		dst       *float64
		cols      []string
		mandatory bool
	}{
		{&r.RefLogpChosen, []string{"srdpo_ref_chosen_logps", "ref_chosen_logps"}, true},
		{&r.RefLogpRejected, []string{"srdpo_ref_rejected_logps", "ref_rejected_logps"}, true},
		{&r.RefLogpChosenAug, []string{"srdpo_ref_chosen_logps_aug"}, false},
		{&r.RefLogpRejectedAug, []string{"srdpo_ref_rejected_logps_aug"}, false},
	} {
		found := false
		for _, c := range f.cols {
			if v, ok := hfFloat(cols[c], i); ok {
				*f.dst, found = v, true
				break
			}
		}
		if !found && f.mandatory {
			return r, fmt.Errorf("row %d: %s is null", i, f.cols[len(f.cols)-1])
		}
	}
	for _, f := range []struct {
		dst **float64
		col string
	}{{&r.ScoreChosen, "srdpo_score_chosen"}, {&r.ScoreRejected, "srdpo_score_rejected"}, {&r.Offset, "srdpo_offset"}} {
		if v, ok := hfFloat(cols[f.col], i); ok {
			*f.dst = &v
		}
	}
	if a, ok := cols["srdpo_id"].(*array.String); ok && !a.IsNull(i) {
		r.ID = a.Value(i)
	} else {
		// TRL's datasets carry no id: a hash of the pair's ids, stable
		// across files and runs.
		h := sha256.New()
		fmt.Fprint(h, r.PromptIDs, r.ChosenIDs, r.RejectedIDs)
		r.ID = hex.EncodeToString(h.Sum(nil)[:16])
	}
	r.PromptTokens, r.AugPromptTokens = int32(len(r.PromptIDs)), int32(len(r.AugPromptIDs))
	r.ChosenTokens, r.RejectedTokens = int32(len(r.ChosenIDs)), int32(len(r.RejectedIDs))
	return r, nil
}
