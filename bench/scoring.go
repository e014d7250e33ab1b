package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/pipelines"
	"github.com/srdpo/srdpo/runners"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
	"github.com/srdpo/srdpo/stats"
)

// scoringBench is a synthetic corpus of n pairs (prompts and responses of
// 20-100 bytes) and a d=128 byte-level reference saved beside it.
type scoringBench struct {
	dir   string
	prefs []schemas.Preference
	spec  stages.ReferenceSpec
	ref   *stages.Reference
}

func newScoringBench(ctx context.Context, n int) (*scoringBench, error) {
	dir, err := os.MkdirTemp("", "srdpo-bench-")
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"alpha", "beta", "gamma", "delta", "river", "stone", "light", "quiet", "north", "seven"}
	text := func() string {
		s := words[rng.IntN(len(words))]
		for len(s) < 20+rng.IntN(80) {
			s += " " + words[rng.IntN(len(words))]
		}
		return s
	}
	f, err := os.Create(filepath.Join(dir, "corpus.jsonl"))
	if err != nil {
		return nil, err
	}
	sb := &scoringBench{dir: dir}
	for i := 0; i < n; i++ {
		p := schemas.Preference{ID: fmt.Sprintf("b%05d", i), Prompt: text(), Chosen: " " + text(), Rejected: " " + text(), SourceFormat: "trl_standard"}
		json.NewEncoder(f).Encode(map[string]string{"id": p.ID, "prompt": p.Prompt, "chosen": p.Chosen, "rejected": p.Rejected})
		sb.prefs = append(sb.prefs, p)
	}
	f.Close()
	m, err := benchModel(128, 256, tokenizer.Byte{}.VocabSize())
	if err != nil {
		return nil, err
	}
	sb.spec = stages.ReferenceSpec{ModelDir: filepath.Join(dir, "ref"), Tokenizer: "byte", AugPrompt: "Answer well. Query:", AugSeparator: " ",
		Truncation: model.Truncation{MaxPromptLength: 128, MaxLength: 256, Prompt: model.KeepEnd, Response: model.KeepStart}}
	if err := m.Save(sb.spec.ModelDir); err != nil {
		return nil, err
	}
	if sb.ref, err = stages.LoadReference(ctx, sb.spec); err != nil {
		return nil, err
	}
	return sb, nil
}

func (sb *scoringBench) close() { os.RemoveAll(sb.dir) }

// bare scores every pair in a loop of 64-pair batches; tokens/s.
func (sb *scoringBench) bare() (float64, error) {
	start, tokens := time.Now(), int64(0)
	for lo := 0; lo < len(sb.prefs); lo += 64 {
		scored, _, err := sb.ref.Score(sb.prefs[lo:min(lo+64, len(sb.prefs))])
		if err != nil {
			return 0, err
		}
		for _, s := range scored {
			tokens += stages.TokensScored(s)
		}
	}
	return float64(tokens) / time.Since(start).Seconds(), nil
}

// pipeline runs the scoring job on the chosen runner; tokens/s.
func (sb *scoringBench) pipeline(ctx context.Context, i int) (float64, error) {
	c := pipelines.DefaultIngestConfig()
	c.Out, c.Shards, c.Corpus = filepath.Join(sb.dir, fmt.Sprintf("out%d", i), "scored"), 4, []string{filepath.Join(sb.dir, "corpus.jsonl")}
	p, s := beam.NewPipelineWithRoot()
	if _, _, err := pipelines.BuildScore(ctx, s, c, pipelines.ScoreConfig{Reference: sb.spec, BatchPairs: 64}); err != nil {
		return 0, err
	}
	start := time.Now()
	res, err := runners.Run(ctx, p)
	if err != nil {
		return 0, err
	}
	return float64(stages.Counters(res)[stages.CounterTokensScored]) / time.Since(start).Seconds(), nil
}

// benchScoring alternates the scoring pipeline on prism and a bare loop over
// the same 1,000 pairs and a d=128 model, in tokens/s.
func benchScoring(ctx context.Context, runs int) ([]Figure, error) {
	const n = 1000
	sb, err := newScoringBench(ctx, n)
	if err != nil {
		return nil, err
	}
	defer sb.close()
	if _, err := sb.bare(); err != nil { // warm-up: compile every shape
		return nil, err
	}
	if _, err := sb.pipeline(ctx, -1); err != nil {
		return nil, err
	}
	var tp, tb []float64
	for r := 0; r < runs; r++ {
		p, err := sb.pipeline(ctx, r)
		if err != nil {
			return nil, err
		}
		b, err := sb.bare()
		if err != nil {
			return nil, err
		}
		tp, tb = append(tp, p), append(tb, b)
	}
	base := Setting{"pairs": n, "d": 128, "runner": runners.Name()}
	return []Figure{
		Figure{Name: "scoring-pipeline", Unit: "tokens/s", Setting: base}.spread(tp),
		Figure{Name: "scoring-bare-loop", Unit: "tokens/s", Setting: base}.spread(tb),
		Figure{Name: "scoring pipeline/bare loop throughput", Unit: "ratio", Setting: base}.spread(stats.Ratios(tp, tb)),
	}, nil
}
