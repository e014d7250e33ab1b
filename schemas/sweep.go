package schemas

import (
	"fmt"
	"math"
)

// SweepRow is one figure of one policy of a sweep (srdpo run with
// list-valued settings): a metric of the policy trained with Method in the
// cell (label temperature, β, λ) of a seed, evaluated at Step of its
// training. The reference has method "reference" and step 0.
type SweepRow struct {
	Seed             int64   `arrow:"seed"`
	LabelTemperature float64 `arrow:"label_temperature"` // Bradley–Terry temperature of the training labels
	Beta             float64 `arrow:"beta"`
	Lambda           float64 `arrow:"lambda"` // 0 for DPO, IPO and the reference
	Method           string  `arrow:"method"` // "reference", "dpo", "ipo", "sr-dpo", "sr-ipo"
	Step             int64   `arrow:"step"`
	Benchmark        string  `arrow:"benchmark"` // as in Eval: "gold_reward", "preferences", "quality_correlation"
	Metric           string  `arrow:"metric"`
	Value            float64 `arrow:"value"`
	N                int64   `arrow:"n"`
	Stderr           float64 `arrow:"stderr"` // as in Eval; 0 where none
}

// Sweeps is the Arrow contract of sweep rows.
var Sweeps = newTable("sweep", "2", SweepRow{})

// Key orders rows by cell, then seed, step and figure.
func (r SweepRow) Key() string {
	return fmt.Sprintf("%016.8f/%016.8f/%s/%016.8f/%08d/%012d/%s/%s", r.LabelTemperature, r.Beta, r.Method, r.Lambda,
		r.Seed, r.Step, r.Benchmark, r.Metric)
}

func (r SweepRow) Validate() error {
	for _, c := range []struct{ col, v string }{{"method", r.Method}, {"benchmark", r.Benchmark}, {"metric", r.Metric}} {
		if c.v == "" {
			return invalid(c.col, "empty")
		}
	}
	switch {
	case !(r.LabelTemperature > 0):
		return invalid("label_temperature", "%v, want > 0", r.LabelTemperature)
	case !(r.Beta > 0):
		return invalid("beta", "%v, want > 0", r.Beta)
	case !(r.Lambda >= 0):
		return invalid("lambda", "%v, want ≥ 0", r.Lambda)
	case r.Step < 0:
		return invalid("step", "negative (%d)", r.Step)
	case math.IsNaN(r.Value):
		return invalid("value", "NaN")
	case r.N < 0:
		return invalid("n", "negative (%d)", r.N)
	case !(r.Stderr >= 0):
		return invalid("stderr", "%v, want ≥ 0", r.Stderr)
	}
	return nil
}
