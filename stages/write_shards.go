package stages

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io"
	"path"
	"sort"
	"strings"
	"sync"

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

// shardOf is the shard of an id: a stable hash, the same on every runner.
func shardOf(id string, n int) int {
	h := fnv.New64a()
	h.Write([]byte(id))
	return int(h.Sum64() % uint64(n))
}

// The sink has the shape of Beam's WriteFiles: rows never pass through a
// GroupByKey (prism keeps a GroupByKey's elements in memory; Dataflow puts
// a key's in one worker's). Each bundle holds at most RunRows rows, sorts
// them by shard and id and writes each shard's part as a run file beside
// the shards, under a name unique to the bundle's attempt; only the runs'
// names are grouped by shard, and each shard is a streaming k-way merge of
// its runs. The finaliser removes every run, those of failed attempts too.

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
		held[i] = keyed{shardOf(r.Key(), fn.Shards), r.Key(), r}
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
		if err := writeFile(ctx, fs, name, buf.Bytes()); err != nil {
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
	fn.rowsWritten = beam.NewCounter(CounterNamespace, fn.Table+"_rows_written")
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
	err = writeStreaming(ctx, final, func(w io.Writer) error {
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
				removeFile(ctx, fs, name) // what is left, the finaliser's removeRuns removes
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
			err := writeStreaming(ctx, name, func(w io.Writer) error {
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
	err = mergeByKey(sources, func(_ int, r schemas.Row) error {
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
		if err := writeAtomically(ctx, name, func(buf *bytes.Buffer) error {
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
	if err := writeAtomically(ctx, manifest, func(buf *bytes.Buffer) error {
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
	if err := removeFile(ctx, fs, name); err != nil {
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
		if err := removeFile(ctx, fs, name); err != nil {
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

// writeAtomically renders a file in memory, writes it under a temporary
// name and renames it into place, so readers never see half a file and a
// retried attempt leaves exactly one.
func writeAtomically(ctx context.Context, name string, render func(*bytes.Buffer) error) error {
	var buf bytes.Buffer
	if err := render(&buf); err != nil {
		return err
	}
	return writeStreaming(ctx, name, func(w io.Writer) error {
		_, err := w.Write(buf.Bytes())
		return err
	})
}

// writeStreaming writes a file through render under a temporary name and
// renames it into place, streaming: the file is never whole in memory
// (writeAtomically renders it first, for writes that must not be rendered
// twice). On a transient storage error the whole file is rendered again.
func writeStreaming(ctx context.Context, name string, render func(io.Writer) error) error {
	fs, err := filesystem.New(ctx, name)
	if err != nil {
		return err
	}
	defer fs.Close()
	tmp := name + ".tmp-" + randomHex()
	err = retryTransient(ctx, func(bool) error {
		w, err := fs.OpenWrite(ctx, tmp)
		if err != nil {
			return err
		}
		if err := render(w); err != nil {
			w.Close()
			return err
		}
		return w.Close()
	})
	if err != nil {
		removeFile(ctx, fs, tmp)
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := renameFile(ctx, fs, tmp, name); err != nil {
		removeFile(ctx, fs, tmp)
		return err
	}
	return nil
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
		if err := removeFile(ctx, fs, name); err != nil {
			return fmt.Errorf("a run: %w", err)
		}
	}
	return nil
}

func randomHex() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// ManifestBytes is prefix's manifest as it stands, nil without one: what
// a job records before it runs, for RemoveUnfinished.
func ManifestBytes(ctx context.Context, prefix string) []byte {
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

// writers counts this process's shard writers at work, so that the
// cleanup after a failed job can wait for them: a runner reports a job
// failed while other bundles of it may be mid-write, and a write that
// lands after the cleanup would leave part of a set.
type writers struct {
	mu     sync.Mutex
	idle   *sync.Cond
	active int
	halted bool
}

var shardWriters = func() *writers { w := &writers{}; w.idle = sync.NewCond(&w.mu); return w }()

func (w *writers) start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.halted {
		return fmt.Errorf("shard writes are halted: the job failed")
	}
	w.active++
	return nil
}

func (w *writers) end() {
	w.mu.Lock()
	w.active--
	w.mu.Unlock()
	w.idle.Broadcast()
}

// HaltWrites stops this process's shard writers — those at work finish,
// new ones fail — and returns once none is at work, with the function that
// lets writers start again. Call it after a failed job, around
// RemoveUnfinished.
func HaltWrites() (resume func()) {
	w := shardWriters
	w.mu.Lock()
	w.halted = true
	for w.active > 0 {
		w.idle.Wait()
	}
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		w.halted = false
		w.mu.Unlock()
	}
}

// RemoveUnfinished removes what a failed job left under prefix. A runner
// may go on running the stages after the one that failed, so the job can
// even have written a manifest — of a set missing the failed bundle's
// rows: a manifest other than the one that stood before the job (before)
// goes. Then temporary files go, and shards too where no manifest stands
// (the job had begun replacing the set: its writers remove the earlier
// manifest first). A failed job thus leaves the earlier complete set, as
// it was, or nothing.
func RemoveUnfinished(ctx context.Context, prefix string, before []byte) error {
	fs, err := filesystem.New(ctx, prefix)
	if err != nil {
		return err
	}
	defer fs.Close()
	standing := ManifestBytes(ctx, prefix)
	if standing != nil && !bytes.Equal(standing, before) {
		if err := removeManifest(ctx, prefix); err != nil {
			return err
		}
		standing = nil
	}
	if err := removeRuns(ctx, prefix); err != nil {
		return err
	}
	names, err := fs.List(ctx, prefix+"-*")
	if err != nil {
		return fmt.Errorf("listing %s-*: %w", prefix, err)
	}
	for _, name := range names {
		if !isShardOf(prefix, name) {
			continue
		}
		if strings.Contains(name, ".tmp-") || standing == nil {
			if err := removeFile(ctx, fs, name); err != nil {
				return err
			}
		}
	}
	return nil
}
