package pipelines

import (
	"strings"
	"testing"

	"github.com/srdpo/srdpo/schemas"
)

// With one seed the main table shows each sampled figure ± its standard
// error over prompts (the rows' stderr), and a figure without one plain;
// a sweep row keeps the standard error on its way to the report.
func TestMainTableShowsStandardErrors(t *testing.T) {
	rows := []schemas.Eval{
		{Policy: "dpo", Benchmark: "gold_reward", Metric: "mean", Value: 0.7, N: 1600, Seed: 1, Stderr: 0.0125},
		{Policy: "dpo", Benchmark: "gold_reward", Metric: "kl_to_reference", Value: 1.5, N: 1600, Seed: 1, Stderr: 0.25},
		{Policy: "dpo", Benchmark: "preferences", Metric: "accuracy", Value: 0.625, N: 200, Seed: 1},
	}
	figs, policies := summarise(rows)
	table := mainTable(figs, endPolicies(policies))
	for _, want := range []string{"0.700 ± 0.013", "1.500 ± 0.250", "| 0.625 |"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	cs := cellStep{Cell: Cell{Method: "dpo", Temperature: 0.1, Beta: 0.1}, Step: 200}
	if r := cs.row(rows[0]); r.Stderr != 0.0125 || r.Validate() != nil {
		t.Errorf("sweep row %+v: %v", r, r.Validate())
	}
}
