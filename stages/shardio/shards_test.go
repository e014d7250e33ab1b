package shardio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/srdpo/srdpo/runners/gcstest"
	"github.com/srdpo/srdpo/runners/prismtest"
	"github.com/srdpo/srdpo/schemas"
)

func TestMain(m *testing.M) { prismtest.Main(m) }

func testPreferences(n int) []schemas.Preference {
	var rows []schemas.Preference
	for i := 0; i < n; i++ {
		s := float64(i)
		rows = append(rows, schemas.Preference{
			ID: fmt.Sprintf("pair-%03d", i), Prompt: fmt.Sprintf("question %d, ünïcode ✓", i),
			Chosen: fmt.Sprintf(" good %d", i), Rejected: fmt.Sprintf(" bad %d", i),
			SourceFormat: "trl_standard", ScoreChosen: &s, ScoreRejected: &s,
		})
	}
	return rows
}

var testMetadata = schemas.NewMetadata().
	With(schemas.KeyModelFingerprint, "model-sha").
	With(schemas.KeyAugPrompt, schemas.DefaultAugPrompt)

func writePrefs(t *testing.T, prefix string, rows []schemas.Preference, opts ...ShardOption) {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	manifest := WriteShards(s, prefix, schemas.Preferences, testMetadata, beam.CreateList(s, rows), opts...)
	passert.Equals(s, manifest, prefix+schemas.ManifestSuffix)
	ptest.RunAndValidate(t, p)
}

