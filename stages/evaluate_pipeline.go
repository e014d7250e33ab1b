package stages

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages/shardio"
)

func init() {
	register.DoFn4x1[context.Context, PolicyRef, func(schemas.Eval), func(string, policyReward), error](&evalPolicyFn{})
	register.DoFn3x0[string, func(*policyReward) bool, func(string, float64)](&winsFn{})
	register.DoFn3x1[string, func(*float64) bool, func(schemas.Eval), error](&winRateFn{})
	register.Emitter1[schemas.Eval]()
	register.Emitter2[string, policyReward]()
	register.Emitter2[string, float64]()
	register.Iter1[policyReward]()
	register.Iter1[float64]()
	beam.RegisterType(reflectTypeOf[PolicyRef]())
	beam.RegisterType(reflectTypeOf[policyReward]())
}

// policyReward is one policy's gold rewards on one prompt: of its greedy
// response and of each sample (sample j of every policy drawn with the
// same random stream).
type policyReward struct {
	Policy  string
	Step    int64
	Bench   string // the judge's benchmark: gold_reward or reward_model
	Greedy  float64
	Sampled []float64
}

// WinRateAgainst are the policies every other one is compared with, each
// at the last step it is evaluated at.
var WinRateAgainst = []string{"reference", "dpo"}

// PolicyRef names a policy to evaluate and where its model is. Name and
// Step together tell it from the others: one method's policies along its
// training share its name.
type PolicyRef struct {
	Name string // "reference", "dpo", "sr-dpo", …
	// Step is how many training steps made the policy, as srdpo run knows
	// it: the end of training or a point kept along it. The reference, and
	// a policy srdpo eval is given whole, are at 0.
	Step    int64
	Dir     string // local or gs://
	Adapter string // a PEFT LoRA adapter folder loaded onto Dir (local or gs://), or empty
}

// EvalSpec is what every policy is evaluated on.
type EvalSpec struct {
	Reference string // the reference model directory
	Tokenizer string // as for scoring
	Prompts   string // held-out prompts: JSONL {"id","prompt"}
	// GoldReward names the registered gold reward (RegisterGoldReward)
	// that judges responses to Prompts when there is no RewardModel:
	// the known-reward task's is tasks.RewardName.
	GoldReward string
	Heldout    string  // the held-out scored set, with gold scores (its manifest or a glob of its shards); "" for none
	Beta       float64 // β of Δπ = β·h_p
	PerToken   bool    // h and Δπ on per-token means (policies trained with IPO and --ipo-norm mean)
	Seed       int64   // recorded in every row; the sampling seed
	MaxNew     int     // new tokens per generation

	// Sampled evaluation (the gold_reward rows; greedy ones are
	// gold_reward_greedy).
	Samples     int      // responses per prompt
	Temperature float64  // 1: draw from π itself
	TopK        int      // 0: all tokens
	TopP        float64  // 0 or 1: all tokens
	Stop        []string // stop strings, besides the tokenizer's EOS
	SampleBatch int      // responses generated together

	// RewardModel, when set, is the judge (a *ForSequenceClassification
	// directory): responses are scored by it (benchmark reward_model), and
	// the held-out pairs' Table-4 correlations are taken against its gap
	// (reward_model_correlation) beside the gold ones where rows have gold
	// scores.
	RewardModel string

	Benchmarks     []BenchmarkSpec // lm-eval-harness tasks from the datasets' files, and multiple-choice files
	Limit          int             // documents per benchmark (MMLU: per subject); 0 for all
	LimitSeed      int64           // 0: the first Limit documents, as the harness's --limit; else a seeded subset
	DocsPerElement int             // documents of one benchmark in one Beam element
	MaxGenTokens   int             // generation tasks' max_gen_toks; 0 for the task's
}

