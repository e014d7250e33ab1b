package shardio

import (
	"context"
	"fmt"
	"io"
	"sort"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/srdpo/srdpo/schemas"
)

// writtenShard reports a completed shard to the finalizer.
type writtenShard struct {
	Index int
	Rows  int64
}

type writeShardFn struct {
	Prefix   string
	Table    string
	Metadata schemas.Metadata
	Shards   int
	Format   schemas.Format

	rowsWritten beam.Counter
}

func (fn *writeShardFn) Setup() {
	fn.rowsWritten = beam.NewCounter(schemas.CounterNamespace, fn.Table+"_rows_written")
}

func (fn *writeShardFn) ProcessElement(ctx context.Context, shard int, iter func(*string) bool) (writtenShard, error) {
	if err := shardWriters.start(); err != nil {
		return writtenShard{}, err
	}
	defer shardWriters.end()
	tb, err := schemas.Lookup(fn.Table)
	if err != nil {
		return writtenShard{}, err
	}
	var runs []string
	var name string
	for iter(&name) {
		runs = append(runs, name)
	}
	sort.Strings(runs)
	// The manifest of an earlier run goes before any of its shards is
	// replaced: a manifest exists only beside the complete set it lists.
	if err := removeManifest(ctx, fn.Prefix); err != nil {
		return writtenShard{}, err
	}
	final := ShardName(fn.Prefix, shard, fn.Shards, fn.Format)
	var rows int64
	err = WriteStreaming(ctx, final, func(w io.Writer) error {
		var err error
		rows, err = mergeRuns(ctx, fn.Prefix, runs, tb, w, fn.Format, fn.Metadata)
		return err
	})
	if err != nil {
		return writtenShard{}, fmt.Errorf("writing shard %s: %w", final, err)
	}
	fn.rowsWritten.Inc(ctx, rows)
	return writtenShard{Index: shard, Rows: rows}, nil
}

// mergeFanIn bounds the runs merged at once. A shard of a big corpus has
// runs in proportion to its rows, and a merge holds a record batch of each
// run it reads: more than mergeFanIn runs are first merged mergeFanIn at
// a time into longer runs, level after level, so that memory stays
// mergeFanIn batches whatever the corpus (at log(runs)/log(mergeFanIn)
// passes over the rows).
var mergeFanIn = 16

// mergeRuns writes the rows of sorted runs, merged by id, to w as a file
// of format f, and returns how many there were. Two rows with one id are
// an error. It holds one record batch of at most mergeFanIn runs at a
// time; the intermediate runs it writes are removed when it returns.
func mergeRuns(ctx context.Context, prefix string, runs []string, tb *schemas.Table, w io.Writer, f schemas.Format, md schemas.Metadata) (int64, error) {
	var made []string
	defer func() {
		if len(made) == 0 {
			return
		}
		if fs, err := filesystem.New(ctx, prefix); err == nil {
			for _, name := range made {
				RemoveFile(ctx, fs, name) // what is left, the finaliser's removeRuns removes
			}
			fs.Close()
		}
	}()
	attempt := randomHex()
	for level := 0; len(runs) > mergeFanIn; level++ {
		var next []string
		for lo := 0; lo < len(runs); lo += mergeFanIn {
			name := runName(prefix, fmt.Sprintf("merge%s%d", attempt, level), lo/mergeFanIn, 0)
			group := runs[lo:min(lo+mergeFanIn, len(runs))]
			err := WriteStreaming(ctx, name, func(w io.Writer) error {
				_, err := mergeSome(ctx, prefix, group, tb, w, func(w io.Writer) (*schemas.FileWriter, error) {
					return schemas.NewRunWriter(w, tb)
				})
				return err
			})
			if err != nil {
				return 0, fmt.Errorf("merging runs into %s: %w", name, err)
			}
			made, next = append(made, name), append(next, name)
		}
		runs = next
	}
	return mergeSome(ctx, prefix, runs, tb, w, func(w io.Writer) (*schemas.FileWriter, error) {
		return schemas.NewFileWriter(w, f, tb, md)
	})
}

// mergeSome is one k-way merge of runs into the file open starts on w.
func mergeSome(ctx context.Context, prefix string, runs []string, tb *schemas.Table, w io.Writer, open func(io.Writer) (*schemas.FileWriter, error)) (int64, error) {
	fs, err := filesystem.New(ctx, prefix)
	if err != nil {
		return 0, err
	}
	defer fs.Close()
	var cursors []*runCursor
	defer func() {
		for _, c := range cursors {
			c.close()
		}
	}()
	sources := make([]func() (schemas.Row, error), len(runs))
	for i, name := range runs {
		rc, err := fs.OpenRead(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("opening run %s: %w", name, err)
		}
		rr, err := schemas.NewRunReader(rc, tb)
		if err != nil {
			rc.Close()
			return 0, fmt.Errorf("run %s: %w", name, err)
		}
		c := &runCursor{name: name, r: rr, rc: rc}
		cursors, sources[i] = append(cursors, c), c.next
	}
	out, err := open(w)
	if err != nil {
		return 0, err
	}
	var n int64
	last := ""
	err = MergeByKey(sources, func(_ int, r schemas.Row) error {
		if n > 0 && r.Key() == last {
			return duplicateIDError(tb.Name, last)
		}
		last = r.Key()
		if err := out.Write(r); err != nil {
			return err
		}
		n++
		return nil
	})
	if err != nil {
		out.Close()
		return n, err
	}
	return n, out.Close()
}

// runCursor is a run being merged.
type runCursor struct {
	name string
	r    *schemas.RunReader
	rc   io.Closer
}

// next is the run's next row, nil at its end.
func (c *runCursor) next() (schemas.Row, error) {
	r, err := c.r.Next()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading run %s: %w", c.name, err)
	}
	return r, nil
}

func (c *runCursor) close() {
	c.r.Close()
	c.rc.Close()
}
