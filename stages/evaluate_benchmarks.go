package stages

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/srdpo/srdpo/benchmarks"
	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stats"
)

func init() {
	register.DoFn3x1[context.Context, BenchmarkElement, func(string, benchDocResult), error](&benchElementFn{})
	register.DoFn3x1[string, func(*benchDocResult) bool, func(schemas.Eval), error](&benchAggregateFn{})
	register.Emitter2[string, benchDocResult]()
	register.Iter1[benchDocResult]()
	beam.RegisterType(reflectTypeOf[BenchmarkElement]())
	beam.RegisterType(reflectTypeOf[benchDocResult]())
}

// BenchmarkElement is one element of the benchmark evaluation: a policy and
// a range of one benchmark's documents, so that a big benchmark spreads
// over workers.
type BenchmarkElement struct {
	Policy   PolicyRef
	Bench    int // index into EvalSpec.Benchmarks
	From, To int // documents [From, To)
}

// benchDocResult is one document's metric values, in the order of the
// task's Metrics.
type benchDocResult struct {
	Doc     int
	Subject string
	Values  []float64
}

// BenchmarkElements reads each benchmark once (a bad file fails here, before
// any job) and cuts its documents into elements of spec.DocsPerElement
// for every policy.
func BenchmarkElements(ctx context.Context, spec EvalSpec, policies []PolicyRef) ([]BenchmarkElement, error) {
	seen := map[string]bool{}
	var out []BenchmarkElement
	for i, bs := range spec.Benchmarks {
		if seen[bs.Name] {
			return nil, fmt.Errorf("benchmark %s is given twice", bs.Name)
		}
		seen[bs.Name] = true
		b, err := loadBenchmark(ctx, bs, spec.Limit, spec.LimitSeed)
		if err != nil {
			return nil, err
		}
		per := max(spec.DocsPerElement, 1)
		for _, p := range policies {
			for from := 0; from < len(b.Docs); from += per {
				out = append(out, BenchmarkElement{Policy: p, Bench: i, From: from, To: min(from+per, len(b.Docs))})
			}
		}
	}
	return out, nil
}

// EvaluateBenchmarks scores a PCollection<BenchmarkElement> and returns the
// schemas.Eval rows: each benchmark's metrics per policy with lm-eval's
// standard errors (MMLU also per subject), N the documents scored.
func EvaluateBenchmarks(s beam.Scope, spec EvalSpec, shards beam.PCollection) beam.PCollection {
	s = s.Scope("stages.EvaluateBenchmarks")
	results := beam.ParDo(s, &benchElementFn{Spec: spec}, beam.Reshuffle(s, shards))
	return beam.ParDo(s, &benchAggregateFn{Spec: spec}, beam.GroupByKey(s, results))
}

type benchElementFn struct {
	Spec EvalSpec

	docs beam.Counter
}

func (fn *benchElementFn) Setup() {
	fn.docs = beam.NewCounter(CounterNamespace, "benchmark_docs_scored")
}

func (fn *benchElementFn) ProcessElement(ctx context.Context, sh BenchmarkElement, emit func(string, benchDocResult)) error {
	bs := fn.Spec.Benchmarks[sh.Bench]
	b, err := loadBenchmark(ctx, bs, fn.Spec.Limit, fn.Spec.LimitSeed)
	if err != nil {
		return err
	}
	m, tok, err := loadFrozen(ctx, sh.Policy.Dir, sh.Policy.Adapter, fn.Spec.Tokenizer)
	if err != nil {
		return fmt.Errorf("policy %s: %w", sh.Policy.Name, err)
	}
	s := benchScorer{m: m, encode: tok.Encode, decode: tok.Decode, eos: tok.EOS(), maxGen: fn.Spec.MaxGenTokens}
	results, err := s.score(b, sh.From, sh.To)
	if err != nil {
		return fmt.Errorf("policy %s, %s documents %d–%d: %w", sh.Policy.Name, bs.Name, sh.From+1, sh.To, err)
	}
	key := policyKey(sh.Policy.Name, sh.Policy.Step, bs.Name)
	for _, r := range results {
		emit(key, r)
	}
	fn.docs.Inc(ctx, int64(len(results)))
	return nil
}

// benchScorer runs a model on a benchmark's requests.
type benchScorer struct {
	m      *model.Decoder
	encode func(string) ([]int32, error)
	decode func([]int32) string
	eos    int32
	maxGen int // 0: the task's
}

func (s benchScorer) shots(b *loadedBenchmark, i int) []benchmarks.Doc {
	var out []benchmarks.Doc
	for _, j := range b.Shots[i] {
		out = append(out, b.Pool[j])
	}
	return out
}

// score computes documents [from, to)'s metrics.
func (s benchScorer) score(b *loadedBenchmark, from, to int) ([]benchDocResult, error) {
	if b.Task.Kind == benchmarks.GenerateUntil {
		return s.generate(b, from, to)
	}
	var pairs []model.Pair
	for i := from; i < to; i++ {
		for _, r := range b.Task.Requests(b.Docs[i], s.shots(b, i)) {
			p, err := s.pair(r)
			if err != nil {
				return nil, fmt.Errorf("document %d: %w", i+1, err)
			}
			pairs = append(pairs, p)
		}
	}
	// A question's choices share their context: scored once, then each
	// choice after it.
	scorer, err := s.m.NewSharedScorer(ScoreBudgetTokens)
	if err != nil {
		return nil, err
	}
	lp, err := scorer.Pairs(pairs)
	if err != nil {
		return nil, err
	}
	var out []benchDocResult
	k := 0
	for i := from; i < to; i++ {
		d := b.Docs[i]
		lls := make([]float64, len(d.Choices))
		for c := range lls {
			lls[c] = lp[k].Sum
			k++
		}
		out = append(out, benchDocResult{Doc: i, Subject: d.Subject, Values: b.Task.ScoreChoices(d, lls)})
	}
	return out, nil
}

