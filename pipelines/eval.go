package pipelines

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/srdpo/srdpo/benchmarks"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
	"github.com/srdpo/srdpo/stages/shardio"
	"github.com/srdpo/srdpo/tasks"
)

// EvalConfig is the evaluation job: policies, what they are evaluated on,
// and where the eval rows and the report go.
type EvalConfig struct {
	Spec     stages.EvalSpec
	Policies []stages.PolicyRef // the reference is added as "reference"
	Out      string             // local directory: eval-*.arrow, report.md, plots
	// Fewshot is the few-shot examples of the --mc files that do not set
	// their own (--num-fewshot).
	Fewshot int
}

// DefaultEvalConfig has β 0.1, seed 1, 24 new tokens per generation and
// the tokenizer found beside the reference; the reference, the prompts
// and Out are the caller's.
func DefaultEvalConfig() EvalConfig {
	return EvalConfig{Spec: stages.EvalSpec{Tokenizer: tokenizer.SpecAuto, Beta: 0.1, Seed: 1, MaxNew: 24, DocsPerElement: 256,
		Samples: 8, Temperature: 1, TopP: 1, Stop: tasks.Stop, SampleBatch: stages.DefaultSampleBatch, GoldReward: tasks.RewardName}}
}

// The known-reward task's gold reward, by the name evaluation asks for it
// (in every process: a remote worker runs this binary's init too).
func init() { stages.RegisterGoldReward(tasks.RewardName, tasks.Reward) }