// EvaluatePolicies evaluates each policy of a PCollection<PolicyRef> and
// returns its schemas.Eval rows: gold reward and KL of its generations,
// held-out preference accuracy and the correlations of h and Δπ with the
// true gap, and win rates against the reference and against "dpo" (ties
// count half), when those are among the policies. Benchmarks, srdpo's
// multiple-choice files among them, are EvaluateBenchmarks'.
func EvaluatePolicies(s beam.Scope, spec EvalSpec, policies beam.PCollection) beam.PCollection {
	s = s.Scope("stages.EvaluatePolicies")
	rows, rewards := beam.ParDo2(s, &evalPolicyFn{Spec: spec}, beam.Reshuffle(s, policies))
	wins := beam.ParDo(s, &winsFn{}, beam.GroupByKey(s, rewards))
	rates := beam.ParDo(s, &winRateFn{Seed: spec.Seed}, beam.GroupByKey(s, wins))
	return beam.Flatten(s, rows, rates)
}

type evalPolicyFn struct {
	Spec EvalSpec
}

// sampleSpec is how the sampled evaluation draws responses.
func (sp EvalSpec) sampleSpec() SampleSpec {
	return SampleSpec{Samples: sp.Samples, Temperature: sp.Temperature, TopK: sp.TopK, TopP: sp.TopP, MaxNew: sp.MaxNew,
		Seed: uint64(sp.Seed), Stop: sp.Stop, BatchRows: max(sp.SampleBatch, 1)}
}

func (fn *evalPolicyFn) ProcessElement(ctx context.Context, p PolicyRef, emit func(schemas.Eval), reward func(string, policyReward)) error {
	policy, tok, err := loadModel(ctx, p.Dir, p.Adapter, fn.Spec.Tokenizer)
	if err != nil {
		return fmt.Errorf("policy %s: %w", p.Name, err)
	}
	ref, _, err := loadFrozen(ctx, fn.Spec.Reference, "", fn.Spec.Tokenizer)
	if err != nil {
		return err
	}
	e := &policyEval{spec: fn.Spec, name: p.Name, step: p.Step, policy: policy, ref: ref, tok: tok, emit: emit, reward: reward}
	if fn.Spec.RewardModel != "" {
		if e.judge, err = LoadRewardJudge(ctx, fn.Spec.RewardModel); err != nil {
			return err
		}
	}
	if fn.Spec.Prompts != "" {
		if err := e.onPrompts(ctx); err != nil {
			return err
		}
	}
	if fn.Spec.Heldout != "" {
		return e.onHeldout(ctx)
	}
	return nil
}

// policyEval is one policy's evaluation inside evalPolicyFn: the models,
// the judge, and where its rows go.
type policyEval struct {
	spec        EvalSpec
	name        string
	step        int64
	policy, ref *model.Decoder
	tok         tokenizer.Tokenizer
	judge       *RewardJudge // nil: the gold reward
	emit        func(schemas.Eval)
	reward      func(string, policyReward)
}

// rowSE emits a figure with its standard error; an undefined one (NaN, as
// a correlation with a constant: h = 0 at π = π_ref) gets no row.
func (e *policyEval) rowSE(bench, metric string, v, se float64, n int) {
	if math.IsNaN(v) {
		return
	}
	if math.IsNaN(se) {
		se = 0 // fewer than two prompts
	}
	e.emit(schemas.Eval{Policy: e.name, Step: e.step, Benchmark: bench, Metric: metric, Value: v, N: int64(n), Seed: e.spec.Seed, Stderr: se})
}

func (e *policyEval) row(bench, metric string, v float64, n int) { e.rowSE(bench, metric, v, 0, n) }

