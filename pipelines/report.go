package pipelines

import (
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Counters returns the srdpo counters of a finished pipeline, summed over
// steps. Runners that report no metrics give an empty map.
func Counters(res beam.PipelineResult) map[string]int64 {
	out := map[string]int64{}
	if res == nil {
		return out
	}
	for _, c := range res.Metrics().AllMetrics().Counters() {
		if c.Key.Namespace == "srdpo" {
			out[c.Key.Name] += c.Result()
		}
	}
	return out
}

// PrintSummary writes the counters and the wall time of a run.
func PrintSummary(w io.Writer, counters map[string]int64, wall time.Duration) {
	names := make([]string, 0, len(counters))
	for n := range counters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-28s %d\n", n, counters[n])
	}
	fmt.Fprintf(w, "  %-28s %s\n", "wall_time", wall.Round(time.Millisecond))
}