// readBack reads every shard listed by the manifest with the plain Arrow or
// Parquet reader, checking sort order and shard assignment on the way.
func readBack(t *testing.T, prefix string) (schemas.Manifest, []schemas.Preference) {
	t.Helper()
	ctx := context.Background()
	fs, err := filesystem.New(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	b, err := filesystem.Read(ctx, fs, prefix+schemas.ManifestSuffix)
	if err != nil {
		t.Fatal(err)
	}
	m, err := schemas.ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	dir := prefix[:strings.LastIndex(prefix, "/")+1]
	var all []schemas.Preference
	for i, sh := range m.Shards {
		if want := filepath.Base(ShardName(prefix, i, len(m.Shards), m.Format)); sh.Name != want {
			t.Fatalf("shard %d named %s, want %s", i, sh.Name, want)
		}
		data, err := filesystem.Read(ctx, fs, dir+sh.Name)
		if err != nil {
			t.Fatal(err)
		}
		rows, md, err := schemas.ReadFile(data, m.Format, schemas.Preferences)
		if err != nil {
			t.Fatal(err)
		}
		if md.Get(schemas.KeyModelFingerprint) != "model-sha" || md.Get(schemas.KeyAugPrompt) != schemas.DefaultAugPrompt {
			t.Errorf("shard %s metadata %v", sh.Name, md)
		}
		if int64(len(rows)) != sh.Rows {
			t.Errorf("shard %s: %d rows, manifest says %d", sh.Name, len(rows), sh.Rows)
		}
		for j, r := range rows {
			p := r.(schemas.Preference)
			if ShardOf(p.ID, len(m.Shards)) != i {
				t.Errorf("row %s in shard %d, hashes to %d", p.ID, i, ShardOf(p.ID, len(m.Shards)))
			}
			if j > 0 && rows[j-1].Key() >= p.ID {
				t.Errorf("shard %s not sorted at row %d", sh.Name, j)
			}
			all = append(all, p)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	return m, all
}

func listNames(t *testing.T, pattern string) []string {
	t.Helper()
	ctx := context.Background()
	fs, err := filesystem.New(ctx, pattern)
	if err != nil {
		t.Fatal(err)
	}
	names, err := fs.List(ctx, pattern)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	sort.Strings(names)
	return names
}

func TestWriteShardsLocalRoundTripAndRerun(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "out", "prefs")
	rows := testPreferences(25)

	writePrefs(t, prefix, rows, WithShards(4))
	m, got := readBack(t, prefix)
	if !reflect.DeepEqual(got, rows) || m.Rows != 25 || len(m.Shards) != 4 {
		t.Fatalf("round trip: manifest %+v, %d rows", m, len(got))
	}
	first, err := os.ReadFile(ShardName(prefix, 0, 4, schemas.FormatArrow))
	if err != nil {
		t.Fatal(err)
	}

	// A rerun with the same shard count writes the same bytes.
	writePrefs(t, prefix, rows, WithShards(4))
	again, _ := os.ReadFile(ShardName(prefix, 0, 4, schemas.FormatArrow))
	if string(again) != string(first) {
		t.Fatal("rerun wrote different bytes")
	}

	// A leftover temporary file of a failed attempt, and a rerun with another
	// shard count: exactly one set of shards remains.
	os.WriteFile(ShardName(prefix, 1, 4, schemas.FormatArrow)+".tmp-dead", []byte("half"), 0o644)
	writePrefs(t, prefix, rows[:3], WithShards(5))
	want := []string{"prefs-00000-of-00005.arrow", "prefs-00001-of-00005.arrow", "prefs-00002-of-00005.arrow",
		"prefs-00003-of-00005.arrow", "prefs-00004-of-00005.arrow", "prefs.manifest.json"}
	if names := listNames(t, filepath.Dir(prefix)+"/*"); !reflect.DeepEqual(names, want) {
		t.Fatalf("after rerun: %v\nwant %v", names, want)
	}
	// Shards that no row hashed to are still written, empty, with the schema.
	m, got = readBack(t, prefix)
	if !reflect.DeepEqual(got, rows[:3]) || m.Rows != 3 {
		t.Fatalf("after rerun: %+v", got)
	}
}

func TestReadShardsChecksMetadataAndCounts(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "prefs")
	rows := testPreferences(12)
	writePrefs(t, prefix, rows, WithShards(3), WithFormat(schemas.FormatParquet))

	// Through the manifest, and through a glob, with matching metadata.
	for _, pattern := range []string{prefix + schemas.ManifestSuffix, prefix + "-*.parquet"} {
		p, s := beam.NewPipelineWithRoot()
		got := ReadShards(s, pattern, schemas.Preferences, ExpectMetadata(schemas.Metadata{schemas.KeyModelFingerprint: "model-sha"}))
		passert.Equals(s, got, beam.CreateList(s, rows))
		ptest.RunAndValidate(t, p)
	}

	// Another model's fingerprint: the pipeline fails and says why.
	p, s := beam.NewPipelineWithRoot()
	ReadShards(s, prefix+schemas.ManifestSuffix, schemas.Preferences, ExpectMetadata(schemas.Metadata{schemas.KeyModelFingerprint: "other"}))
	if err := ptest.Run(p); err == nil || !strings.Contains(err.Error(), `metadata srdpo.model_fingerprint is "model-sha", want "other"`) {
		t.Fatalf("metadata mismatch: %v", err)
	}

	// Reading as the wrong table fails on the table name.
	p, s = beam.NewPipelineWithRoot()
	ReadShards(s, prefix+schemas.ManifestSuffix, schemas.ScoredRows)
	if err := ptest.Run(p); err == nil || !strings.Contains(err.Error(), `is "preference", want "scored"`) {
		t.Fatalf("table mismatch: %v", err)
	}

	// A shard that lost rows since the manifest was written.
	writeOne := func(name string, rows []schemas.Row) {
		f, err := os.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := schemas.WriteFile(f, schemas.FormatParquet, schemas.Preferences, testMetadata, rows); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	writeOne(ShardName(prefix, 0, 3, schemas.FormatParquet), nil)
	p, s = beam.NewPipelineWithRoot()
	ReadShards(s, prefix+schemas.ManifestSuffix, schemas.Preferences)
	if err := ptest.Run(p); err == nil || !strings.Contains(err.Error(), "its manifest says") {
		t.Fatalf("row count mismatch: %v", err)
	}
}

func TestWriteShardsRejectsDuplicateIDs(t *testing.T) {
	rows := testPreferences(3)
	rows[2].ID = rows[0].ID
	p, s := beam.NewPipelineWithRoot()
	WriteShards(s, filepath.Join(t.TempDir(), "dup"), schemas.Preferences, testMetadata, beam.CreateList(s, rows))
	if err := ptest.Run(p); err == nil || !strings.Contains(err.Error(), `two rows share the id "pair-000"`) {
		t.Fatalf("got %v", err)
	}
}

func TestWriteShardsOnGCS(t *testing.T) {
	gcstest.Start(t, "srdpo-test")
	prefix := "gs://srdpo-test/runs/prefs"
	rows := testPreferences(9)
	writePrefs(t, prefix, rows, WithShards(3))
	if m, got := readBack(t, prefix); !reflect.DeepEqual(got, rows) || m.Rows != 9 {
		t.Fatalf("gs round trip: %+v", got)
	}
	// Rerun into the same prefix with another shard count.
	writePrefs(t, prefix, rows, WithShards(2))
	want := []string{"prefs-00000-of-00002.arrow", "prefs-00001-of-00002.arrow", "prefs.manifest.json"}
	if names := listNames(t, "gs://srdpo-test/runs/*"); !reflect.DeepEqual(names, want) {
		t.Fatalf("after rerun: %v", names)
	}
	p, s := beam.NewPipelineWithRoot()
	passert.Equals(s, ReadShards(s, prefix+schemas.ManifestSuffix, schemas.Preferences), beam.CreateList(s, rows))
	ptest.RunAndValidate(t, p)
}

func TestWriteShardsOnMemfs(t *testing.T) {
	prefix := "memfs://" + t.Name() + "/prefs"
	rows := testPreferences(7)
	writePrefs(t, prefix, rows, WithShards(2), WithFormat(schemas.FormatParquet))
	p, s := beam.NewPipelineWithRoot()
	passert.Equals(s, ReadShards(s, prefix+schemas.ManifestSuffix, schemas.Preferences), beam.CreateList(s, rows))
	ptest.RunAndValidate(t, p)
}

// A rerun into the same prefix removes the earlier manifest before it
// replaces any shard: a kill between the two never leaves a manifest
// beside a set it does not describe.
func TestRerunRemovesManifestBeforeReplacingShards(t *testing.T) {
	ctx := context.Background()
	prefix := filepath.Join(t.TempDir(), "prefs")
	manifest := prefix + schemas.ManifestSuffix
	os.WriteFile(manifest, []byte(`{"old": true}`), 0o644)
	fn := &writeShardFn{Prefix: prefix, Table: schemas.Preferences.Name, Metadata: schemas.NewMetadata(), Shards: 2, Format: schemas.FormatArrow}
	fn.Setup()
	rows := testPreferences(1)
	spill := &spillFn{Prefix: prefix, Table: schemas.Preferences.Name, Shards: 2, RunRows: 10}
	spill.Setup()
	var run string
	var shard int
	emit := func(k int, name string) { shard, run = k, name }
	spill.StartBundle(ctx, emit)
	spill.ProcessElement(ctx, rows[0], emit)
	if err := spill.FinishBundle(ctx, emit); err != nil || run == "" {
		t.Fatalf("spill: %v, run %q", err, run)
	}
	done := false
	iter := func(x *string) bool {
		if done {
			return false
		}
		*x, done = run, true
		return true
	}
	if _, err := fn.ProcessElement(ctx, shard, iter); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(ShardName(prefix, shard, 2, schemas.FormatArrow)); err != nil {
		t.Fatalf("the shard was not written: %v", err)
	}
	if _, err := os.Stat(manifest); !os.IsNotExist(err) {
		t.Errorf("the earlier manifest is still there beside a replaced shard (%v)", err)
	}
}

// After a failed job: temporary files go; a manifest other than the one
// that stood before goes; shards go where no manifest stands; the earlier
// complete set stays; other files stay.
func TestRemoveUnfinished(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name             string
		manifest, before string // "" for none
		want             []string
	}{
		{"the earlier set stands", "earlier", "earlier", []string{"other.txt", "scored-00000-of-00002.arrow", "scored-00001-of-00002.arrow", "scored.manifest.json"}},
		{"the job wrote a manifest of its own", "partial", "", []string{"other.txt"}},
		{"the job replaced the earlier manifest", "partial", "earlier", []string{"other.txt"}},
		{"no manifest", "", "earlier", []string{"other.txt"}},
	} {
		dir := t.TempDir()
		prefix := filepath.Join(dir, "scored")
		for _, f := range []string{prefix + "-00000-of-00002.arrow", prefix + "-00001-of-00002.arrow", prefix + "-00001-of-00002.arrow.tmp-abc",
			prefix + runInfix + "abc-0000-00001.arrows", filepath.Join(dir, "other.txt")} {
			os.WriteFile(f, []byte("x"), 0o644)
		}
		if c.manifest != "" {
			os.WriteFile(prefix+schemas.ManifestSuffix, []byte(c.manifest), 0o644)
		}
		var before []byte
		if c.before != "" {
			before = []byte(c.before)
		}
		if err := removeUnfinished(ctx, prefix, before); err != nil {
			t.Fatal(err)
		}
		left, _ := filepath.Glob(filepath.Join(dir, "*"))
		for i := range left {
			left[i] = filepath.Base(left[i])
		}
		if !reflect.DeepEqual(left, c.want) {
			t.Errorf("%s: left %v, want %v", c.name, left, c.want)
		}
	}
}

// GuardOutputs treats its sets as one output: a job that fails without
// touching them leaves both earlier sets; one that fails after it began
// replacing one set (its manifest removed, a shard written) leaves
// neither; a job that succeeds is left alone.
func TestGuardOutputsKeepsSetsTogether(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name      string
		job       func(a string) error
		wantA     bool // set a's manifest stands afterwards
		wantB     bool
		wantError bool
	}{
		{"fails untouched", func(string) error { return errors.New("boom") }, true, true, true},
		{"fails mid-replacement", func(a string) error {
			os.Remove(a + schemas.ManifestSuffix)
			os.WriteFile(a+"-00000-of-00001.arrow", []byte("new"), 0o644)
			return errors.New("boom")
		}, false, false, true},
		{"succeeds", func(a string) error { os.Remove(a + schemas.ManifestSuffix); return nil }, false, true, false},
	} {
		dir := t.TempDir()
		a, b := filepath.Join(dir, "scored"), filepath.Join(dir, "scored.deadletters")
		for _, prefix := range []string{a, b} {
			os.WriteFile(prefix+"-00000-of-00001.arrow", []byte("old"), 0o644)
			os.WriteFile(prefix+schemas.ManifestSuffix, []byte("earlier"), 0o644)
		}
		var log bytes.Buffer
		err := GuardOutputs(ctx, []string{a, b}, &log, func() error { return c.job(a) })
		if (err != nil) != c.wantError {
			t.Errorf("%s: error %v", c.name, err)
		}
		for _, x := range []struct {
			prefix string
			want   bool
		}{{a, c.wantA}, {b, c.wantB}} {
			_, serr := os.Stat(x.prefix + schemas.ManifestSuffix)
			_, shardErr := os.Stat(x.prefix + "-00000-of-00001.arrow")
			if got := serr == nil; got != x.want {
				t.Errorf("%s: %s's manifest stands %v, want %v", c.name, filepath.Base(x.prefix), got, x.want)
			}
			if c.wantError && (serr == nil) != (shardErr == nil) {
				t.Errorf("%s: %s: manifest %v but shard %v", c.name, filepath.Base(x.prefix), serr, shardErr)
			}
		}
		if log.Len() > 0 {
			t.Errorf("%s: cleanup problems: %s", c.name, log.String())
		}
	}
}

