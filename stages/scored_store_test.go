package stages

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages/shardio"
)

// The training stage's store serves the rows of the shards in place: in
// id order its training pairs, held-out pairs and fingerprint are those
// of the rows read whole and sorted by id (what training used before),
// from mapped Arrow shards and from Parquet ones alike.
func TestScoredStoreEqualsRowsReadWhole(t *testing.T) {
	ctx := context.Background()
	manifest, _ := scoredToySet(t, 40, nil)
	rows, _, err := shardio.ReadScored(ctx, manifest)
	if err != nil {
		t.Fatal(err)
	}
	const fraction = 0.2
	var wantTrain, wantEval []model.PreferencePair
	fp := fnv.New64a()
	for _, r := range rows {
		fmt.Fprintf(fp, "%s\x00%v\x00%v\x00", r.ID, r.RefLogpChosen, r.RefLogpRejected)
		if heldOut(r.ID, fraction) {
			wantEval = append(wantEval, preferencePair(r))
		} else {
			wantTrain = append(wantTrain, preferencePair(r))
		}
	}
	if len(wantEval) == 0 || len(wantTrain) == 0 {
		t.Fatalf("split %d/%d: pick another fraction", len(wantTrain), len(wantEval))
	}
	wantFP := fmt.Sprintf("%016x", fp.Sum64())

	// The same rows as two Parquet shards, split otherwise than the Arrow ones.
	pq := t.TempDir()
	for k, part := range [][]schemas.Scored{rows[:13], rows[13:]} {
		out := make([]schemas.Row, len(part))
		for i := range part {
			out[i] = part[i]
		}
		f, _ := os.Create(filepath.Join(pq, fmt.Sprintf("s-%d.parquet", k)))
		store, _ := openScored(ctx, manifest)
		md := store.md
		store.Close()
		if err := schemas.WriteFile(f, schemas.FormatParquet, schemas.ScoredRows, md, out); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}

	for _, pattern := range []string{manifest, filepath.Join(pq, "*.parquet")} {
		store, err := openScored(ctx, pattern)
		if err != nil {
			t.Fatal(err)
		}
		train, eval, gotFP, err := store.split(fraction)
		if err != nil {
			t.Fatal(err)
		}
		got, err := store.pairs(train)
		if err != nil {
			t.Fatal(err)
		}
		held, err := store.pairs(eval)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, wantTrain) || !reflect.DeepEqual(held, wantEval) || gotFP != wantFP {
			t.Errorf("%s: store's split differs from the rows read whole (train %d/%d, eval %d/%d, fingerprint %s/%s)",
				pattern, len(got), len(wantTrain), len(held), len(wantEval), gotFP, wantFP)
		}
		if pattern == manifest {
			for _, s := range store.shards {
				if _, mapped := s.(*schemas.ArrowFile); !mapped {
					t.Errorf("an Arrow shard is held as %T, not mapped", s)
				}
			}
		}
		if err := store.Close(); err != nil {
			t.Error(err)
		}
	}
}

// A batch of a step is the same whether drawn with the epoch's order kept
// or redrawn (a resumed run), and every pair comes once an epoch.
func TestDataOrder(t *testing.T) {
	items := make([]int, 23)
	for i := range items {
		items[i] = i
	}
	kept := &dataOrder{seed: 5}
	seen := map[int]int{}
	for step := 0; step < 9; step++ { // 3 epochs of 3 batches
		a := batchAt(kept, items, 8, step)
		b := batchAt(&dataOrder{seed: 5}, items, 8, step)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("step %d: %v kept, %v fresh", step, a, b)
		}
		for _, x := range a {
			seen[x]++
		}
	}
	for _, x := range items {
		if seen[x] != 3 {
			t.Errorf("item %d came %d times in 3 epochs", x, seen[x])
		}
	}
}
