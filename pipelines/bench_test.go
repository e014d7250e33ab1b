package pipelines

import (
	"context"
	"testing"
)

// BenchmarkScoring: the scoring pipeline on prism against a bare loop over
// the same 2,000 pairs and d=128 model, in tokens/s (also a figure of
// srdpo bench, on 1,000 pairs). go test -run X -bench Scoring ./pipelines
func BenchmarkScoring(b *testing.B) {
	ctx := context.Background()
	sb, err := newScoringBench(ctx, 2000)
	if err != nil {
		b.Fatal(err)
	}
	defer sb.close()
	b.Run("bare-loop", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			tps, err := sb.bare()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(tps, "tokens/s")
		}
	})
	b.Run("pipeline", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			tps, err := sb.pipeline(ctx, i)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(tps, "tokens/s")
		}
	})
}