// onPrompts judges greedy and sampled responses on the held-out prompts:
// mean reward and KL rows, and each prompt's rewards for the win rates.
func (e *policyEval) onPrompts(ctx context.Context) error {
	ids, prompts, err := readPrompts(ctx, e.spec.Prompts)
	if err != nil {
		return err
	}
	var judgeFn func(x, y string) (float64, error)
	bench := schemas.BenchGoldReward
	if e.judge != nil {
		judgeFn, bench = e.judge.Reward, schemas.BenchRewardModel
	} else if judgeFn, err = goldReward(e.spec.GoldReward); err != nil {
		return fmt.Errorf("--prompts %s: %w", e.spec.Prompts, err)
	}
	g, err := Gold(e.policy, e.ref, e.tok, prompts, judgeFn, e.spec.MaxNew, e.spec.Stop)
	if err != nil {
		return fmt.Errorf("policy %s: %w", e.name, err)
	}
	e.row(bench+schemas.GreedySuffix, schemas.MetricMean, g.MeanReward(), len(prompts))
	e.row(bench+schemas.GreedySuffix, schemas.MetricLogRatio, g.LogRatio, g.Tokens) // no row when nothing was generated
	s, err := Sampled(e.policy, e.ref, e.tok, ids, prompts, judgeFn, e.spec.sampleSpec())
	if err != nil {
		return fmt.Errorf("policy %s: %w", e.name, err)
	}
	n := len(prompts) * e.spec.Samples
	for _, f := range []struct {
		metric string
		values [][]float64
	}{{schemas.MetricMean, s.Rewards}, {schemas.MetricKL, s.KL}, {schemas.MetricKLMC, s.KLMC}} {
		m, se := MeanSE(f.values)
		e.rowSE(bench, f.metric, m, se, n)
	}
	for i := range prompts { // keyed by prompt, for the win rates
		e.reward(ids[i], policyReward{Policy: e.name, Step: e.step, Bench: bench, Greedy: g.Rewards[i], Sampled: s.Rewards[i]})
	}
	return nil
}

// onHeldout evaluates the held-out scored pairs: preference accuracy and
// the Table-4 correlations against the gold gap and the judge's.
func (e *policyEval) onHeldout(ctx context.Context) error {
	scored, _, err := shardio.ReadScored(ctx, e.spec.Heldout)
	if err != nil {
		return err
	}
	gold, missing := goldGaps(scored) // the true gaps, when every row has gold scores
	if missing != "" && e.judge == nil {
		return fmt.Errorf("--shards %s: the rows carry no gold scores; give --reward-model to judge them", e.spec.Heldout)
	}
	pe, err := PreferencesAgainst(e.policy, scored, gold, e.spec.Beta, e.spec.PerToken)
	if err != nil {
		return fmt.Errorf("policy %s: %w", e.name, err)
	}
	e.row(schemas.BenchPreferences, schemas.MetricAccuracy, pe.Accuracy, pe.N)
	if missing == "" {
		if e.name == "reference" { // a property of the reference and the shards: once
			c, err := RefPromptCorrelation(scored)
			if err != nil {
				return err
			}
			e.row(schemas.BenchQualityCorrelation, schemas.MetricPearsonRefPMargin, c, len(scored))
		}
		e.correlations(schemas.BenchQualityCorrelation, pe)
	}
	if e.judge != nil {
		gaps, err := e.judge.Gaps(scored)
		if err != nil {
			return err
		}
		je, err := pe.Against(gaps)
		if err != nil {
			return fmt.Errorf("policy %s: %w", e.name, err)
		}
		e.correlations(schemas.BenchRewardModelCorrelation, je)
	}
	return nil
}

// correlations emits h's and Δπ's correlations with a gap, and Δπ's
// partial correlation given h.
func (e *policyEval) correlations(bench string, pe PreferenceEval) {
	for j, what := range []string{"h", "delta"} {
		e.row(bench, schemas.CorrelationMetric("pearson", what), pe.Pearson[j], pe.N)
		e.row(bench, schemas.CorrelationMetric("spearman", what), pe.Spearman[j], pe.N)
		e.row(bench, schemas.CorrelationMetric("kendall", what), pe.Kendall[j], pe.N)
	}
	e.row(bench, schemas.MetricPartialDeltaGivenH, pe.PartialDelta, pe.N)
}

// winsFn compares, on one prompt, every policy with each of WinRateAgainst
// present at its last step — greedy response with greedy response, sample
// j with sample j — 1 for a higher reward, ½ for a tie, 0 for a lower one,
// averaged over the prompt's samples; keyed by winKey.
type winsFn struct{}

