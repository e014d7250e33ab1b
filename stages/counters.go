package stages

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/srdpo/srdpo/schemas"
)

// CounterNamespace is the Beam metrics namespace of srdpo's counters.
const CounterNamespace = schemas.CounterNamespace

// Ingestion counters: read = good + dead.
const (
	CounterRecordsRead = "records_read"
	CounterRecordsGood = "records_good"
	CounterRecordsDead = "records_dead"
)

// Counters returns the srdpo counters of a finished pipeline, summed over
// steps. Runners that report no metrics give an empty map.
func Counters(res beam.PipelineResult) map[string]int64 {
	out := map[string]int64{}
	if res == nil {
		return out
	}
	for _, c := range res.Metrics().AllMetrics().Counters() {
		if c.Key.Namespace == CounterNamespace {
			out[c.Key.Name] += c.Result()
		}
	}
	return out
}

// Scoring counters.
const (
	CounterPairsScored   = "pairs_scored"
	CounterTokensScored  = "tokens_scored"
	CounterRowsTruncated = "rows_truncated"
	CounterScoringDead   = "scoring_dead"
	// With --reuse: pairs carried over from the earlier set, and why the
	// others were scored (new ids, or content that changed).
	CounterPairsReused  = "pairs_reused"
	CounterReuseNew     = "reuse_missed_new"
	CounterReuseChanged = "reuse_missed_changed"
)
