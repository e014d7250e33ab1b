package schemas

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// Format is a file format rows can be written in.
type Format string

const (
	FormatArrow   Format = "arrow"   // Arrow IPC file format
	FormatParquet Format = "parquet" // same columns, schema metadata kept
	FormatJSONL   Format = "jsonl"   // one JSON object a row; for files people read (dead letters)
)

// ParseFormat checks a user-given format name.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(s)); f {
	case FormatArrow, FormatParquet, FormatJSONL:
		return f, nil
	}
	return "", fmt.Errorf("unknown format %q: want arrow, parquet or jsonl", s)
}

// Ext is the file name extension of the format, with its dot.
func (f Format) Ext() string { return "." + string(f) }

// FormatOf tells a file's format by its extension.
func FormatOf(name string) (Format, error) {
	return ParseFormat(strings.TrimPrefix(path.Ext(name), "."))
}

// batchRows bounds a record batch so readers can stream large shards.
const batchRows = 8192

// WriteFile writes rows of tb to w in format f with md as schema metadata. It
// does not close w: committing the file is the caller's business.
func WriteFile(w io.Writer, f Format, tb *Table, md Metadata, rows []Row) error {
	fw, err := NewFileWriter(w, f, tb, md)
	if err != nil {
		return err
	}
	for _, r := range rows {
		if err := fw.Write(r); err != nil {
			fw.Close()
			return err
		}
	}
	return fw.Close()
}

// FileWriter writes rows of a table one at a time, in record batches of
// batchRows, so a file of any size is written in bounded memory; the bytes
// are those of WriteFile on the same rows.
type FileWriter struct {
	tb      *Table
	md      Metadata
	mem     memory.Allocator
	pending []Row
	batch   int // rows a record batch
	batches int
	write   func(arrow.RecordBatch) error
	close   func() error
}

// NewFileWriter starts a file of tb in format f on w (not closed by Close).
func NewFileWriter(w io.Writer, f Format, tb *Table, md Metadata) (*FileWriter, error) {
	fw := &FileWriter{tb: tb, md: md, mem: memory.DefaultAllocator, batch: batchRows}
	schema := tb.Schema(md)
	switch f {
	case FormatArrow:
		iw, err := ipc.NewFileWriter(w, ipc.WithSchema(schema), ipc.WithAllocator(fw.mem))
		if err != nil {
			return nil, err
		}
		fw.write, fw.close = iw.Write, iw.Close
	case FormatParquet:
		// pqarrow closes the writer it is handed; shield ours.
		pw, err := pqarrow.NewFileWriter(schema, struct{ io.Writer }{w},
			parquet.NewWriterProperties(parquet.WithAllocator(fw.mem)),
			pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			return nil, err
		}
		fw.write, fw.close = pw.WriteBuffered, pw.Close
	case FormatJSONL:
		fw.write = func(rec arrow.RecordBatch) error { return array.RecordToJSON(rec, w) }
		fw.close = func() error { return nil }
	case formatRun:
		iw := ipc.NewWriter(w, ipc.WithSchema(schema), ipc.WithAllocator(fw.mem))
		fw.write, fw.close = iw.Write, iw.Close
	default:
		return nil, fmt.Errorf("unknown format %q", f)
	}
	return fw, nil
}

// Write adds a row.
func (fw *FileWriter) Write(r Row) error {
	fw.pending = append(fw.pending, r)
	if len(fw.pending) == fw.batch {
		return fw.flush()
	}
	return nil
}

func (fw *FileWriter) flush() error {
	rec, err := fw.tb.Encode(fw.mem, fw.pending, fw.md)
	if err != nil {
		return err
	}
	defer rec.Release()
	fw.pending, fw.batches = fw.pending[:0], fw.batches+1
	return fw.write(rec)
}

// Close writes what is pending — an empty batch for a file of no rows, so
// that every file has one — and ends the file.
func (fw *FileWriter) Close() error {
	if len(fw.pending) > 0 || fw.batches == 0 {
		if err := fw.flush(); err != nil {
			fw.close()
			return err
		}
	}
	return fw.close()
}

// formatRun is the Arrow IPC stream format: for a sink's sorted runs,
// written once and read once from start to end, with no footer to seek to.
const formatRun Format = "arrows"

// NewRunWriter starts a run of tb on w: rows in Arrow's IPC stream format.
func NewRunWriter(w io.Writer, tb *Table) (*FileWriter, error) {
	fw, err := NewFileWriter(w, formatRun, tb, nil)
	if err == nil {
		fw.batch = runBatchRows
	}
	return fw, err
}

// runBatchRows bounds a run's record batches: a merge holds one batch of
// each run it reads, so small batches keep a merge of many runs small.
const runBatchRows = 256

