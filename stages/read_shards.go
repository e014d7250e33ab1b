package stages

import (
	"context"
	"fmt"
	"path"
	"reflect"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/srdpo/srdpo/schemas"
)

func init() {
	register.DoFn3x1[context.Context, string, func(shardRef), error](&expandShardsFn{})
	register.DoFn3x1[context.Context, shardRef, func(beam.X), error](&readShardFn{})
	register.Emitter1[beam.X]()
	register.Emitter1[shardRef]()
	beam.RegisterType(reflectTypeOf[shardRef]())
}

func reflectTypeOf[T any]() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }

// readShardOptions configures ReadShards.
type readShardOptions struct {
	expect schemas.Metadata
}

// ReadShardOption is a functional option of ReadShards.
type ReadShardOption func(*readShardOptions)

// ExpectMetadata makes ReadShards fail on any shard whose metadata differs
// from md on one of md's keys (say, the model or tokenizer fingerprint).
func ExpectMetadata(md schemas.Metadata) ReadShardOption {
	return func(o *readShardOptions) { o.expect = md }
}

// ReadShards reads shards of tb back as a PCollection of tb's row type.
// pattern is a manifest (<prefix>.manifest.json: every shard it lists must be
// there with its row count) or a glob of .arrow / .parquet files. The table
// name, schema version and columns of every shard are checked; a mismatch
// fails the pipeline with an error that names the file.
func ReadShards(s beam.Scope, pattern string, tb *schemas.Table, opts ...ReadShardOption) beam.PCollection {
	s = s.Scope("stages.ReadShards")
	var o readShardOptions
	for _, opt := range opts {
		opt(&o)
	}
	files := beam.ParDo(s, &expandShardsFn{}, beam.Create(s, pattern))
	return beam.ParDo(s, &readShardFn{Table: tb.Name, Expect: o.expect}, beam.Reshuffle(s, files),
		beam.TypeDefinition{Var: beam.XType, T: tb.RowType()})
}

// shardRef is a shard to read and, when a manifest names it, its row count.
type shardRef struct {
	Path string
	Rows int64 // -1 when not known
}

// expandShardsFn turns a manifest or glob into shard references.
type expandShardsFn struct{}

func (fn *expandShardsFn) ProcessElement(ctx context.Context, pattern string, emit func(shardRef)) error {
	fs, err := filesystem.New(ctx, pattern)
	if err != nil {
		return err
	}
	defer fs.Close()
	if strings.HasSuffix(pattern, schemas.ManifestSuffix) {
		b, err := filesystem.Read(ctx, fs, pattern)
		if err != nil {
			return fmt.Errorf("reading manifest: %w", err)
		}
		m, err := schemas.ParseManifest(b)
		if err != nil {
			return fmt.Errorf("%s: %w", pattern, err)
		}
		dir := pattern[:len(pattern)-len(path.Base(pattern))]
		for _, sh := range m.Shards {
			emit(shardRef{Path: dir + sh.Name, Rows: sh.Rows})
		}
		return nil
	}
	names, err := fs.List(ctx, pattern)
	if err != nil {
		return fmt.Errorf("listing %s: %w", pattern, err)
	}
	n := 0
	for _, name := range names {
		if f, err := schemas.FormatOf(name); err == nil && f != schemas.FormatJSONL {
			emit(shardRef{Path: name, Rows: -1})
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("no .arrow or .parquet shards match %s", pattern)
	}
	return nil
}

type readShardFn struct {
	Table  string
	Expect schemas.Metadata

	rowsRead beam.Counter
}

func (fn *readShardFn) Setup() {
	fn.rowsRead = beam.NewCounter("srdpo", fn.Table+"_rows_read")
}

func (fn *readShardFn) ProcessElement(ctx context.Context, ref shardRef, emit func(beam.X)) error {
	name := ref.Path
	tb, err := schemas.Lookup(fn.Table)
	if err != nil {
		return err
	}
	format, err := schemas.FormatOf(name)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	fs, err := filesystem.New(ctx, name)
	if err != nil {
		return err
	}
	defer fs.Close()
	// Arrow and Parquet readers need random access: buffer the whole shard.
	data, err := filesystem.Read(ctx, fs, name)
	if err != nil {
		return fmt.Errorf("reading shard %s: %w", name, err)
	}
	rows, md, err := schemas.ReadFile(data, format, tb)
	if err != nil {
		return fmt.Errorf("shard %s: %w", name, err)
	}
	if err := md.Expect(fn.Expect); err != nil {
		return fmt.Errorf("shard %s: %w", name, err)
	}
	if ref.Rows >= 0 && int64(len(rows)) != ref.Rows {
		return fmt.Errorf("shard %s has %d rows, its manifest says %d", name, len(rows), ref.Rows)
	}
	for _, r := range rows {
		emit(r)
	}
	fn.rowsRead.Inc(ctx, int64(len(rows)))
	return nil
}