// RegisterFlags binds the evaluation settings to flags.
func (c *EvalConfig) RegisterFlags(fs *flag.FlagSet) {
	sp := &c.Spec
	fs.StringVar(&sp.Reference, "reference", sp.Reference, "the reference model directory (evaluated as \"reference\")")
	fs.Var((*policyList)(&c.Policies), "policy", "name=DIR of a policy to evaluate (repeat or comma-separate); DIR is srdpo train's <out>/"+stages.CheckpointDir)
	fs.Var((*adapterList)(&c.Policies), "adapter", "name=DIR: a policy that is the --reference model with the PEFT LoRA adapter folder DIR (adapter_config.json + adapter_model.safetensors, local or gs://) loaded onto it, as srdpo train --export-hf writes with LoRA or PEFT's save_pretrained does (repeat or comma-separate)")
	fs.StringVar(&sp.Tokenizer, "tokenizer", sp.Tokenizer, "tokenizer, as for scoring")
	fs.StringVar(&sp.Prompts, "prompts", sp.Prompts, "held-out prompts, JSONL {\"id\", \"prompt\"}: of the known-reward task (srdpo gen's eval_prompts.jsonl) for gold reward, KL and win rates; with --reward-model, any prompts, judged by it")
	fs.StringVar(&sp.RewardModel, "reward-model", sp.RewardModel, "a Hugging Face *ForSequenceClassification directory (one label; Llama, Mistral, Qwen2/3, GPT-NeoX or GPT-2; local or gs://) as the judge: it scores prompt + response (its own tokenizer, special tokens added, the reward read at the last non-pad token as transformers does) for the sampled and greedy responses (benchmark reward_model: mean, win rates, KL) and gives the held-out pairs' quality gap r(x, y+) − r(x, y−) for the Table-4 correlations (reward_model_correlation)")
	fs.StringVar(&sp.Heldout, "shards", sp.Heldout, "held-out scored pairs with gold scores, for preference accuracy and the Δ-gap correlations (optional)")
	fs.Var(choiceFiles{&sp.Benchmarks}, "mc", "a multiple-choice file, JSONL of {context, choices, gold[, fewshot]} (repeat or comma-separate): a benchmark named for the file (animals.jsonl: animals) scored as the harness scores multiple choice (acc, acc_norm), each choice following its context as written")
	fs.IntVar(&c.Fewshot, "fewshot", c.Fewshot, "few-shot examples in front of each --mc item: the file's first items marked fewshot, each with its gold choice and a blank line (--num-fewshot NAME=K sets one file's)")
	fs.Float64Var(&sp.Beta, "beta", sp.Beta, "β of Δπ = β·h_p")
	fs.BoolVar(&sp.PerToken, "per-token-margins", sp.PerToken, "take h and Δπ on per-token means, as IPO trained with --ipo-norm mean does")
	fs.Int64Var(&sp.Seed, "seed", sp.Seed, "sampling seed, recorded in every row: with a prompt's id and a sample's index it is all of a response's randomness, so results do not depend on batching or the runner")
	fs.IntVar(&sp.MaxNew, "max-new", sp.MaxNew, "new tokens per generation")
	fs.IntVar(&sp.Samples, "samples", sp.Samples, "responses sampled per prompt: gold_reward's mean, win rates and KL are means over them, with their standard errors over prompts in the rows' stderr; gold_reward_greedy has the greedy figures")
	fs.Float64Var(&sp.Temperature, "temperature", sp.Temperature, "sampling temperature (1: draw from π itself, which the KL then measures; otherwise the KL is the decoding distribution's)")
	fs.IntVar(&sp.TopK, "top-k", sp.TopK, "sample from the k most likely tokens; 0: all")
	fs.Float64Var(&sp.TopP, "top-p", sp.TopP, "sample from the smallest set of tokens holding this much probability; 1: all")
	fs.Var(&stopFlag{list: &sp.Stop}, "stop", `a stop string (repeat for more; escapes such as \n are read): a response ends after the first in its text, kept in it; the tokenizer's EOS ends it too (default: a newline, which ends the known-reward task's responses; --stop '' for none)`)
	fs.IntVar(&sp.SampleBatch, "sample-batch", sp.SampleBatch, "responses generated together; changes memory and speed, never the samples")
	fs.StringVar(&c.Out, "out", c.Out, "local output directory: eval-00000-of-00001.arrow, report.md and plots")
	fs.Var((*benchmarkList)(&sp.Benchmarks), "benchmark", "NAME=PATH: an lm-eval-harness task ("+strings.Join(benchmarkNames(), ", ")+
		") from the dataset's own files: a Parquet/JSONL file, a glob, or the downloaded folder (local or gs://), whose test/validation files are evaluated and train/dev files give the few-shot examples (repeat or comma-separate)")
	fs.Var(fewshotDocs{&sp.Benchmarks}, "fewshot-docs", "NAME=PATH: the few-shot split's files of a benchmark whose --benchmark PATH does not hold them (after its --benchmark)")
	fs.Var(numFewshot{&sp.Benchmarks}, "num-fewshot", "NAME=K: few-shot examples of a benchmark (after its --benchmark); default the harness's (gsm8k 5, the others 0)")
	fs.IntVar(&sp.Limit, "limit", sp.Limit, "documents per benchmark (MMLU: per subject), for quick runs; 0 for all")
	fs.Int64Var(&sp.LimitSeed, "limit-seed", sp.LimitSeed, "with --limit: 0 takes the first documents, as lm-eval's --limit; another value a subset drawn with this seed")
	fs.IntVar(&sp.DocsPerElement, "docs-per-element", sp.DocsPerElement, "benchmark documents per Beam element (one element per policy and range of documents)")
	fs.IntVar(&sp.MaxGenTokens, "max-gen-tokens", sp.MaxGenTokens, "tokens a generation task (gsm8k) may generate; 0 for the harness's 256")
}

func benchmarkNames() []string {
	var names []string
	for _, t := range benchmarks.All() {
		names = append(names, t.Name)
	}
	return names
}

// benchmarkList reads repeated --benchmark NAME=PATH flags.
type benchmarkList []stages.BenchmarkSpec

func (l *benchmarkList) String() string {
	if l == nil {
		return ""
	}
	var parts []string
	for _, b := range *l {
		parts = append(parts, b.Name+"="+b.Path)
	}
	return strings.Join(parts, ",")
}

func (l *benchmarkList) Set(v string) error {
	return eachNamed(v, func(name, path string) error {
		if _, err := benchmarks.Lookup(name); err != nil {
			return err
		}
		*l = append(*l, stages.BenchmarkSpec{Name: name, Path: path, Shots: -1})
		return nil
	})
}

// eachNamed calls f on each name=value of a comma-separated flag value.
func eachNamed(v string, f func(name, value string) error) error {
	var items StringList
	items.Set(v)
	for _, it := range items {
		name, value, ok := strings.Cut(it, "=")
		if !ok || name == "" || value == "" {
			return fmt.Errorf("%q: want NAME=VALUE", it)
		}
		if err := f(name, value); err != nil {
			return err
		}
	}
	return nil
}

