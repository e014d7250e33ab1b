package schemas

import (
	"fmt"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/srdpo/srdpo/bounds"
)

// RecoverMalformed, deferred, turns a panic of arrow-go's readers into
// *err naming what was read. They trust a file's flatbuffer or Thrift
// metadata (FuzzReadFile found a footer that makes them slice out of
// range), so a crafted Arrow or Parquet file must be an error, not a crash.
func RecoverMalformed(err *error, what string) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("%s: its metadata is malformed (%v)", what, p)
	}
}

// FileAllocator is the allocator arrow-go's readers decode a file of size
// bytes with: it refuses (by a panic that RecoverMalformed turns into the
// file's error) to hold more than bounds.ExpansionLimit of it at once, so
// that lengths in a crafted file's metadata (a page that claims 30 GB
// uncompressed) cannot exhaust memory. Real shards decode to 1–10 times
// their size.
func FileAllocator(size int64) memory.Allocator {
	return &limitedAllocator{limit: bounds.ExpansionLimit(size, bounds.MaxExpansionRatio, bounds.MinExpansionLimit)}
}

// OpenParquet opens a Parquet file of size bytes to be decoded with
// FileAllocator(size), and returns that allocator for pqarrow's reader:
// every reader of a Parquet file from outside opens it here.
func OpenParquet(r parquet.ReaderAtSeeker, size int64) (*file.Reader, memory.Allocator, error) {
	mem := FileAllocator(size)
	pf, err := file.NewParquetReader(r, file.WithReadProps(parquet.NewReaderProperties(mem)))
	return pf, mem, err
}

type limitedAllocator struct {
	limit int64
	held  atomic.Int64
}

func (a *limitedAllocator) Allocate(size int) []byte {
	a.take(int64(size), 0)
	return memory.DefaultAllocator.Allocate(size)
}

func (a *limitedAllocator) Reallocate(size int, b []byte) []byte {
	a.take(int64(size), int64(len(b)))
	return memory.DefaultAllocator.Reallocate(size, b)
}

func (a *limitedAllocator) Free(b []byte) {
	a.held.Add(-int64(len(b)))
	memory.DefaultAllocator.Free(b)
}

// take accounts for growing a buffer of old bytes to size.
func (a *limitedAllocator) take(size, old int64) {
	if size < 0 {
		panic(fmt.Sprintf("a buffer of %d bytes", size))
	}
	if held := a.held.Add(size - old); held > a.limit {
		a.held.Add(old - size)
		panic(fmt.Sprintf("decoding needs more than %d bytes at once (%d:1 of the file, %d MiB at least)", a.limit, bounds.MaxExpansionRatio, bounds.MinExpansionLimit>>20))
	}
}
