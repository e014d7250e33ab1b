package shardio

import (
	"context"
	"fmt"
	"path"
	"reflect"
	"sort"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/srdpo/srdpo/schemas"
)

func init() {
	register.DoFn3x1[context.Context, string, func(ShardRef), error](&expandShardsFn{})
	register.DoFn3x1[context.Context, ShardRef, func(beam.X), error](&readShardFn{})
	register.Emitter1[beam.X]()
	register.Emitter1[ShardRef]()
	beam.RegisterType(reflectTypeOf[ShardRef]())
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

// ShardRef is a shard to read and, when a manifest names it, its row count.
type ShardRef struct {
	Path string
	Rows int64 // -1 when not known
}

// expandShardsFn turns a manifest or glob into shard references.
type expandShardsFn struct{}

func (fn *expandShardsFn) ProcessElement(ctx context.Context, pattern string, emit func(ShardRef)) error {
	refs, err := List(ctx, pattern)
	if err != nil {
		return err
	}
	for _, r := range refs {
		emit(r)
	}
	return nil
}

// List resolves a manifest (every shard it lists, with its row count)
// or a glob (its .arrow and .parquet files) into shard references.
func List(ctx context.Context, pattern string) ([]ShardRef, error) {
	fs, err := filesystem.New(ctx, pattern)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	var refs []ShardRef
	if strings.HasSuffix(pattern, schemas.ManifestSuffix) {
		b, err := filesystem.Read(ctx, fs, pattern)
		if err != nil {
			return nil, fmt.Errorf("reading manifest %s: %w", pattern, err)
		}
		m, err := schemas.ParseManifest(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", pattern, err)
		}
		dir := pattern[:len(pattern)-len(path.Base(pattern))]
		for _, sh := range m.Shards {
			refs = append(refs, ShardRef{Path: dir + sh.Name, Rows: sh.Rows})
		}
		return refs, nil
	}
	names, err := fs.List(ctx, pattern)
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", pattern, err)
	}
	for _, name := range names {
		if f, err := schemas.FormatOf(name); err == nil && f != schemas.FormatJSONL {
			refs = append(refs, ShardRef{Path: name, Rows: -1})
		}
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("no .arrow or .parquet shards match %s", pattern)
	}
	return refs, nil
}

type readShardFn struct {
	Table  string
	Expect schemas.Metadata

	rowsRead beam.Counter
}

func (fn *readShardFn) Setup() {
	fn.rowsRead = beam.NewCounter(schemas.CounterNamespace, fn.Table+"_rows_read")
}

func (fn *readShardFn) ProcessElement(ctx context.Context, ref ShardRef, emit func(beam.X)) error {
	tb, err := schemas.Lookup(fn.Table)
	if err != nil {
		return err
	}
	rows, md, err := ReadShard(ctx, ref, tb)
	if err != nil {
		return err
	}
	if err := md.Expect(fn.Expect); err != nil {
		return fmt.Errorf("shard %s: %w", ref.Path, err)
	}
	for _, r := range rows {
		emit(r)
	}
	fn.rowsRead.Inc(ctx, int64(len(rows)))
	return nil
}

// ReadShard decodes one shard of tb, checking the row count its manifest
// promised.
func ReadShard(ctx context.Context, ref ShardRef, tb *schemas.Table) ([]schemas.Row, schemas.Metadata, error) {
	name := ref.Path
	format, err := schemas.FormatOf(name)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	// Arrow and Parquet readers need random access: buffer the whole shard.
	data, err := ReadAll(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	rows, md, err := schemas.ReadFile(data, format, tb)
	if err != nil {
		return nil, nil, fmt.Errorf("shard %s: %w", name, err)
	}
	if ref.Rows >= 0 && int64(len(rows)) != ref.Rows {
		return nil, nil, fmt.Errorf("shard %s has %d rows, its manifest says %d", name, len(rows), ref.Rows)
	}
	return rows, md, nil
}

// ReadScored reads every row of the shards, which must share one set of
// metadata.
func ReadScored(ctx context.Context, pattern string) ([]schemas.Scored, schemas.Metadata, error) {
	refs, err := List(ctx, pattern)
	if err != nil {
		return nil, nil, err
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Path < refs[j].Path })
	var rows []schemas.Scored
	var md schemas.Metadata
	for _, ref := range refs {
		rs, m, err := ReadShard(ctx, ref, schemas.ScoredRows)
		if err != nil {
			return nil, nil, err
		}
		if md == nil {
			md = m
		} else if err := m.Expect(md); err != nil {
			return nil, nil, fmt.Errorf("%s was written by another scoring run than %s: %w", ref.Path, refs[0].Path, err)
		}
		for _, r := range rs {
			rows = append(rows, r.(schemas.Scored)) // ReadShard checked the table
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
	return rows, md, nil
}