func (fn *winsFn) ProcessElement(prompt string, iter func(*policyReward) bool, emit func(string, float64)) {
	var all []policyReward
	last := map[string]policyReward{} // each name at its last step
	var r policyReward
	for iter(&r) {
		all = append(all, r)
		if l, ok := last[r.Policy]; !ok || r.Step > l.Step {
			last[r.Policy] = r
		}
	}
	for _, mine := range all {
		for _, o := range WinRateAgainst {
			theirs, ok := last[o]
			if !ok || (theirs.Policy == mine.Policy && theirs.Step == mine.Step) {
				continue
			}
			emit(winKey(mine, o, mine.Bench+schemas.GreedySuffix), win(mine.Greedy, theirs.Greedy))
			if n := min(len(mine.Sampled), len(theirs.Sampled)); n > 0 {
				var w float64
				for j := 0; j < n; j++ {
					w += win(mine.Sampled[j], theirs.Sampled[j])
				}
				emit(winKey(mine, o, mine.Bench), w/float64(n))
			}
		}
	}
}

// winKey keys a policy's wins against an opponent on a benchmark.
func winKey(p policyReward, opponent, bench string) string {
	return policyKey(p.Policy, p.Step, opponent, bench)
}

// policyKey keys a policy at a step, with further fields, for a
// GroupByKey: "name\x00step\x00field…"; splitPolicyKey reads it back.
func policyKey(name string, step int64, fields ...string) string {
	return strings.Join(append([]string{name, strconv.FormatInt(step, 10)}, fields...), "\x00")
}

// splitPolicyKey is policyKey's inverse for a key of n further fields.
func splitPolicyKey(key string, n int) (name string, step int64, fields []string, err error) {
	parts := strings.SplitN(key, "\x00", 2+n)
	if len(parts) != 2+n {
		return "", 0, nil, fmt.Errorf("key %q: want a policy, a step and %d fields", key, n)
	}
	if step, err = strconv.ParseInt(parts[1], 10, 64); err != nil {
		return "", 0, nil, fmt.Errorf("key %q: %w", key, err)
	}
	return parts[0], step, parts[2:], nil
}

// win is 1, ½ or 0 as a beats, ties or loses to b.
func win(a, b float64) float64 {
	switch {
	case a > b:
		return 1
	case a == b:
		return 0.5
	}
	return 0
}

// winRateFn averages one policy's wins against one opponent over prompts,
// with the standard error over prompts.
type winRateFn struct {
	Seed int64
}

func (fn *winRateFn) ProcessElement(key string, iter func(*float64) bool, emit func(schemas.Eval)) error {
	var ws []float64 // a value per prompt
	var w float64
	for iter(&w) {
		ws = append(ws, w)
	}
	// Summed in ascending order: the same figure whatever order a runner
	// groups the prompts in.
	sort.Float64s(ws)
	p, step, fields, err := splitPolicyKey(key, 2)
	if err != nil {
		return fmt.Errorf("win rate: %w", err)
	}
	o, bench := fields[0], fields[1]
	m, se := meanStderr(ws)
	if math.IsNaN(se) {
		se = 0 // one prompt
	}
	emit(schemas.Eval{Policy: p, Step: step, Benchmark: bench, Metric: schemas.MetricWinRateVs + o, Value: m, N: int64(len(ws)), Seed: fn.Seed, Stderr: se})
	return nil
}

func readPrompts(ctx context.Context, path string) (ids, prompts []string, err error) {
	b, err := shardio.ReadAll(ctx, path)
	if err != nil {
		return nil, nil, err
	}
	err = schemas.EachLine(b, func(line int, text []byte) error {
		var r struct{ ID, Prompt string }
		if err := json.Unmarshal(text, &r); err != nil || r.ID == "" || r.Prompt == "" {
			return fmt.Errorf("%s line %d: want {\"id\", \"prompt\"}", path, line)
		}
		ids, prompts = append(ids, r.ID), append(prompts, r.Prompt)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(prompts) == 0 {
		return nil, nil, fmt.Errorf("%s has no prompts", path)
	}
	return ids, prompts, nil
}

func reflectTypeOf[T any]() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }
