package pipelines

import (
	"fmt"
	"io"
	"sort"
	"time"
)

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
