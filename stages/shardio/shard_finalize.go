package shardio

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/srdpo/srdpo/schemas"
)

type finalizeShardsFn struct {
	Prefix   string
	Table    string
	Metadata schemas.Metadata
	Shards   int
	Format   schemas.Format
}

func (fn *finalizeShardsFn) ProcessElement(ctx context.Context, _ []byte, iter func(*writtenShard) bool, emit func(string)) error {
	if err := shardWriters.start(); err != nil {
		return err
	}
	defer shardWriters.end()
	tb, err := schemas.Lookup(fn.Table)
	if err != nil {
		return err
	}
	counts := make([]int64, fn.Shards)
	seen := make([]bool, fn.Shards)
	var w writtenShard
	for iter(&w) {
		counts[w.Index], seen[w.Index] = w.Rows, true
	}
	if err := removeManifest(ctx, fn.Prefix); err != nil { // when no shard had rows
		return err
	}
	// A shard no row hashed to still gets a file, so the set is complete.
	for i, ok := range seen {
		if ok {
			continue
		}
		name := ShardName(fn.Prefix, i, fn.Shards, fn.Format)
		if err := WriteAtomically(ctx, name, func(buf *bytes.Buffer) error {
			return schemas.WriteFile(buf, fn.Format, tb, fn.Metadata, nil)
		}); err != nil {
			return fmt.Errorf("writing empty shard %s: %w", name, err)
		}
	}
	if err := removeStale(ctx, fn.Prefix, fn.Shards, fn.Format); err != nil {
		return err
	}
	if err := removeRuns(ctx, fn.Prefix); err != nil {
		return err
	}
	m := schemas.Manifest{Table: tb.Name, SchemaVersion: tb.Version, Format: fn.Format,
		Metadata: fn.Metadata.With(schemas.KeyTable, tb.Name).With(schemas.KeySchemaVersion, tb.Version)}
	for i, n := range counts {
		m.Shards = append(m.Shards, schemas.ManifestShard{Name: path.Base(ShardName(fn.Prefix, i, fn.Shards, fn.Format)), Rows: n})
		m.Rows += n
	}
	manifest := fn.Prefix + schemas.ManifestSuffix
	if err := WriteAtomically(ctx, manifest, func(buf *bytes.Buffer) error {
		_, err := buf.Write(m.Marshal())
		return err
	}); err != nil {
		return fmt.Errorf("writing manifest %s: %w", manifest, err)
	}
	emit(manifest)
	return nil
}

// removeManifest deletes prefix's manifest if there is one.
func removeManifest(ctx context.Context, prefix string) error {
	name := prefix + schemas.ManifestSuffix
	fs, err := filesystem.New(ctx, name)
	if err != nil {
		return err
	}
	defer fs.Close()
	found, err := fs.List(ctx, name)
	if err != nil {
		return fmt.Errorf("listing %s: %w", name, err)
	}
	if len(found) == 0 {
		return nil
	}
	if err := RemoveFile(ctx, fs, name); err != nil {
		return fmt.Errorf("the earlier manifest: %w", err)
	}
	return nil
}

// removeStale deletes what an earlier run into the same prefix left: shards
// of another shard count or format, and temporary files of failed attempts.
func removeStale(ctx context.Context, prefix string, shards int, format schemas.Format) error {
	fs, err := filesystem.New(ctx, prefix)
	if err != nil {
		return err
	}
	defer fs.Close()
	names, err := fs.List(ctx, prefix+"-*-of-*")
	if err != nil {
		return fmt.Errorf("listing %s-*: %w", prefix, err)
	}
	for _, name := range names {
		if !isShardOf(prefix, name) {
			continue
		}
		var i, n int
		var ext string
		rest := strings.TrimPrefix(name, prefix)
		if _, err := fmt.Sscanf(rest, "-%05d-of-%05d%s", &i, &n, &ext); err == nil &&
			n == shards && ext == format.Ext() {
			continue // one of ours
		}
		if err := RemoveFile(ctx, fs, name); err != nil {
			return fmt.Errorf("a stale shard: %w", err)
		}
	}
	return nil
}

// isShardOf tells whether name is "<prefix>-NNNNN-of-NNNNN<anything>", so
// that a prefix "out/a" never claims the shards of "out/a-b".
func isShardOf(prefix, name string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || len(rest) < len("-00000-of-00000") {
		return false
	}
	var i, n int
	_, err := fmt.Sscanf(rest[:len("-00000-of-00000")], "-%05d-of-%05d", &i, &n)
	return err == nil
}

// removeRuns deletes every run file of prefix: all of them once the
// shards are written, those of failed attempts included.
func removeRuns(ctx context.Context, prefix string) error {
	fs, err := filesystem.New(ctx, prefix)
	if err != nil {
		return err
	}
	defer fs.Close()
	names, err := fs.List(ctx, prefix+runInfix+"*")
	if err != nil {
		return fmt.Errorf("listing %s%s*: %w", prefix, runInfix, err)
	}
	for _, name := range names {
		if err := RemoveFile(ctx, fs, name); err != nil {
			return fmt.Errorf("a run: %w", err)
		}
	}
	return nil
}

// manifestBytes is prefix's manifest as it stands, nil without one: what
// a job records before it runs, for GuardOutputs.
func manifestBytes(ctx context.Context, prefix string) []byte {
	name := prefix + schemas.ManifestSuffix
	fs, err := filesystem.New(ctx, name)
	if err != nil {
		return nil
	}
	defer fs.Close()
	b, err := filesystem.Read(ctx, fs, name)
	if err != nil {
		return nil
	}
	return b
}
