package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
)

// benchReuseIndex measures what srdpo score --reuse holds per worker
// process: the id index of an earlier scored set of n pairs (heap bytes
// per pair after a GC, the time to build it), and how fast rows are looked
// up and carried over. The set is synthetic — content-hash ids as srdpo
// makes them, 16-token prompts, 24-token p⊕x, 16-token responses — in 8
// Arrow shards sorted by id, as srdpo score writes them.
func benchReuseIndex(ctx context.Context, n int) ([]Figure, error) {
	dir, err := os.MkdirTemp("", "srdpo-reuse-index-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(os.Stderr, "srdpo bench: writing a scored set of %d pairs…\n", n)
	const shards = 8
	md := schemas.NewMetadata().With(schemas.KeyModelFingerprint, "bench")
	var probe []schemas.Preference
	for k := 0; k < shards; k++ {
		var rows []schemas.Scored
		for i := k; i < n; i += shards {
			rows = append(rows, benchScoredRow(i))
		}
		sort.Slice(rows, func(a, b int) bool { return rows[a].ID < rows[b].ID })
		generic := make([]schemas.Row, len(rows))
		for i, r := range rows {
			generic[i] = r
			if i%(len(rows)/1000+1) == 0 {
				probe = append(probe, schemas.Preference{ID: r.ID, Prompt: r.Prompt, Chosen: r.Chosen, Rejected: r.Rejected})
			}
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("scored-%05d-of-%05d.arrow", k, shards)))
		if err != nil {
			return nil, err
		}
		if err := schemas.WriteFile(f, schemas.FormatArrow, schemas.ScoredRows, md, generic); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
	}
	pattern := filepath.Join(dir, "scored-*.arrow")
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	start := time.Now()
	got, err := stages.ReuseIndexRows(ctx, pattern)
	if err != nil {
		return nil, err
	}
	build := time.Since(start).Seconds()
	held := heap() - before
	if got != n {
		return nil, fmt.Errorf("the index holds %d rows, want %d", got, n)
	}
	start = time.Now()
	for _, p := range probe {
		if _, miss, err := stages.ReuseLookup(ctx, pattern, p); err != nil || miss != "" {
			return nil, fmt.Errorf("row %s not carried over: %q %v", p.ID, miss, err)
		}
	}
	lookups := float64(len(probe)) / time.Since(start).Seconds()
	base := Setting{"pairs": n, "shards": shards, "format": "arrow (mapped)"}
	return []Figure{
		Figure{Name: "reuse-index memory", Unit: "bytes/pair", Setting: base,
			What: "Go heap held by the --reuse id index after a GC, per pair of the earlier set (once per worker process)"}.value(float64(held) / float64(n)),
		Figure{Name: "reuse-index build", Unit: "s", Setting: base}.value(build),
		Figure{Name: "reuse lookups", Unit: "rows/s", What: "rows found and carried over (read back from the mapped shards)", Setting: base}.value(lookups),
	}, nil
}

// benchScoredRow is synthetic scored row i.
func benchScoredRow(i int) schemas.Scored {
	h := sha256.Sum256(fmt.Appendf(nil, "pair %d", i))
	ids := func(n, from int) []int32 {
		out := make([]int32, n)
		for j := range out {
			out[j] = int32((from + 7*j) % 50000)
		}
		return out
	}
	return schemas.Scored{ID: hex.EncodeToString(h[:16]),
		Prompt: fmt.Sprintf("question %d", i), Chosen: " a good answer", Rejected: " a bad answer",
		PromptIDs: ids(16, i), AugPromptIDs: ids(24, i+1), ChosenIDs: ids(16, i+2), RejectedIDs: ids(16, i+3),
		PromptTokens: 16, AugPromptTokens: 24, ChosenTokens: 16, RejectedTokens: 16,
		RefLogpChosen: -10, RefLogpRejected: -12, RefLogpChosenAug: -9, RefLogpRejectedAug: -12.5}
}
