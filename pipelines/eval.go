package pipelines

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/srdpo/srdpo/runners"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
)

// EvalConfig is the evaluation job: policies, what they are evaluated on,
// and where the eval rows and the report go.
type EvalConfig struct {
	Spec     stages.EvalSpec
	Policies []stages.PolicyRef // the reference is added as "reference"
	Out      string             // local directory: eval-*.arrow, report.md, plots
}

// RunEval evaluates the policies on the chosen runner, writes the eval rows
// as Arrow shards and the report, and returns the rows and the report's
// main table.
func RunEval(ctx context.Context, c EvalConfig) ([]schemas.Eval, string, error) {
	policies := append([]stages.PolicyRef{{Name: "reference", Dir: c.Spec.Reference}}, c.Policies...)
	seen := map[string]bool{}
	for _, p := range policies {
		if seen[p.Name] {
			return nil, "", fmt.Errorf("two policies are named %q", p.Name)
		}
		seen[p.Name] = true
	}
	p, s := beam.NewPipelineWithRoot()
	rows := stages.EvaluatePolicies(s, c.Spec, beam.CreateList(s, policies))
	prefix := filepath.Join(c.Out, "eval")
	stages.WriteShards(s, prefix, schemas.Evals, schemas.NewMetadata(), rows, stages.WithShards(1))
	if _, err := runners.Run(ctx, p); err != nil {
		return nil, "", fmt.Errorf("evaluation pipeline: %w", err)
	}
	data, err := os.ReadFile(stages.ShardName(prefix, 0, 1, schemas.FormatArrow))
	if err != nil {
		return nil, "", err
	}
	evals, _, err := schemas.ReadRows[schemas.Eval](data, schemas.FormatArrow, schemas.Evals)
	if err != nil {
		return nil, "", err
	}
	table, err := WriteReport(c.Out, evals, TrainingMetrics(c.Policies))
	return evals, table, err
}

// TrainingMetrics reads the metrics.arrow that srdpo train leaves in each
// policy's checkpoint, where there is one.
func TrainingMetrics(policies []stages.PolicyRef) map[string][]schemas.Metric {
	out := map[string][]schemas.Metric{}
	for _, p := range policies {
		data, err := os.ReadFile(filepath.Join(p.Dir, stages.MetricsFile))
		if err != nil {
			continue
		}
		rows, _, err := schemas.ReadRows[schemas.Metric](data, schemas.FormatArrow, schemas.Metrics)
		if err != nil {
			continue
		}
		out[p.Name] = append(out[p.Name], rows...)
		sort.Slice(out[p.Name], func(i, j int) bool { return out[p.Name][i].Step < out[p.Name][j].Step })
	}
	return out
}
