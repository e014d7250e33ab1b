package shardio

import (
	"context"
	"fmt"
	"hash/fnv"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/srdpo/srdpo/schemas"
)

func init() {
	// Row types travel between workers with Beam's schema coder, which
	// needs them registered to decode into the right Go type.
	for _, tb := range schemas.Tables() {
		beam.RegisterType(tb.RowType())
	}
	register.DoFn3x1[context.Context, beam.X, func(int, string), error](&spillFn{})
	register.DoFn3x2[context.Context, int, func(*string) bool, writtenShard, error](&writeShardFn{})
	register.Emitter2[int, string]()
	register.Iter1[string]()
	register.DoFn4x1[context.Context, []byte, func(*writtenShard) bool, func(string), error](&finalizeShardsFn{})
	register.Iter1[beam.X]()
	register.Iter1[writtenShard]()
	register.Emitter1[string]()
	beam.RegisterType(reflectTypeOf[writtenShard]())
}

// shardOptions configures WriteShards.
type shardOptions struct {
	shards  int
	format  schemas.Format
	runRows int
}

// ShardOption is a functional option of WriteShards.
type ShardOption func(*shardOptions)

// WithShards sets the number of shards (default 4). Shards are merged from
// sorted runs in bounded memory, so their size is a matter of how readers
// want them, not of a worker's memory.
func WithShards(n int) ShardOption { return func(o *shardOptions) { o.shards = n } }

// WithRunRows sets how many rows a bundle holds before it writes them out
// as sorted runs (default DefaultRunRows): the sink's memory per bundle.
func WithRunRows(n int) ShardOption { return func(o *shardOptions) { o.runRows = max(n, 1) } }

// DefaultRunRows is how many rows a bundle holds before spilling them.
const DefaultRunRows = 4096

// WithFormat sets the file format (default Arrow IPC).
func WithFormat(f schemas.Format) ShardOption { return func(o *shardOptions) { o.format = f } }

// ShardName is the deterministic final name of shard i of n.
func ShardName(prefix string, i, n int, f schemas.Format) string {
	return fmt.Sprintf("%s-%05d-of-%05d%s", prefix, i, n, f.Ext())
}

// WriteShards writes rows, a PCollection of tb's row type, as shards
// <prefix>-00000-of-0000N.<ext> plus <prefix>.manifest.json, through Beam's
// filesystems (local, gs://, memfs://). Rows go to a shard by a hash of their
// id and are sorted by id inside it, so a rerun writes the same bytes. Each
// shard is written under a temporary name and renamed when complete; the
// manifest is written last, after empty shards are filled in and shards of an
// earlier run into the same prefix are removed. It returns a PCollection with
// one element, the manifest's path, for callers that wait on it.
//
// The sink has the shape of Beam's WriteFiles: rows never pass through a
// GroupByKey (prism keeps a GroupByKey's elements in memory; Dataflow puts
// a key's in one worker's). Each bundle holds at most RunRows rows, sorts
// them by shard and id and writes each shard's part as a run file beside
// the shards, under a name unique to the bundle's attempt; only the runs'
// names are grouped by shard, and each shard is a streaming k-way merge of
// its runs. The finaliser removes every run, those of failed attempts too.
func WriteShards(s beam.Scope, prefix string, tb *schemas.Table, md schemas.Metadata, rows beam.PCollection, opts ...ShardOption) beam.PCollection {
	s = s.Scope("stages.WriteShards")
	o := shardOptions{shards: 4, format: schemas.FormatArrow, runRows: DefaultRunRows}
	for _, opt := range opts {
		opt(&o)
	}
	if o.shards < 1 || o.shards > 99999 {
		panic(fmt.Sprintf("stages.WriteShards: shard count %d out of range 1..99999", o.shards))
	}
	if _, err := filesystem.New(context.Background(), prefix); err != nil {
		panic(fmt.Sprintf("stages.WriteShards: %v", err))
	}
	runs := beam.ParDo(s, &spillFn{Prefix: prefix, Table: tb.Name, Shards: o.shards, RunRows: o.runRows}, rows)
	written := beam.ParDo(s, &writeShardFn{Prefix: prefix, Table: tb.Name, Metadata: md, Shards: o.shards, Format: o.format},
		beam.GroupByKey(s, runs))
	return beam.ParDo(s, &finalizeShardsFn{Prefix: prefix, Table: tb.Name, Metadata: md, Shards: o.shards, Format: o.format},
		beam.Impulse(s), beam.SideInput{Input: written})
}

func asRow(x beam.X) (schemas.Row, error) {
	row, ok := x.(schemas.Row)
	if !ok {
		return nil, fmt.Errorf("element of type %T is not a srdpo row type (see package schemas)", x)
	}
	return row, nil
}

// ShardOf is the shard of an id: a stable hash, the same on every runner.
func ShardOf(id string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(id))
	return int(h.Sum64() % uint64(n))
}