// pair tokenises a request as the harness does and, when it is longer
// than the model's context, drops the start of the context, as the
// harness does.
func (s benchScorer) pair(r benchmarks.Request) (model.Pair, error) {
	ctx, cont, err := benchmarks.EncodePair(s.encode, r.Context, r.Continuation)
	if err != nil {
		return model.Pair{}, err
	}
	size := s.m.Config.Context
	if len(cont) >= size {
		return model.Pair{}, fmt.Errorf("a continuation of %d tokens does not fit the model's context of %d", len(cont), size)
	}
	if len(ctx) == 0 {
		return model.Pair{}, fmt.Errorf("an empty context")
	}
	if over := len(ctx) + len(cont) - size; over > 0 {
		ctx = ctx[over:]
	}
	return model.Pair{Prompt: ctx, Response: cont}, nil
}

// generateBatch is how many documents generate together.
const generateBatch = 8

// generate runs a generation task greedily: each context keeps its last
// (context − max_gen_toks) tokens, as the harness keeps them, and a row
// stops at EOS, at a stop string or after max_gen_toks tokens.
func (s benchScorer) generate(b *loadedBenchmark, from, to int) ([]benchDocResult, error) {
	maxGen := b.Task.MaxGenToks
	if s.maxGen > 0 {
		maxGen = s.maxGen
	}
	room := s.m.Config.Context - maxGen
	if room < 1 {
		return nil, fmt.Errorf("the model's context of %d leaves no room for a prompt beside %d generated tokens (--max-gen-tokens)", s.m.Config.Context, maxGen)
	}
	gen, err := s.m.NewGenerator()
	if err != nil {
		return nil, err
	}
	until := b.Task.Until
	var out []benchDocResult
	for start := from; start < to; start += generateBatch {
		end := min(start+generateBatch, to)
		var prompts [][]int32
		for i := start; i < end; i++ {
			ids, err := s.encode(b.Task.Context(b.Docs[i], s.shots(b, i)))
			if err != nil {
				return nil, fmt.Errorf("document %d: %w", i+1, err)
			}
			if len(ids) > room {
				ids = ids[len(ids)-room:]
			}
			prompts = append(prompts, ids)
		}
		stop := func(_ int, toks []int32) bool {
			text := s.decode(toks)
			for _, u := range until {
				if strings.Contains(text, u) {
					return true
				}
			}
			return false
		}
		toks, err := gen.Generate(prompts, model.GenerateConfig{MaxNewTokens: maxGen, EOS: s.eos, Stop: stop})
		if err != nil {
			return nil, err
		}
		for j, t := range toks {
			i := start + j
			text := benchmarks.CutAtStop(s.decode(t), until)
			out = append(out, benchDocResult{Doc: i, Subject: b.Docs[i].Subject, Values: b.Task.ScoreGeneration(b.Docs[i], text)})
		}
	}
	return out, nil
}

type benchAggregateFn struct {
	Spec EvalSpec
}

// benchmarkTask is the task of the benchmark the rows call name.
func (sp EvalSpec) benchmarkTask(name string) (*benchmarks.Task, error) {
	for _, bs := range sp.Benchmarks {
		if bs.Name == name {
			return bs.task()
		}
	}
	return nil, fmt.Errorf("no benchmark %q in the evaluation", name)
}

// ProcessElement turns one policy's document results on one benchmark into
// its eval rows: the mean of each metric with mean_stderr; for MMLU also
// each subject's, the group's weighted by subject size with the pooled
// standard error.
func (fn *benchAggregateFn) ProcessElement(key string, iter func(*benchDocResult) bool, emit func(schemas.Eval)) error {
	policy, step, fields, err := splitPolicyKey(key, 1)
	if err != nil {
		return fmt.Errorf("benchmark: %w", err)
	}
	name := fields[0]
	task, err := fn.Spec.benchmarkTask(name)
	if err != nil {
		return err
	}
	var all []benchDocResult
	var r benchDocResult
	for iter(&r) {
		all = append(all, r)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Doc < all[j].Doc })
	row := func(bench, metric string, xs []float64, stderr float64) {
		if math.IsNaN(stderr) {
			stderr = 0
		}
		emit(schemas.Eval{Policy: policy, Step: step, Benchmark: bench, Metric: metric, Value: stats.Mean(xs), N: int64(len(xs)), Seed: fn.Spec.Seed, Stderr: stderr})
	}
	for m, metric := range task.Metrics {
		values := func(rs []benchDocResult) []float64 {
			xs := make([]float64, len(rs))
			for i, r := range rs {
				xs[i] = r.Values[m]
			}
			return xs
		}
		if !task.PerSubject {
			xs := values(all)
			row(name, metric, xs, benchmarks.MeanStderr(xs))
			continue
		}
		bySubject := map[string][]benchDocResult{}
		for _, r := range all {
			bySubject[r.Subject] = append(bySubject[r.Subject], r)
		}
		var stderrs []float64
		var sizes []int
		for _, subj := range slices.Sorted(maps.Keys(bySubject)) {
			xs := values(bySubject[subj])
			se := benchmarks.MeanStderr(xs)
			row(name+"_"+subj, metric, xs, se)
			stderrs, sizes = append(stderrs, se), append(sizes, len(xs))
		}
		row(name, metric, values(all), benchmarks.PooledStderr(stderrs, sizes))
	}
	return nil
}
