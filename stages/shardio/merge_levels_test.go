package shardio

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/srdpo/srdpo/schemas"
)

// The k-way merge where it must work hardest: 40 rows dealt round-robin
// into 5 runs, so that the smallest row moves from run to run at every
// step (the heap is fixed after each row it gives, not only when a run
// ends), merged in one go and 2 at a time — 5 runs at fan-in 2 leave a
// group of one at the first level (5 → 3 → 2 → 1) and 3 at fan-in 4 leave
// one too (5 → 2 → 1). Every way gives the file of the sorted rows.
func TestMergeRunsInterleavedWithLeftovers(t *testing.T) {
	ctx := context.Background()
	p := testPreferences(40)
	all := make([]schemas.Row, len(p))
	for i := range p {
		all[i] = p[i]
	}
	var want bytes.Buffer
	if err := schemas.WriteFile(&want, schemas.FormatArrow, schemas.Preferences, testMetadata, all); err != nil {
		t.Fatal(err)
	}
	defer func(k int) { mergeFanIn = k }(mergeFanIn)
	for _, fanIn := range []int{32, 2, 4} {
		dir := t.TempDir()
		var names []string
		for k := 0; k < 5; k++ {
			var rows []schemas.Preference
			for i := k; i < len(p); i += 5 {
				rows = append(rows, p[i])
			}
			name := filepath.Join(dir, "x"+runInfix+fmt.Sprint(k))
			writeRun(t, name, rows...)
			names = append(names, name)
		}
		mergeFanIn = fanIn
		var got bytes.Buffer
		n, err := mergeRuns(ctx, filepath.Join(dir, "x"), names, schemas.Preferences, &got, schemas.FormatArrow, testMetadata)
		if err != nil || n != int64(len(p)) {
			t.Fatalf("fan-in %d: merged %d rows of %d: %v", fanIn, n, len(p), err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			back, _, _ := schemas.ReadRows[schemas.Preference](got.Bytes(), schemas.FormatArrow, schemas.Preferences)
			var ids []string
			for _, r := range back {
				ids = append(ids, r.ID)
			}
			t.Errorf("fan-in %d: merged rows are not the sorted rows: %v", fanIn, ids)
		}
	}
}