// benchmarkNamed finds a benchmark given earlier by --benchmark.
func benchmarkNamed(l *[]stages.BenchmarkSpec, name string) (*stages.BenchmarkSpec, error) {
	for i := range *l {
		if (*l)[i].Name == name {
			return &(*l)[i], nil
		}
	}
	return nil, fmt.Errorf("%s: no --benchmark %s=PATH (or --mc %s.jsonl) before it", name, name, name)
}

// choiceFiles reads repeated --mc FILE flags: each file a benchmark named
// for it.
type choiceFiles struct{ l *[]stages.BenchmarkSpec }

func (f choiceFiles) String() string { return "" }

func (f choiceFiles) Set(v string) error {
	var files StringList
	files.Set(v)
	for _, path := range files {
		base := path[strings.LastIndexAny(path, "/")+1:]
		name := strings.TrimSuffix(strings.TrimSuffix(base, ".gz"), ".jsonl")
		if name == "" {
			return fmt.Errorf("%q: want a file", path)
		}
		*f.l = append(*f.l, stages.BenchmarkSpec{Name: name, Path: path, Shots: -1, ChoiceFile: true})
	}
	return nil
}

type fewshotDocs struct{ l *[]stages.BenchmarkSpec }

func (f fewshotDocs) String() string { return "" }

func (f fewshotDocs) Set(v string) error {
	return eachNamed(v, func(name, path string) error {
		b, err := benchmarkNamed(f.l, name)
		if err == nil {
			b.Fewshot = path
		}
		return err
	})
}

type numFewshot struct{ l *[]stages.BenchmarkSpec }

func (f numFewshot) String() string { return "" }

func (f numFewshot) Set(v string) error {
	return eachNamed(v, func(name, k string) error {
		b, err := benchmarkNamed(f.l, name)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(k)
		if err != nil || n < 0 {
			return fmt.Errorf("%s=%s: want a count of examples", name, k)
		}
		b.Shots = n
		return nil
	})
}

// Validate checks the settings, in a fixed order.
func (c EvalConfig) Validate() error {
	if err := required([2]string{"reference", c.Spec.Reference}, [2]string{"out", c.Out}); err != nil {
		return err
	}
	sp := c.Spec
	if sp.Prompts == "" && sp.Heldout == "" && len(sp.Benchmarks) == 0 {
		return fmt.Errorf("nothing to evaluate: give --prompts, --shards, --mc or --benchmark")
	}
	if c.Fewshot < 0 {
		return fmt.Errorf("--fewshot %d: want ≥ 0", c.Fewshot)
	}
	if sp.Limit < 0 || sp.DocsPerElement < 1 || sp.MaxGenTokens < 0 {
		return fmt.Errorf("--limit %d, --docs-per-element %d, --max-gen-tokens %d: want ≥ 0, ≥ 1, ≥ 0", sp.Limit, sp.DocsPerElement, sp.MaxGenTokens)
	}
	if sp.Samples < 1 || sp.SampleBatch < 1 || sp.MaxNew < 1 {
		return fmt.Errorf("--samples %d, --sample-batch %d, --max-new %d: want at least 1 each", sp.Samples, sp.SampleBatch, sp.MaxNew)
	}
	if sp.Temperature < 0 || sp.TopK < 0 || sp.TopP < 0 || sp.TopP > 1 || math.IsNaN(sp.Temperature) || math.IsNaN(sp.TopP) {
		return fmt.Errorf("--temperature %v, --top-k %d, --top-p %v: want ≥ 0, ≥ 0 and within [0, 1]", sp.Temperature, sp.TopK, sp.TopP)
	}
	return nil
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
	return eachNamed(v, func(name, dir string) error {
		*l = append(*l, stages.PolicyRef{Name: name, Dir: dir})
		return nil
	})
}

// adapterList reads repeated --adapter name=DIR flags: policies that are
// the reference with an adapter. The reference directory is filled in by
// RunEval.
type adapterList []stages.PolicyRef

func (l *adapterList) String() string { return "" }

func (l *adapterList) Set(v string) error {
	return eachNamed(v, func(name, dir string) error {
		*l = append(*l, stages.PolicyRef{Name: name, Adapter: dir})
		return nil
	})
}

