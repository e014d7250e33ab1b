package stages

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages/shardio"
)

// scoredStore holds a training set's scored rows where they are, not in
// the heap: Arrow shards are memory-mapped (a gs:// shard is first copied
// to a local temporary file), so the training stage holds per pair only
// its place (8 bytes) and the pairs of the step it is on; the operating
// system pages the files in and out. Parquet shards cannot be read in
// place and are decoded into memory.
type scoredStore struct {
	shards  []rowSource
	closers []func() error
	md      schemas.Metadata
	dataset bool // a Hugging Face dataset folder, not srdpo's shards
}

// sortRowsByKey orders decoded rows by id, as shards are.
func sortRowsByKey(rows rowsInMemory) {
	sort.Slice(rows, func(i, j int) bool { return rows[i].Key() < rows[j].Key() })
}

// rowSource is a shard's rows by position.
type rowSource interface {
	Rows() int64
	Row(i int64) (schemas.Row, error)
}

// rowsInMemory is a decoded shard.
type rowsInMemory []schemas.Row

func (r rowsInMemory) Rows() int64                      { return int64(len(r)) }
func (r rowsInMemory) Row(i int64) (schemas.Row, error) { return r[i], nil }

// rowAt is a row's place: its shard and position in it.
type rowAt struct {
	shard int32
	row   int32
}

// openScored opens the shards of pattern (a manifest or glob, local or
// gs://), which must share one set of metadata and each hold the row
// count their manifest says.
func openScored(ctx context.Context, pattern string) (*scoredStore, error) {
	if isDatasetFolder(ctx, pattern) {
		rows, md, err := openHFDataset(ctx, pattern)
		if err != nil {
			return nil, err
		}
		sortRowsByKey(rows)
		return &scoredStore{shards: []rowSource{rows}, md: md, dataset: true}, nil
	}
	refs, err := shardio.List(ctx, pattern)
	if err != nil {
		return nil, err
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Path < refs[j].Path })
	s := &scoredStore{}
	for _, ref := range refs {
		src, md, err := s.open(ctx, ref)
		if err != nil {
			s.Close()
			return nil, err
		}
		if ref.Rows >= 0 && src.Rows() != ref.Rows {
			s.Close()
			return nil, fmt.Errorf("shard %s has %d rows, its manifest says %d", ref.Path, src.Rows(), ref.Rows)
		}
		if src.Rows() > 1<<31-1 {
			s.Close()
			return nil, fmt.Errorf("shard %s has %d rows: split it into shards of under 2^31", ref.Path, src.Rows())
		}
		if s.md == nil {
			s.md = md
		} else if err := md.Expect(s.md); err != nil {
			s.Close()
			return nil, fmt.Errorf("%s was written by another scoring run than %s: %w", ref.Path, refs[0].Path, err)
		}
		s.shards = append(s.shards, src)
	}
	return s, nil
}

// open maps an Arrow shard, or decodes a Parquet one.
func (s *scoredStore) open(ctx context.Context, ref shardio.ShardRef) (rowSource, schemas.Metadata, error) {
	format, err := schemas.FormatOf(ref.Path)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", ref.Path, err)
	}
	if format != schemas.FormatArrow {
		rows, md, err := shardio.ReadShard(ctx, ref, schemas.ScoredRows)
		return rowsInMemory(rows), md, err
	}
	local := ref.Path
	if strings.Contains(ref.Path, "://") {
		if local, err = copyToTemp(ctx, ref.Path); err != nil {
			return nil, nil, err
		}
		s.closers = append(s.closers, func() error { return os.Remove(local) })
	}
	data, unmap, err := shardio.MapFile(local)
	if err != nil {
		return nil, nil, fmt.Errorf("shard %s: %w", ref.Path, err)
	}
	af, err := schemas.OpenArrowFile(data, schemas.ScoredRows)
	if err != nil {
		unmap()
		return nil, nil, fmt.Errorf("shard %s: %w", ref.Path, err)
	}
	s.closers = append(s.closers, unmap, af.Close) // run in reverse: the reader first
	return af, af.Metadata(), nil
}

// copyToTemp streams a remote shard into a local temporary file.
func copyToTemp(ctx context.Context, name string) (string, error) {
	fs, err := filesystem.New(ctx, name)
	if err != nil {
		return "", err
	}
	defer fs.Close()
	tmp, err := os.CreateTemp("", "srdpo-shard-*"+filepath.Ext(name))
	if err != nil {
		return "", err
	}
	tmp.Close()
	if err := shardio.RetryTransient(ctx, func(bool) error { return copyOut(ctx, fs, name, tmp.Name()) }); err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("copying shard %s to %s: %w", name, os.TempDir(), err)
	}
	return tmp.Name(), nil
}

// Close unmaps the shards and removes the local copies.
func (s *scoredStore) Close() error {
	var first error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](); err != nil && first == nil {
			first = err
		}
	}
	s.closers = nil
	return first
}

// row decodes the row at a place.
func (s *scoredStore) row(at rowAt) (schemas.Scored, error) {
	r, err := s.shards[at.shard].Row(int64(at.row))
	if err != nil {
		return schemas.Scored{}, err
	}
	return r.(schemas.Scored), nil // the shard's schema was checked
}

// pair is the training pair of the row at a place.
func (s *scoredStore) pair(at rowAt) (model.PreferencePair, error) {
	r, err := s.row(at)
	if err != nil {
		return model.PreferencePair{}, err
	}
	return preferencePair(r), nil
}

// pairs are the training pairs at places.
func (s *scoredStore) pairs(at []rowAt) ([]model.PreferencePair, error) {
	out := make([]model.PreferencePair, len(at))
	for i, a := range at {
		var err error
		if out[i], err = s.pair(a); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// walk visits every row in id order (each shard is sorted by id, so a
// merge of the shards), one row decoded per shard at a time.
func (s *scoredStore) walk(visit func(at rowAt, r schemas.Scored) error) error {
	fetched, visited := make([]int32, len(s.shards)), make([]int32, len(s.shards))
	sources := make([]func() (schemas.Row, error), len(s.shards))
	for k, shard := range s.shards {
		sources[k] = func() (schemas.Row, error) {
			if int64(fetched[k]) >= shard.Rows() {
				return nil, nil
			}
			fetched[k]++
			return shard.Row(int64(fetched[k] - 1))
		}
	}
	return shardio.MergeByKey(sources, func(k int, r schemas.Row) error {
		at := rowAt{int32(k), visited[k]}
		visited[k]++
		return visit(at, r.(schemas.Scored)) // the shard's schema was checked
	})
}

// split walks the rows in id order and holds out, by a hash of the id,
// about a fraction of them: the places of the training pairs and of the
// held-out ones, and the fingerprint of the whole set.
func (s *scoredStore) split(fraction float64) (train, eval []rowAt, fingerprint string, err error) {
	fp := fnv.New64a()
	err = s.walk(func(at rowAt, r schemas.Scored) error {
		fmt.Fprintf(fp, "%s\x00%v\x00%v\x00", r.ID, r.RefLogpChosen, r.RefLogpRejected)
		if heldOut(r.ID, fraction) {
			eval = append(eval, at)
		} else {
			train = append(train, at)
		}
		return nil
	})
	return train, eval, fmt.Sprintf("%016x", fp.Sum64()), err
}
