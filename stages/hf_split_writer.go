package stages

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages/shardio"
)

// hfSplitWriter writes one split's files, a record batch at a time.
type hfSplitWriter struct {
	ctx     context.Context
	fs      filesystem.Interface
	out     string
	schema  *arrow.Schema
	cols    []hfColumn
	split   string
	files   int
	perFile int64

	file    int   // index of the open file
	inFile  int64 // rows in the open file
	batch   []schemas.Scored
	w       *pqarrow.FileWriter
	sink    *countingWriter
	tmp     string
	written []string
	bytes   int64
}

type countingWriter struct {
	w io.WriteCloser
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func (w *hfSplitWriter) name(i int) string {
	return fmt.Sprintf("data/%s-%05d-of-%05d.parquet", w.split, i, w.files)
}

func (w *hfSplitWriter) add(r schemas.Scored) error {
	if w.w == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	w.batch = append(w.batch, r)
	w.inFile++
	if len(w.batch) == hfBatchRows || w.inFile == w.perFile {
		if err := w.flush(); err != nil {
			return err
		}
	}
	if w.inFile == w.perFile {
		return w.finish()
	}
	return nil
}

func (w *hfSplitWriter) open() error {
	final := joinPath(w.out, w.name(w.file))
	w.tmp = final + ".tmp"
	if !strings.Contains(w.out, "://") {
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			return err
		}
	}
	f, err := w.fs.OpenWrite(w.ctx, w.tmp)
	if err != nil {
		return fmt.Errorf("writing %s: %w", final, err)
	}
	w.sink = &countingWriter{w: f}
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy))
	// pqarrow closes the writer it is handed; shield ours.
	pw, err := pqarrow.NewFileWriter(w.schema, struct{ io.Writer }{w.sink}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		f.Close()
		return err
	}
	w.w, w.inFile = pw, 0
	return nil
}

// finish closes the open file and gives it its final name.
func (w *hfSplitWriter) finish() error {
	if err := w.w.Close(); err != nil {
		return err
	}
	if err := w.sink.w.Close(); err != nil {
		return err
	}
	final := joinPath(w.out, w.name(w.file))
	if err := shardio.RenameFile(w.ctx, w.fs, w.tmp, final); err != nil {
		return err
	}
	w.written = append(w.written, w.name(w.file))
	w.bytes += w.sink.n
	w.w, w.file = nil, w.file+1
	return nil
}

func (w *hfSplitWriter) close() error {
	if w.w == nil {
		return nil
	}
	if err := w.flush(); err != nil {
		return err
	}
	return w.finish()
}

// flush writes the gathered rows as one record batch.
func (w *hfSplitWriter) flush() error {
	if len(w.batch) == 0 {
		return nil
	}
	b := array.NewRecordBuilder(memory.DefaultAllocator, w.schema)
	defer b.Release()
	for _, r := range w.batch {
		if err := appendHFRow(b, w.cols, r); err != nil {
			return err
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	w.batch = w.batch[:0]
	return w.w.WriteBuffered(rec)
}

// appendHFRow appends one scored row to the builder's columns.
func appendHFRow(b *array.RecordBuilder, cols []hfColumn, r schemas.Scored) error {
	var msgs [3][][2]string
	if r.Messages != "" {
		var err error
		if msgs, err = hfMessages(r); err != nil {
			return err
		}
	}
	texts := map[string]string{"prompt": r.Prompt, "chosen": r.Chosen, "rejected": r.Rejected}
	parts := map[string]int{"prompt": 0, "chosen": 1, "rejected": 2}
	ids := map[string][]int32{"prompt_ids": r.PromptIDs, "chosen_ids": r.ChosenIDs, "rejected_ids": r.RejectedIDs, "aug_prompt_ids": r.AugPromptIDs}
	floats := map[string]*float64{"srdpo_ref_chosen_logps": &r.RefLogpChosen, "srdpo_ref_rejected_logps": &r.RefLogpRejected,
		"srdpo_ref_chosen_logps_aug": &r.RefLogpChosenAug, "srdpo_ref_rejected_logps_aug": &r.RefLogpRejectedAug,
		"srdpo_score_chosen": r.ScoreChosen, "srdpo_score_rejected": r.ScoreRejected, "srdpo_offset": r.Offset}
	for i, c := range cols {
		fb := b.Field(i)
		switch {
		case c.name == "prompt" || c.name == "chosen" || c.name == "rejected":
			if r.Messages == "" {
				fb.(*array.StringBuilder).Append(texts[c.name])
				continue
			}
			lb := fb.(*array.ListBuilder)
			sb := lb.ValueBuilder().(*array.StructBuilder)
			lb.Append(true)
			for _, m := range msgs[parts[c.name]] {
				sb.Append(true)
				sb.FieldBuilder(0).(*array.StringBuilder).Append(m[0])
				sb.FieldBuilder(1).(*array.StringBuilder).Append(m[1])
			}
		case strings.HasSuffix(c.name, "_ids"):
			lb := fb.(*array.ListBuilder)
			vb := lb.ValueBuilder().(*array.Int64Builder)
			lb.Append(true)
			for _, id := range ids[strings.TrimPrefix(c.name, "srdpo_")] {
				vb.Append(int64(id))
			}
		case c.name == "ref_chosen_logps":
			fb.(*array.Float32Builder).Append(float32(r.RefLogpChosen))
		case c.name == "ref_rejected_logps":
			fb.(*array.Float32Builder).Append(float32(r.RefLogpRejected))
		case c.name == "srdpo_id":
			fb.(*array.StringBuilder).Append(r.ID)
		case c.name == "srdpo_source_format":
			fb.(*array.StringBuilder).Append(r.SourceFormat)
		default:
			v, ok := floats[c.name]
			if !ok {
				return fmt.Errorf("no value for column %s", c.name)
			}
			if v == nil {
				fb.AppendNull()
			} else {
				fb.(*array.Float64Builder).Append(*v)
			}
		}
	}
	return nil
}