// RunEval evaluates the policies on the chosen runner, writes the eval rows
// as Arrow shards and the report, and returns the rows and the report's
// main table.
func RunEval(ctx context.Context, c EvalConfig) ([]schemas.Eval, string, error) {
	policies := append([]stages.PolicyRef{{Name: "reference", Dir: c.Spec.Reference}}, c.Policies...)
	for i := range policies {
		if policies[i].Adapter != "" && policies[i].Dir == "" {
			policies[i].Dir = c.Spec.Reference // an --adapter policy: the reference with the adapter
		}
	}
	seen := map[policyStep]bool{}
	for _, p := range policies {
		if seen[policyStep{p.Name, p.Step}] {
			return nil, "", fmt.Errorf("two policies are named %q at step %d", p.Name, p.Step)
		}
		seen[policyStep{p.Name, p.Step}] = true
	}
	for i, b := range c.Spec.Benchmarks {
		if b.ChoiceFile && b.Shots < 0 {
			c.Spec.Benchmarks[i].Shots = c.Fewshot
		}
	}
	shards, err := stages.BenchmarkElements(ctx, c.Spec, policies)
	if err != nil {
		return nil, "", err
	}
	p, s := beam.NewPipelineWithRoot()
	var parts []beam.PCollection
	if sp := c.Spec; sp.Prompts != "" || sp.Heldout != "" {
		parts = append(parts, stages.EvaluatePolicies(s, c.Spec, beam.CreateList(s, policies)))
	}
	if len(shards) > 0 {
		parts = append(parts, stages.EvaluateBenchmarks(s, c.Spec, beam.CreateList(s, shards)))
	}
	rows := beam.Flatten(s, parts...)
	prefix := filepath.Join(c.Out, "eval")
	shardio.WriteShards(s, prefix, schemas.Evals, schemas.NewMetadata(), rows, shardio.WithShards(1))
	if _, err := RunJob(ctx, p, []string{prefix}, os.Stderr); err != nil {
		return nil, "", fmt.Errorf("evaluation pipeline: %w", err)
	}
	data, err := os.ReadFile(shardio.ShardName(prefix, 0, 1, schemas.FormatArrow))
	if err != nil {
		return nil, "", err
	}
	evals, _, err := schemas.ReadRows[schemas.Eval](data, schemas.FormatArrow, schemas.Evals)
	if err != nil {
		return nil, "", err
	}
	metrics, err := TrainingMetrics(lastSteps(c.Policies))
	if err != nil {
		return nil, "", err
	}
	table, err := WriteReport(c.Out, evals, metrics)
	return evals, table, err
}

// policyStep tells policies apart: one method's policies along its
// training share its name.
type policyStep struct {
	name string
	step int64
}

// lastSteps are each named policy at its last step: the end of its
// training, whose folder holds the metrics of all of it.
func lastSteps(policies []stages.PolicyRef) []stages.PolicyRef {
	var out []stages.PolicyRef
	at := map[string]int{}
	for _, p := range policies {
		i, ok := at[p.Name]
		switch {
		case !ok:
			at[p.Name] = len(out)
			out = append(out, p)
		case p.Step > out[i].Step:
			out[i] = p
		}
	}
	return out
}

// TrainingMetrics reads the metrics.arrow that srdpo train leaves in each
// policy's checkpoint, where there is one (the reference, or a model not
// trained by srdpo, has none); a metrics file that cannot be read is an
// error naming it.
func TrainingMetrics(policies []stages.PolicyRef) (map[string][]schemas.Metric, error) {
	out := map[string][]schemas.Metric{}
	for _, p := range policies {
		if p.Adapter != "" {
			continue // a reference with an adapter: its folder holds no metrics
		}
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

// stopFlag reads repeated --stop strings: the first replaces the default,
// each is taken whole (commas included) with Go's escapes read, and ""
// leaves none.
type stopFlag struct {
	list *[]string
	set  bool
}

func (f *stopFlag) String() string {
	if f.list == nil {
		return ""
	}
	return strconv.Quote(strings.Join(*f.list, ""))
}

func (f *stopFlag) Set(v string) error {
	if !f.set {
		*f.list, f.set = nil, true
	}
	if v == "" {
		return nil
	}
	s, err := strconv.Unquote(`"` + strings.ReplaceAll(v, `"`, `\"`) + `"`)
	if err != nil {
		return fmt.Errorf("%q: not a string with Go escapes: %v", v, err)
	}
	*f.list = append(*f.list, s)
	return nil
}
