package stages

import (
	"context"
	"fmt"
	"sort"

	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages/shardio"
)

// Scoring that costs only what changed (srdpo score --reuse): a row of an
// earlier scored set is carried over when the earlier run's settings are
// this run's (checked once, ReuseSettings) and the row's id and content —
// its text as rendered, its messages — are the same; every other row is
// scored. Scores do not depend on batching or sharding, so the result is
// what a full rescore would write, byte for byte.

// reuseIndex is an earlier scored set, its rows by id.
type reuseIndex struct {
	store *scoredStore
	at    map[string]rowAt
}

// reuseIndexes holds each earlier set's index once per process, open for
// its life (an Arrow set is mapped, not read into memory).
var reuseIndexes onceCache[string, *reuseIndex]

func loadReuseIndex(ctx context.Context, pattern string) (*reuseIndex, error) {
	return reuseIndexes.get(pattern, func() (*reuseIndex, error) {
		store, err := openScored(ctx, pattern)
		if err != nil {
			return nil, fmt.Errorf("--reuse %s: %w", pattern, err)
		}
		idx := &reuseIndex{store: store, at: map[string]rowAt{}}
		err = store.walk(func(at rowAt, r schemas.Scored) error {
			idx.at[r.ID] = at
			return nil
		})
		if err != nil {
			store.Close()
			return nil, fmt.Errorf("--reuse %s: %w", pattern, err)
		}
		return idx, nil
	})
}

// lookup is the earlier row for p, when its content is p's; reason says
// why not otherwise (CounterReuseNew or CounterReuseChanged).
func (x *reuseIndex) lookup(p schemas.Preference) (schemas.Scored, string, error) {
	at, ok := x.at[p.ID]
	if !ok {
		return schemas.Scored{}, CounterReuseNew, nil
	}
	r, err := x.store.row(at)
	if err != nil {
		return schemas.Scored{}, "", err
	}
	if r.Prompt != p.Prompt || r.Chosen != p.Chosen || r.Rejected != p.Rejected || r.Messages != p.Messages || r.SourceFormat != p.SourceFormat {
		return schemas.Scored{}, CounterReuseChanged, nil
	}
	// Gold scores and offsets do not enter the sums: the new ones stand.
	r.ScoreChosen, r.ScoreRejected, r.Offset = p.ScoreChosen, p.ScoreRejected, p.Offset
	return r, "", nil
}

// reuseSettings are the metadata keys whose values decide every score.
var reuseSettings = []string{schemas.KeyModelFingerprint, schemas.KeyTokenizerFingerprint, schemas.KeyChatTemplate,
	schemas.KeyAugPrompt, schemas.KeyAugSeparator, schemas.KeyAugPosition, schemas.KeyMaxPromptLength, schemas.KeyMaxLength,
	schemas.KeyTruncationMode, schemas.KeyResponseEOS, schemas.KeyTokenization, schemas.KeySchemaVersion}

// ReuseSettings compares an earlier scored set's metadata with this run's:
// the settings that differ, named with both values (none: rows may be
// reused). The earlier set is a manifest or glob, local or gs://.
func ReuseSettings(ctx context.Context, pattern string, md schemas.Metadata) ([]string, error) {
	refs, err := shardio.List(ctx, pattern)
	if err != nil {
		return nil, fmt.Errorf("--reuse %s: %w", pattern, err)
	}
	sort.Slice(refs, func(i, j int) bool { return refs[i].Path < refs[j].Path })
	store := &scoredStore{}
	defer store.Close()
	_, earlier, err := store.open(ctx, refs[0])
	if err != nil {
		return nil, fmt.Errorf("--reuse %s: %w", pattern, err)
	}
	var diff []string
	for _, k := range reuseSettings {
		if earlier.Get(k) != md.Get(k) {
			diff = append(diff, fmt.Sprintf("%s (%q then, %q now)", k, clip(earlier.Get(k), 80), clip(md.Get(k), 80)))
		}
	}
	return diff, nil
}

// ReuseIndexRows loads an earlier scored set's --reuse index as a worker
// does (once per process) and says how many rows it holds; srdpo bench
// measures its memory with it.
func ReuseIndexRows(ctx context.Context, pattern string) (int, error) {
	idx, err := loadReuseIndex(ctx, pattern)
	if err != nil {
		return 0, err
	}
	return len(idx.at), nil
}

// ReuseLookup looks p up in a loaded --reuse index: the earlier row when
// it can be carried over; miss says why not otherwise.
func ReuseLookup(ctx context.Context, pattern string, p schemas.Preference) (r schemas.Scored, miss string, err error) {
	idx, err := loadReuseIndex(ctx, pattern)
	if err != nil {
		return r, "", err
	}
	return idx.lookup(p)
}
