package pipelines

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/srdpo/srdpo/model/tokenizer"
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

// DefaultEvalConfig has β 0.1, seed 1, 24 new tokens per generation and
// the tokenizer found beside the reference; the reference, the prompts
// and Out are the caller's.
func DefaultEvalConfig() EvalConfig {
	return EvalConfig{Spec: stages.EvalSpec{Tokenizer: tokenizer.SpecAuto, Beta: 0.1, Seed: 1, MaxNew: 24}}
}

// RegisterFlags binds the evaluation settings to flags.
func (c *EvalConfig) RegisterFlags(fs *flag.FlagSet) {
	sp := &c.Spec
	fs.StringVar(&sp.Reference, "reference", sp.Reference, "the reference model directory (evaluated as \"reference\")")
	fs.Var((*policyList)(&c.Policies), "policy", "name=DIR of a policy to evaluate (repeat or comma-separate); DIR is srdpo train's <out>/"+stages.CheckpointDir)
	fs.StringVar(&sp.Tokenizer, "tokenizer", sp.Tokenizer, "tokenizer, as for scoring")
	fs.StringVar(&sp.Prompts, "prompts", sp.Prompts, "held-out prompts of the known-reward task (srdpo gen's eval_prompts.jsonl)")
	fs.StringVar(&sp.Shards, "shards", sp.Shards, "held-out scored pairs with gold scores, for preference accuracy and the Δ-gap correlations (optional)")
	fs.Var((*StringList)(&sp.MCTasks), "mc", "a multiple-choice task file (JSONL of context, choices, gold[, fewshot]) (repeat or comma-separate)")
	fs.IntVar(&sp.Fewshot, "fewshot", sp.Fewshot, "few-shot examples in front of each multiple-choice context")
	fs.Float64Var(&sp.Beta, "beta", sp.Beta, "β of Δπ = β·h_p")
	fs.BoolVar(&sp.PerToken, "per-token-margins", sp.PerToken, "take h and Δπ on per-token means, as IPO trained with --ipo-norm mean does")
	fs.Int64Var(&sp.Seed, "seed", sp.Seed, "decoding seed (greedy decoding uses none), recorded in every row")
	fs.IntVar(&sp.MaxNew, "max-new", sp.MaxNew, "new tokens per generation")
	fs.StringVar(&c.Out, "out", c.Out, "local output directory: eval-00000-of-00001.arrow, report.md and plots")
}

// Validate checks the settings, in a fixed order.
func (c EvalConfig) Validate() error {
	return required([2]string{"reference", c.Spec.Reference}, [2]string{"prompts", c.Spec.Prompts}, [2]string{"out", c.Out})
}

// policyList reads repeated --policy name=DIR flags.
type policyList []stages.PolicyRef

func (l *policyList) String() string {
	var parts []string
	for _, p := range *l {
		parts = append(parts, p.Name+"="+p.Dir)
	}
	return strings.Join(parts, ",")
}

func (l *policyList) Set(v string) error {
	var names StringList
	names.Set(v)
	for _, p := range names {
		name, dir, ok := strings.Cut(p, "=")
		if !ok || name == "" || dir == "" {
			return fmt.Errorf("%q: want name=DIR", p)
		}
		*l = append(*l, stages.PolicyRef{Name: name, Dir: dir})
	}
	return nil
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
	metrics, err := TrainingMetrics(c.Policies)
	if err != nil {
		return nil, "", err
	}
	table, err := WriteReport(c.Out, evals, metrics)
	return evals, table, err
}

// TrainingMetrics reads the metrics.arrow that srdpo train leaves in each
// policy's checkpoint, where there is one (the reference, or a model not
// trained by srdpo, has none); a metrics file that cannot be read is an
// error naming it.
func TrainingMetrics(policies []stages.PolicyRef) (map[string][]schemas.Metric, error) {
	out := map[string][]schemas.Metric{}
	for _, p := range policies {
		path := filepath.Join(p.Dir, stages.MetricsFile)
		data, err := os.ReadFile(path)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		rows, _, err := schemas.ReadRows[schemas.Metric](data, schemas.FormatArrow, schemas.Metrics)
		if err != nil {
			return nil, fmt.Errorf("policy %s: %s: %w", p.Name, path, err)
		}
		out[p.Name] = append(out[p.Name], rows...)
		sort.Slice(out[p.Name], func(i, j int) bool { return out[p.Name][i].Step < out[p.Name][j].Step })
	}
	return out, nil
}
