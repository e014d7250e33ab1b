package stages

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/fileio"
)

// countingReader counts the bytes it has delivered.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// countingReaderAt counts the bytes read from it.
type countingReaderAt struct {
	ra io.ReaderAt
	n  int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.ra.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// checkEveryRecordOnce checks records 1..n came once each, in order, and
// that the first came before the reader had delivered limit bytes.
func checkEveryRecordOnce(t *testing.T, got []string, n int, readAtFirst, limit, size int64) {
	t.Helper()
	if len(got) != n {
		t.Fatalf("%d records, want %d", len(got), n)
	}
	for i, id := range got {
		if want := fmt.Sprintf("r%06d", i+1); id != want {
			t.Fatalf("record %d is %s, want %s", i+1, id, want)
		}
	}
	if readAtFirst > limit {
		t.Errorf("the first record came after %d bytes of %d were read; want at most %d (read in pieces)", readAtFirst, size, limit)
	}
}

// A JSONL file 40 times the chunk size is read a chunk at a time: the
// first record comes out after one chunk, and every record once.
func TestJSONLReadInChunks(t *testing.T) {
	var b strings.Builder
	const n = 20000
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `{"id": "r%06d", "prompt": "%s", "chosen": "a", "rejected": "b"}`+"\n", i, strings.Repeat("p", 90))
	}
	src := &countingReader{r: strings.NewReader(b.String())}
	var got []string
	var readAtFirst int64 = -1
	err := readLines(bufio.NewReaderSize(src, corpusChunkBytes), 0, DefaultMaxRecordBytes, func(r rawRecord) {
		if readAtFirst < 0 {
			readAtFirst = src.n
		}
		p, perr := parseRecord(r.Data, parseOptions{Format: FormatAuto, Template: builtinTemplates[DefaultChatTemplate], IDField: "id", OffsetField: "offset"})
		if perr != nil {
			t.Fatalf("record %d: %v", r.Record, perr)
		}
		got = append(got, p.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	if size := int64(b.Len()); size < 40*corpusChunkBytes {
		t.Fatalf("the file is %d bytes, under 40 chunks", size)
	}
	checkEveryRecordOnce(t, got, n, readAtFirst, corpusChunkBytes, int64(b.Len()))
}

// A Parquet file of ten row groups is read a batch at a time through
// ranges: the first row comes out before a fifth of the file is read.
func TestParquetReadInRanges(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String}, {Name: "prompt", Type: arrow.BinaryTypes.String},
		{Name: "chosen", Type: arrow.BinaryTypes.String}, {Name: "rejected", Type: arrow.BinaryTypes.String}}, nil)
	const n = 10 * parquetBatchRows
	bld := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer bld.Release()
	for i := 1; i <= n; i++ {
		bld.Field(0).(*array.StringBuilder).Append(fmt.Sprintf("r%06d", i))
		bld.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("prompt %d %s", i, strings.Repeat("q", 40)))
		bld.Field(2).(*array.StringBuilder).Append(fmt.Sprintf("chosen %d", i))
		bld.Field(3).(*array.StringBuilder).Append(fmt.Sprintf("rejected %d", i))
	}
	rec := bld.NewRecordBatch()
	defer rec.Release()
	path := filepath.Join(t.TempDir(), "big.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := pqarrow.NewFileWriter(schema, f, parquet.NewWriterProperties(parquet.WithMaxRowGroupLength(parquetBatchRows),
		parquet.WithDictionaryDefault(false)), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err = os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	src := &countingReaderAt{ra: f}
	var got []string
	var readAtFirst int64 = -1
	opts := parseOptions{Format: FormatAuto, Template: builtinTemplates[DefaultChatTemplate], IDField: "id", OffsetField: "offset"}
	err = readParquetAt(src, st.Size(), func(r rawRecord) {
		if readAtFirst < 0 {
			readAtFirst = src.n
		}
		p, perr := parseRecord(r.Data, opts)
		if perr != nil {
			t.Fatalf("row %d: %v", r.Record, perr)
		}
		got = append(got, p.ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	checkEveryRecordOnce(t, got, n, readAtFirst, st.Size()/5, st.Size())

	// The same file through a stream (as from gs:// or gzip) is buffered
	// on disk, not in memory, with the same rows.
	got = got[:0]
	f2, _ := os.Open(path)
	defer f2.Close()
	if err := readParquetRecords(io.MultiReader(f2), func(r rawRecord) {
		p, _ := parseRecord(r.Data, opts)
		got = append(got, p.ID)
	}); err != nil {
		t.Fatal(err)
	}
	checkEveryRecordOnce(t, got, n, 0, 0, st.Size())
}

// The first pass sends ids in blocks, emitting them every idBlockRecords
// records; a duplicate whose copies fall in different flushes of the
// file, or in different files, is still found, with its first place.
func TestDuplicatesAcrossIDBlocks(t *testing.T) {
	dir := t.TempDir()
	const n = idBlockRecords + 5000
	var b strings.Builder
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("r%06d", i)
		if i == idBlockRecords+100 {
			id = "r000010" // a copy of record 10, in the second flush
		}
		fmt.Fprintf(&b, `{"id": %q, "prompt": "p", "chosen": "a", "rejected": "b"}`+"\n", id)
	}
	big := filepath.Join(dir, "a.jsonl")
	small := filepath.Join(dir, "b.jsonl")
	os.WriteFile(big, []byte(b.String()), 0o644)
	os.WriteFile(small, []byte(`{"id": "r000020", "prompt": "p", "chosen": "a", "rejected": "b"}`+"\n"), 0o644)

	fn := &corpusIDsFn{MaxRecordBytes: DefaultMaxRecordBytes,
		Options: parseOptions{Format: FormatAuto, Template: builtinTemplates[DefaultChatTemplate], IDField: "id", OffsetField: "offset"}}
	buckets := map[int][]idBlock{}
	blocks, ids := 0, 0
	for _, path := range []string{big, small} {
		if err := fn.ProcessElement(context.Background(), wholeFile(fileio.ReadableFile{Metadata: fileio.FileMetadata{Path: path}}), func(k int, blk idBlock) {
			buckets[k] = append(buckets[k], blk)
			blocks++
			ids += len(blk.IDs)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if ids != n+1 || blocks > 3*idBuckets {
		t.Errorf("%d ids in %d blocks; want %d ids in at most %d blocks", ids, blocks, n+1, 3*idBuckets)
	}
	var dups []duplicate
	for k, blks := range buckets {
		(&duplicatesFn{}).ProcessElement(k, func(p *idBlock) bool {
			if len(blks) == 0 {
				return false
			}
			*p, blks = blks[0], blks[1:]
			return true
		}, func(d duplicate) { dups = append(dups, d) })
	}
	want := map[string]duplicate{
		"r000010": {ID: "r000010", At: place{Source: big, Line: idBlockRecords + 100, Record: idBlockRecords + 100}, First: place{Source: big, Line: 10, Record: 10}},
		"r000020": {ID: "r000020", At: place{Source: small, Line: 1, Record: 1}, First: place{Source: big, Line: 20, Record: 20}},
	}
	if len(dups) != len(want) {
		t.Fatalf("duplicates %+v, want %+v", dups, want)
	}
	for _, d := range dups {
		if d != want[d.ID] {
			t.Errorf("duplicate %+v, want %+v", d, want[d.ID])
		}
	}
}

// A JSON Lines file cut into ranges of lines reads as the whole file does:
// every record once, with its line, ordinal and offset — across a BOM,
// blank lines and a line over the record limit.
func TestSplitCorpusChunks(t *testing.T) {
	var b strings.Builder
	b.WriteString("\xEF\xBB\xBF")
	for i := 1; i <= 60; i++ {
		fmt.Fprintf(&b, `{"id": "r%06d", "prompt": "p", "chosen": "a", "rejected": "b"}`+"\n", i)
		if i%7 == 0 {
			b.WriteString("\n  \n")
		}
		if i == 30 {
			b.WriteString(strings.Repeat("x", 500) + "\n")
		}
	}
	path := filepath.Join(t.TempDir(), "c.jsonl")
	os.WriteFile(path, []byte(b.String()), 0o644)
	f := fileio.ReadableFile{Metadata: fileio.FileMetadata{Path: path, Size: int64(b.Len())}}
	ctx := context.Background()
	read := func(c corpusChunk) []rawRecord {
		var out []rawRecord
		if err := readCorpusChunk(ctx, c, 200, func(r rawRecord) { out = append(out, r) }, func(int64, string, string) {
			t.Fatal("file dead letter")
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	whole := read(wholeFile(f))
	if len(whole) != 61 {
		t.Fatalf("%d records whole, want 61", len(whole))
	}
	for _, split := range []int64{1, 150, 1000} {
		var chunks []corpusChunk
		if err := (&splitCorpusFn{MaxRecordBytes: 200, SplitBytes: split}).ProcessElement(ctx, f, func(c corpusChunk) { chunks = append(chunks, c) }); err != nil {
			t.Fatal(err)
		}
		if want := int(int64(b.Len())/split) / 2; len(chunks) < min(want, 61) || len(chunks) < 2 {
			t.Errorf("split %d: %d chunks", split, len(chunks))
		}
		var got []rawRecord
		for _, c := range chunks {
			got = append(got, read(c)...)
		}
		if len(got) != len(whole) {
			t.Fatalf("split %d: %d records, want %d", split, len(got), len(whole))
		}
		for i := range whole {
			w, g := whole[i], got[i]
			if g.Line != w.Line || g.Record != w.Record || g.Offset != w.Offset || g.Over != w.Over || string(g.Data) != string(w.Data) {
				t.Fatalf("split %d: record %d is %+v, want %+v", split, i, g, w)
			}
		}
	}
}
