package pipelines

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
)

// benchCorpus writes n synthetic pairs (prompts and responses of 20-100
// bytes) and a d=128 byte-level reference; it returns the corpus path, the
// rows as ingestion makes them, and the reference spec.
func benchCorpus(b *testing.B, n int) (string, []schemas.Preference, stages.ReferenceSpec) {
	dir := b.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"alpha", "beta", "gamma", "delta", "river", "stone", "light", "quiet", "north", "seven"}
	text := func() string {
		s := words[rng.IntN(len(words))]
		for len(s) < 20+rng.IntN(80) {
			s += " " + words[rng.IntN(len(words))]
		}
		return s
	}
	f, _ := os.Create(filepath.Join(dir, "corpus.jsonl"))
	var rows []schemas.Preference
	for i := 0; i < n; i++ {
		p := schemas.Preference{ID: fmt.Sprintf("b%05d", i), Prompt: text(), Chosen: " " + text(), Rejected: " " + text(), SourceFormat: "trl_standard"}
		json.NewEncoder(f).Encode(map[string]string{"id": p.ID, "prompt": p.Prompt, "chosen": p.Chosen, "rejected": p.Rejected})
		rows = append(rows, p)
	}
	f.Close()
	backend, _ := model.NewBackend()
	m, _ := model.New(model.Config{Vocab: 257, Context: 256, Layers: 2, Heads: 4, Width: 128, NormEps: 1e-5, TiedHead: true, DType: "float32"}, 1, backend)
	ref := filepath.Join(dir, "ref")
	if err := m.Save(ref); err != nil {
		b.Fatal(err)
	}
	spec := stages.ReferenceSpec{ModelDir: ref, Tokenizer: "byte", AugPrompt: "Answer well. Query:", AugSeparator: " ",
		Truncation: model.Truncation{MaxPromptLength: 128, MaxLength: 256, Prompt: model.KeepEnd, Response: model.KeepStart}}
	return filepath.Join(dir, "corpus.jsonl"), rows, spec
}

// BenchmarkScoring: the scoring pipeline on prism against a bare loop over
// the same rows and model, in tokens/s. go test -run X -bench Scoring ./pipelines
func BenchmarkScoring(b *testing.B) {
	path, rows, spec := benchCorpus(b, 2000)
	ref, err := stages.LoadReference(context.Background(), spec)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("bare-loop", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			start, tokens := time.Now(), 0
			for lo := 0; lo < len(rows); lo += 64 {
				scored, err := ref.Score(rows[lo:min(lo+64, len(rows))])
				if err != nil {
					b.Fatal(err)
				}
				for _, s := range scored {
					tokens += int(2*(s.PromptTokens+s.AugPromptTokens) + 2*(s.ChosenTokens+s.RejectedTokens))
				}
			}
			b.ReportMetric(float64(tokens)/time.Since(start).Seconds(), "tokens/s")
		}
	})
	b.Run("pipeline", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			out := filepath.Join(b.TempDir(), "scored")
			var f IngestFlags
			fs := newFlagSet()
			f.Register(fs)
			fs.Parse([]string{"--corpus", path, "--out", out})
			c, _ := f.Config()
			p, s := beam.NewPipelineWithRoot()
			if _, _, err := BuildScore(context.Background(), s, c, spec, 64); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			res, err := ptest.RunWithMetrics(p)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(stages.Counters(res)[stages.CounterTokensScored])/time.Since(start).Seconds(), "tokens/s")
		}
	})
}
