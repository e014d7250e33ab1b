package schemas

import (
	"fmt"
	"math"
)

// Eval is one evaluation figure: a metric of a policy on a benchmark.
type Eval struct {
	Policy string `arrow:"policy"` // e.g. "reference", "dpo", "sr-dpo"
	// Step is how many training steps made the policy: a run's policies at
	// the end of their training and at the points kept along it share a
	// name and differ here. The reference, and a policy srdpo eval is
	// given whole, are at 0.
	Step      int64   `arrow:"step"`
	Benchmark string  `arrow:"benchmark"` // e.g. "gold_reward", "arc_easy"
	Metric    string  `arrow:"metric"`    // e.g. "mean", "win_rate_vs_reference", "acc_norm"
	Value     float64 `arrow:"value"`
	N         int64   `arrow:"n"` // how many items the value is over
	Seed      int64   `arrow:"seed"`
	// Stderr is the value's standard error as lm-eval-harness reports it
	// (benchmarks); 0 where none is computed or fewer than two items.
	Stderr float64 `arrow:"stderr"`
}

// Evals is the Arrow contract of evaluation rows.
var Evals = newTable("eval", "3", Eval{})

func (e Eval) Key() string {
	return fmt.Sprintf("%s/%012d/%s/%s/%d", e.Policy, e.Step, e.Benchmark, e.Metric, e.Seed)
}

func (e Eval) Validate() error {
	for _, c := range []struct{ col, v string }{
		{"policy", e.Policy}, {"benchmark", e.Benchmark}, {"metric", e.Metric},
	} {
		if c.v == "" {
			return invalid(c.col, "empty")
		}
	}
	if e.Step < 0 {
		return invalid("step", "negative (%d)", e.Step)
	}
	if math.IsNaN(e.Value) {
		return invalid("value", "NaN")
	}
	if math.IsNaN(e.Stderr) || e.Stderr < 0 {
		return invalid("stderr", "%v", e.Stderr)
	}
	if e.N < 0 {
		return invalid("n", "negative (%d)", e.N)
	}
	return nil
}