// RunReader reads a run's rows in order, a record batch at a time.
type RunReader struct {
	tb   *Table
	r    *ipc.Reader
	rows []Row
	read int
}

// NewRunReader reads a run of tb from r.
func NewRunReader(r io.Reader, tb *Table) (*RunReader, error) {
	ir, err := ipc.NewReader(r, ipc.WithAllocator(memory.DefaultAllocator))
	if err != nil {
		return nil, fmt.Errorf("not an Arrow IPC stream: %w", err)
	}
	if err := tb.CheckSchema(ir.Schema()); err != nil {
		ir.Release()
		return nil, err
	}
	return &RunReader{tb: tb, r: ir}, nil
}

// Next is the next row, or io.EOF after the last.
func (rr *RunReader) Next() (Row, error) {
	for len(rr.rows) == 0 {
		if !rr.r.Next() {
			if err := rr.r.Err(); err != nil && err != io.EOF {
				return nil, err
			}
			return nil, io.EOF
		}
		rows, err := rr.tb.decode(rr.r.RecordBatch(), rr.read)
		if err != nil {
			return nil, err
		}
		rr.rows, rr.read = rows, rr.read+len(rows)
	}
	r := rr.rows[0]
	rr.rows = rr.rows[1:]
	return r, nil
}

// Close releases the reader (not the io.Reader under it).
func (rr *RunReader) Close() { rr.r.Release() }

// ReadFile decodes a whole Arrow IPC or Parquet file of tb. It checks the
// table name, schema version and columns, and validates every row.
func ReadFile(data []byte, f Format, tb *Table) (rows []Row, md Metadata, err error) {
	defer RecoverMalformed(&err, fmt.Sprintf("not a readable %s file of table %s", f, tb.Name))
	return readFile(data, f, tb)
}

func readFile(data []byte, f Format, tb *Table) ([]Row, Metadata, error) {
	var (
		schema *arrow.Schema
		recs   []arrow.RecordBatch
	)
	switch f {
	case FormatArrow:
		r, err := ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(FileAllocator(int64(len(data)))))
		if err != nil {
			return nil, nil, fmt.Errorf("not an Arrow IPC file: %w", err)
		}
		defer r.Close()
		schema = r.Schema()
		for i := 0; i < r.NumRecords(); i++ {
			rec, err := r.RecordBatch(i)
			if err != nil {
				return nil, nil, err
			}
			rec.Retain()
			recs = append(recs, rec)
		}
	case FormatParquet:
		pf, mem, err := OpenParquet(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, nil, fmt.Errorf("not a Parquet file: %w", err)
		}
		defer pf.Close()
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: batchRows}, mem)
		if err != nil {
			return nil, nil, err
		}
		if schema, err = fr.Schema(); err != nil {
			return nil, nil, err
		}
		if err := tb.CheckSchema(schema); err != nil {
			return nil, nil, err
		}
		rr, err := fr.GetRecordReader(context.Background(), nil, nil)
		if err != nil {
			return nil, nil, err
		}
		defer rr.Release()
		for rr.Next() {
			rec := rr.RecordBatch()
			rec.Retain()
			recs = append(recs, rec)
		}
		if err := rr.Err(); err != nil && err != io.EOF {
			return nil, nil, err
		}
	default:
		return nil, nil, fmt.Errorf("cannot read %q files back", f)
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	if err := tb.CheckSchema(schema); err != nil {
		return nil, nil, err
	}
	var rows []Row
	for _, rec := range recs {
		got, err := tb.decode(rec, len(rows))
		if err != nil {
			return nil, nil, err
		}
		rows = append(rows, got...)
	}
	return rows, MetadataFrom(schema.Metadata()), nil
}

// ReadRows is ReadFile with the rows as their Go type T, which must be the
// table's row type.
func ReadRows[T Row](data []byte, f Format, tb *Table) ([]T, Metadata, error) {
	rows, md, err := ReadFile(data, f, tb)
	if err != nil {
		return nil, nil, err
	}
	out := make([]T, len(rows))
	for i, r := range rows {
		t, ok := r.(T)
		if !ok {
			return nil, nil, fmt.Errorf("table %s: a row is %T, not %T", tb.Name, r, t)
		}
		out[i] = t
	}
	return out, md, nil
}

// EachLine calls fn with each line of b (without its line break) and its
// 1-based number, whatever the line's length: unlike bufio.Scanner, a long
// line is never a silent stop.
func EachLine(b []byte, fn func(line int, text []byte) error) error {
	for n := 1; len(b) > 0; n++ {
		i := bytes.IndexByte(b, '\n')
		text := b
		if i >= 0 {
			text, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if err := fn(n, bytes.TrimSuffix(text, []byte("\r"))); err != nil {
			return err
		}
	}
	return nil
}
