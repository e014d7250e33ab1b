package shardio

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/srdpo/srdpo/schemas"
)

// writeRun writes rows, in the order given, as a run file.
func writeRun(t *testing.T, name string, rows ...schemas.Preference) {
	t.Helper()
	var buf bytes.Buffer
	w, err := schemas.NewRunWriter(&buf, schemas.Preferences)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The k-way merge on hand-made runs: three sorted runs of uneven lengths
// and an empty one merge into one file in id order, equal to the file
// WriteFile makes of the sorted rows; an id in two runs is refused by name.
func TestMergeRuns(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := testPreferences(9) // pair-000 … pair-008
	runs := map[string][]schemas.Preference{
		"a": {p[0], p[4], p[5], p[8]},
		"b": {p[1], p[2]},
		"c": {p[3], p[6], p[7]},
		"d": nil,
	}
	var names []string
	for k, rows := range runs {
		name := filepath.Join(dir, "x"+runInfix+k)
		writeRun(t, name, rows...)
		names = append(names, name)
	}
	var want bytes.Buffer
	all := make([]schemas.Row, len(p))
	for i := range p {
		all[i] = p[i]
	}
	if err := schemas.WriteFile(&want, schemas.FormatArrow, schemas.Preferences, testMetadata, all); err != nil {
		t.Fatal(err)
	}
	// In one merge, and in levels of two runs at a time (three levels for
	// four runs, with intermediate runs removed after).
	defer func(k int) { mergeFanIn = k }(mergeFanIn)
	for _, fanIn := range []int{32, 2} {
		mergeFanIn = fanIn
		var got bytes.Buffer
		n, err := mergeRuns(ctx, filepath.Join(dir, "x"), names, schemas.Preferences, &got, schemas.FormatArrow, testMetadata)
		if err != nil || n != 9 {
			t.Fatalf("fan-in %d: merged %d rows: %v", fanIn, n, err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			back, _, err := schemas.ReadRows[schemas.Preference](got.Bytes(), schemas.FormatArrow, schemas.Preferences)
			t.Fatalf("fan-in %d: merged file differs from the sorted rows' file: %v, %v", fanIn, back, err)
		}
		if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != len(names) {
			t.Errorf("fan-in %d: files after the merge %v, want only the %d runs", fanIn, left, len(names))
		}
	}

	writeRun(t, filepath.Join(dir, "x"+runInfix+"e"), p[2], p[5])
	_, err := mergeRuns(ctx, filepath.Join(dir, "x"), append(names, filepath.Join(dir, "x"+runInfix+"e")), schemas.Preferences, &bytes.Buffer{}, schemas.FormatArrow, testMetadata)
	if err == nil || !strings.Contains(err.Error(), `"pair-002"`) {
		t.Errorf("a duplicate id across runs: %v", err)
	}
}

// The set's bytes are the same whatever the bundles' run sizes (one row a
// run, three, all) and, per shard count, whatever was written before.
func TestShardsSameBytesWhateverTheRuns(t *testing.T) {
	rows := testPreferences(40)
	var sets []map[string][]byte
	for _, runRows := range []int{1, 3, DefaultRunRows} {
		prefix := filepath.Join(t.TempDir(), "prefs")
		writePrefs(t, prefix, rows, WithShards(3), WithRunRows(runRows))
		files := map[string][]byte{}
		for _, name := range listNames(t, prefix+"*") {
			b, _ := os.ReadFile(filepath.Join(filepath.Dir(prefix), name))
			files[name] = b
		}
		sets = append(sets, files)
		if m, got := readBack(t, prefix); !reflect.DeepEqual(got, rows) || m.Rows != 40 {
			t.Fatalf("run rows %d: %d rows in the manifest", runRows, m.Rows)
		}
	}
	for i := 1; i < len(sets); i++ {
		if !reflect.DeepEqual(sets[i], sets[0]) {
			t.Errorf("run size %d: the files differ from one row a run's", i)
		}
	}
	if _, ok := sets[0]["prefs.manifest.json"]; !ok || len(sets[0]) != 4 {
		t.Errorf("files %d (want 3 shards and a manifest, no run left)", len(sets[0]))
	}
}
