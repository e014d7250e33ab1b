package stages

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/srdpo/srdpo/schemas"
)

// readLines emits each non-blank line; lines over max keep their first max
// bytes and are flagged, without holding the rest in memory. base is the
// file offset the reader starts at.
func readLines(br *bufio.Reader, base int64, max int, emit func(rawRecord)) error {
	return readLineRange(br, lineRange{Start: base, End: -1}, max, emit)
}

// lineRange is where a reader of lines starts — the offset, and the lines
// and records before it — and the offset it stops at: a record that
// starts at or after End (≥ 0) belongs to the next range.
type lineRange struct {
	Start, End   int64
	Line, Record int64
}

// readLineRange is readLines over a range: br is positioned at r.Start.
func readLineRange(br *bufio.Reader, r lineRange, max int, emit func(rawRecord)) error {
	offset, line, record := r.Start, r.Line, r.Record
	for {
		start := offset
		if r.End >= 0 && start >= r.End {
			return nil
		}
		var buf []byte
		over := false
		for {
			chunk, err := br.ReadSlice('\n')
			offset += int64(len(chunk))
			if room := max + 1 - len(buf); room > 0 {
				buf = append(buf, chunk[:min(len(chunk), room)]...)
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil && err != io.EOF {
				return classify(start, err)
			}
			if len(chunk) == 0 && err == io.EOF && len(buf) == 0 {
				return nil
			}
			break
		}
		line++
		buf = bytes.TrimRight(buf, "\r\n")
		if len(buf) > max {
			buf, over = buf[:max], true
		}
		if len(bytes.TrimSpace(buf)) == 0 && !over {
			continue // a blank line is not a record
		}
		record++
		emit(rawRecord{Line: line, Record: record, Offset: start, Data: buf, Over: over})
	}
}

// readJSONArray emits each element of a top-level JSON array.
func readJSONArray(br *bufio.Reader, base int64, max int, emit func(rawRecord)) error {
	dec := json.NewDecoder(br)
	if _, err := dec.Token(); err != nil { // the '['
		return classify(base+dec.InputOffset(), err)
	}
	var record int64
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return classify(base+dec.InputOffset(), fmt.Errorf("malformed JSON in array element %d: %w", record+1, err))
		}
		record++
		off := base + dec.InputOffset() - int64(len(raw))
		if len(raw) > max {
			emit(rawRecord{Record: record, Offset: off, Data: raw[:max], Over: true})
			continue
		}
		emit(rawRecord{Record: record, Offset: off, Data: raw})
	}
	if _, err := dec.Token(); err != nil { // the ']'
		return classify(base+dec.InputOffset(), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &positionedError{offset: base + dec.InputOffset(), err: fmt.Errorf("content after the closing ]")}
	}
	return nil
}

// readParquetRecords emits each Parquet row as a JSON object, so all
// formats go through one parser. Parquet needs random access: a local,
// uncompressed file is read in place; any other stream (gs://, gzip) is
// first copied to a temporary file, never held in memory.
func readParquetRecords(r io.Reader, emit func(rawRecord)) error {
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			return readParquetAt(f, st.Size(), emit)
		}
	}
	tmp, err := os.CreateTemp("", "srdpo-parquet-*")
	if err != nil {
		return err
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
	n, err := io.Copy(tmp, r)
	if err != nil {
		if _, local := err.(*fs.PathError); local {
			return fmt.Errorf("buffering a Parquet file in %s: %w", os.TempDir(), err)
		}
		return classify(0, err)
	}
	return readParquetAt(tmp, n, emit)
}

// readParquetAt emits the rows of a Parquet file of size bytes, a record
// batch of parquetBatchRows at a time: memory holds one batch (and its
// row group's pages), whatever the file's size.
func readParquetAt(ra io.ReaderAt, size int64, emit func(rawRecord)) (err error) {
	// Every failure here, a recovered panic included, is the file's
	// content: a positioned error (of the whole file).
	defer func() {
		if err != nil {
			err = &positionedError{offset: -1, err: err}
		}
	}()
	defer schemas.RecoverMalformed(&err, "not a readable Parquet file")
	pf, mem, err := schemas.OpenParquet(io.NewSectionReader(ra, 0, size), size)
	if err != nil {
		return fmt.Errorf("not a readable Parquet file: %w", err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: parquetBatchRows}, mem)
	if err != nil {
		return err
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		return err
	}
	defer rr.Release()
	var record int64
	for rr.Next() {
		var buf bytes.Buffer
		if err := array.RecordToJSON(rr.RecordBatch(), &buf); err != nil {
			return fmt.Errorf("row %d: %w", record+1, err)
		}
		for _, l := range bytes.Split(bytes.TrimRight(buf.Bytes(), "\n"), []byte("\n")) {
			record++
			emit(rawRecord{Record: record, Offset: -1, Data: append([]byte(nil), l...)})
		}
	}
	if err := rr.Err(); err != nil && err != io.EOF {
		return fmt.Errorf("after row %d: %w", record, err)
	}
	return nil
}

// parquetBatchRows is the rows of a Parquet file decoded at a time.
const parquetBatchRows = 1024