// What a retrying runner (Dataflow, Flink) does to the sink, replayed here
// since the runners of the tests do not retry: a bundle's first attempt
// writes its runs and dies, its second attempt's runs are the ones the
// runner keeps (two spills: runs of 4 rows); a first attempt at each shard
// dies after writing its temporary file, another is killed after renaming
// it into place, a third succeeds, and only the third's output reaches the
// finaliser. The set holds each row once, no run or temporary file is
// left, and the bytes are a fault-free run's.
func TestRetriedShardAttemptsLeaveOneCopy(t *testing.T) {
	ctx := context.Background()
	rows := testPreferences(6)
	clean := filepath.Join(t.TempDir(), "prefs")
	writePrefs(t, clean, rows, WithShards(2))

	prefix := filepath.Join(t.TempDir(), "prefs")
	md := testMetadata
	spill := &spillFn{Prefix: prefix, Table: schemas.Preferences.Name, Shards: 2, RunRows: 4}
	if err := spill.Setup(); err != nil {
		t.Fatal(err)
	}
	runs := map[int][]string{}
	for attempt := 1; attempt <= 2; attempt++ {
		kept := map[int][]string{}
		emit := func(shard int, name string) { kept[shard] = append(kept[shard], name) }
		spill.StartBundle(ctx, emit)
		for i := len(rows) - 1; i >= 0; i-- { // out of order: the runs sort
			if err := spill.ProcessElement(ctx, rows[i], emit); err != nil {
				t.Fatal(err)
			}
		}
		if err := spill.FinishBundle(ctx, emit); err != nil {
			t.Fatal(err)
		}
		runs = kept
	}
	if n := len(listNames(t, prefix+runInfix+"*")); n < 6 {
		t.Fatalf("%d run files from two attempts of two spills over two shards", n)
	}
	write := &writeShardFn{Prefix: prefix, Table: schemas.Preferences.Name, Metadata: md, Shards: 2, Format: schemas.FormatArrow}
	write.Setup()
	var reported []writtenShard
	for shard := 0; shard < 2; shard++ {
		// Attempt 1 died between writing its temporary file and renaming it.
		os.WriteFile(ShardName(prefix, shard, 2, schemas.FormatArrow)+".tmp-0123456789abcdef", []byte("half a shard"), 0o644)
		// Attempts 2 and 3 run whole; the runner keeps attempt 3's output.
		var w writtenShard
		for attempt := 2; attempt <= 3; attempt++ {
			i := 0
			iter := func(x *string) bool {
				if i == len(runs[shard]) {
					return false
				}
				*x, i = runs[shard][i], i+1
				return true
			}
			var err error
			if w, err = write.ProcessElement(ctx, shard, iter); err != nil {
				t.Fatal(err)
			}
		}
		reported = append(reported, w)
	}
	final := &finalizeShardsFn{Prefix: prefix, Table: schemas.Preferences.Name, Metadata: md, Shards: 2, Format: schemas.FormatArrow}
	i := 0
	iter := func(w *writtenShard) bool {
		if i == len(reported) {
			return false
		}
		*w, i = reported[i], i+1
		return true
	}
	if err := final.ProcessElement(ctx, nil, iter, func(string) {}); err != nil {
		t.Fatal(err)
	}
	if m, got := readBack(t, prefix); !reflect.DeepEqual(got, rows) || m.Rows != 6 {
		t.Fatalf("after retried attempts: %d rows in the manifest, rows %+v", m.Rows, got)
	}
	want := []string{"prefs-00000-of-00002.arrow", "prefs-00001-of-00002.arrow", "prefs.manifest.json"}
	if names := listNames(t, prefix+"*"); !reflect.DeepEqual(names, want) {
		t.Fatalf("left %v", names)
	}
	for _, name := range want {
		a, _ := os.ReadFile(filepath.Join(filepath.Dir(prefix), name))
		b, _ := os.ReadFile(filepath.Join(filepath.Dir(clean), name))
		if len(a) == 0 || string(a) != string(b) {
			t.Errorf("%s differs from the fault-free run's", name)
		}
	}
}
