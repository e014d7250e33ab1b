package shardio

import (
	"bytes"
	"context"
	"fmt"
	"sort"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/srdpo/srdpo/schemas"
)

// runName is the name of a run: prefix.run-<attempt>-<seq>-<shard>.
func runName(prefix, attempt string, seq, shard int) string {
	return fmt.Sprintf("%s%s%s-%04d-%05d.arrows", prefix, runInfix, attempt, seq, shard)
}

// runInfix marks run files: "<prefix>.run-…".
const runInfix = ".run-"

type spillFn struct {
	Prefix  string
	Table   string
	Shards  int
	RunRows int

	tb      *schemas.Table
	attempt string
	seq     int
	rows    []schemas.Row
}

func (fn *spillFn) Setup() error {
	tb, err := schemas.Lookup(fn.Table)
	fn.tb = tb
	return err
}

func (fn *spillFn) StartBundle(context.Context, func(int, string)) {
	fn.attempt, fn.seq, fn.rows = randomHex(), 0, fn.rows[:0]
}

func (fn *spillFn) ProcessElement(ctx context.Context, x beam.X, emit func(int, string)) error {
	row, err := asRow(x)
	if err != nil {
		return err
	}
	fn.rows = append(fn.rows, row)
	if len(fn.rows) >= fn.RunRows {
		return fn.spill(ctx, emit)
	}
	return nil
}

func (fn *spillFn) FinishBundle(ctx context.Context, emit func(int, string)) error {
	return fn.spill(ctx, emit)
}

// spill writes the rows held as one sorted run per shard they fall in.
func (fn *spillFn) spill(ctx context.Context, emit func(int, string)) error {
	if len(fn.rows) == 0 {
		return nil
	}
	if err := shardWriters.start(); err != nil {
		return err
	}
	defer shardWriters.end()
	type keyed struct {
		shard int
		id    string
		row   schemas.Row
	}
	held := make([]keyed, len(fn.rows))
	for i, r := range fn.rows {
		held[i] = keyed{ShardOf(r.Key(), fn.Shards), r.Key(), r}
	}
	sort.Slice(held, func(i, j int) bool {
		a, b := held[i], held[j]
		return a.shard < b.shard || a.shard == b.shard && a.id < b.id
	})
	fs, err := filesystem.New(ctx, fn.Prefix)
	if err != nil {
		return err
	}
	defer fs.Close()
	for lo := 0; lo < len(held); {
		k := held[lo].shard
		var buf bytes.Buffer
		w, err := schemas.NewRunWriter(&buf, fn.tb)
		if err != nil {
			return err
		}
		hi := lo
		for ; hi < len(held) && held[hi].shard == k; hi++ {
			if hi > lo && held[hi].id == held[hi-1].id {
				return duplicateIDError(fn.Table, held[hi].id)
			}
			if err := w.Write(held[hi].row); err != nil {
				return err
			}
		}
		if err := w.Close(); err != nil {
			return err
		}
		name := runName(fn.Prefix, fn.attempt, fn.seq, k)
		if err := WriteFile(ctx, fs, name, buf.Bytes()); err != nil {
			return fmt.Errorf("writing run %s: %w", name, err)
		}
		emit(k, name)
		lo = hi
	}
	fn.seq++
	fn.rows = fn.rows[:0]
	return nil
}

// duplicateIDError refuses a second row with an id, in a run or across
// the runs of a shard.
func duplicateIDError(table, id string) error {
	return fmt.Errorf("%s: two rows share the id %q; ids must be unique", table, id)
}
