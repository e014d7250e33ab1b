package schemas

import (
	"fmt"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
)

// ArrowFile reads the rows of an Arrow IPC file held in memory — a
// memory-mapped file — by position, without copying the file: a record
// batch is decoded (zero-copy) when a row of it is asked for, and only
// that row becomes a Go value. What a row holds is copied out of the file.
type ArrowFile struct {
	tb     *Table
	r      *ipc.FileReader
	md     Metadata
	starts []int64 // the first row of each batch, then the row count
	cur    int
	rec    arrow.RecordBatch
}

// OpenArrowFile reads the footer and batch sizes of the file in data and
// checks its schema against tb. A file whose metadata makes arrow-go's
// reader fail out of bounds is an error, as in ReadFile.
func OpenArrowFile(data []byte, tb *Table) (f *ArrowFile, err error) {
	defer RecoverMalformed(&err, "not a readable Arrow file of table "+tb.Name)
	return openArrowFile(data, tb)
}

func openArrowFile(data []byte, tb *Table) (*ArrowFile, error) {
	r, err := ipc.NewMappedFileReader(data, ipc.WithAllocator(FileAllocator(int64(len(data)))))
	if err != nil {
		return nil, fmt.Errorf("not an Arrow IPC file: %w", err)
	}
	if err := tb.CheckSchema(r.Schema()); err != nil {
		r.Close()
		return nil, err
	}
	f := &ArrowFile{tb: tb, r: r, md: MetadataFrom(r.Schema().Metadata()), cur: -1, starts: []int64{0}}
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatch(i)
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("record batch %d: %w", i, err)
		}
		f.starts = append(f.starts, f.starts[i]+rec.NumRows())
	}
	return f, nil
}

// Rows is the file's row count.
func (f *ArrowFile) Rows() int64 { return f.starts[len(f.starts)-1] }

// Metadata is the file's schema metadata.
func (f *ArrowFile) Metadata() Metadata { return f.md }

// Row decodes row i (0-based), validated; a batch whose buffers do not
// hold what its metadata says is an error.
func (f *ArrowFile) Row(i int64) (r Row, err error) {
	defer RecoverMalformed(&err, fmt.Sprintf("%s: row %d", f.tb.Name, i))
	return f.row(i)
}

func (f *ArrowFile) row(i int64) (Row, error) {
	if i < 0 || i >= f.Rows() {
		return nil, fmt.Errorf("%s: row %d of %d", f.tb.Name, i, f.Rows())
	}
	b := sort.Search(len(f.starts)-1, func(k int) bool { return f.starts[k+1] > i })
	if b != f.cur {
		rec, err := f.r.RecordBatch(b)
		if err != nil {
			return nil, fmt.Errorf("record batch %d: %w", b, err)
		}
		f.cur, f.rec = b, rec
	}
	at := i - f.starts[b]
	one := f.rec.NewSlice(at, at+1)
	defer one.Release()
	rows, err := f.tb.decode(one, int(i))
	if err != nil {
		return nil, err
	}
	return rows[0], nil
}

// Close releases the reader; the data it read from may then be unmapped.
func (f *ArrowFile) Close() error { return f.r.Close() }
