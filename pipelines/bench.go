package pipelines

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/optim"
)

// Figure is one measured figure, printed as one JSON object.
type Figure map[string]any

// Spread is the median, min and max of a figure's runs.
type Spread struct {
	Median, Min, Max float64
	Runs             int
}

// SpreadOf summarises runs.
func SpreadOf(xs []float64) Spread {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Spread{Median: m, Min: s[0], Max: s[len(s)-1], Runs: len(s)}
}

// Ratios divides a by b pair by pair: run i of one by run i of the other,
// measured back to back, so that a noisy moment affects both.
func Ratios(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] / b[i]
	}
	return out
}

// with is a copy of f with extra's entries added: a figure from a group's
// common fields.
func (f Figure) with(extra Figure) Figure {
	out := Figure{}
	for k, v := range f {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func (s Spread) into(f Figure) Figure {
	f["median"], f["min"], f["max"], f["runs"] = s.Median, s.Min, s.Max, s.Runs
	return f
}

// BenchFigures are the figures `srdpo bench` measures, each in its own
// process so that its peak RSS is its own.
// The three steps of preference-step share a process, as they must to
// alternate.
func BenchFigures() []string {
	return []string{"backend", "forward-64", "forward-128", "forward-256",
		"train-step-64", "train-step-128", "train-step-256", "preference-step", "scoring", "tokenizer", "gpt2-small-gpt2", "gpt2-small-llama",
		"gpt2-small-lora-gpt2", "gpt2-small-lora-llama", "gpt2-small-recompute-gpt2", "gpt2-small-recompute-llama", "scoring-mix-256", "scoring-mix-gpt2-small", "steps-mix-256", "steps-mix-gpt2-small", "corpus-scale", "reuse-index"}
}

// BenchConfig is what srdpo bench measures and where it writes.
type BenchConfig struct {
	Out     string     // all figures, a JSON array
	Runs    int        // timed runs per figure, after a warm-up
	Figures StringList // figure groups, each in its own process
	Figure  string     // one group, measured in this process (what each child runs)
	List    bool       // list the groups instead
}

// DefaultBenchConfig measures every figure group, 5 runs each.
func DefaultBenchConfig() BenchConfig {
	return BenchConfig{Out: "out/bench.json", Runs: 5, Figures: BenchFigures()}
}

// RegisterFlags binds the bench settings to flags.
func (c *BenchConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Out, "out", c.Out, "where to write all figures (a JSON array)")
	fs.IntVar(&c.Runs, "runs", c.Runs, "timed runs per figure, after a warm-up (at least 5 for reported figures)")
	fs.Func("figures", fmt.Sprintf("figure groups to measure, comma-separated, each in its own process (default %q)", strings.Join(BenchFigures(), ",")),
		func(v string) error { c.Figures = nil; return c.Figures.Set(v) })
	fs.StringVar(&c.Figure, "figure", c.Figure, "measure one figure group in this process and print it (what each child process of bench runs)")
	fs.BoolVar(&c.List, "list", c.List, "list the figure groups (the default ones, then the largest-model groups, which only --figures runs: make bench-largest)")
}

// Validate checks the settings.
func (c BenchConfig) Validate() error {
	if c.Runs < 1 {
		return fmt.Errorf("--runs %d: want at least 1", c.Runs)
	}
	return nil
}

// Bench measures one figure group with runs runs after a warm-up.
func Bench(ctx context.Context, group string, runs int) ([]Figure, error) {
	if strings.HasPrefix(group, "largest-") {
		return benchLargest(group, runs)
	}
	switch group {
	case "backend":
		return benchBackend(), nil
	case "forward-64", "forward-128", "forward-256", "train-step-64", "train-step-128", "train-step-256":
		i := strings.LastIndexByte(group, '-')
		var d int
		fmt.Sscan(group[i+1:], &d)
		return benchModelSize(group[:i], d, runs)
	case "preference-step":
		return benchPreferenceStep(runs)
	case "scoring":
		return benchScoring(ctx, runs)
	case "tokenizer":
		return benchTokenizers(runs)
	case "gpt2-small-gpt2":
		return benchGPT2Small(model.FamilyGPT2, stepVariant{}, runs)
	case "gpt2-small-llama":
		return benchGPT2Small(model.FamilyLlama, stepVariant{}, runs)
	case "gpt2-small-lora-gpt2": // the same step training a rank-16 adapter on every linear map
		return benchGPT2Small(model.FamilyGPT2, stepVariant{lora: &benchLoRA}, runs)
	case "gpt2-small-lora-llama":
		return benchGPT2Small(model.FamilyLlama, stepVariant{lora: &benchLoRA}, runs)
	case "gpt2-small-recompute-gpt2": // the same step with --recompute
		return benchGPT2Small(model.FamilyGPT2, stepVariant{recompute: true}, runs)
	case "gpt2-small-recompute-llama":
		return benchGPT2Small(model.FamilyLlama, stepVariant{recompute: true}, runs)
	case "scoring-mix-256": // 64 pairs: one batch of srdpo score's default --batch-pairs
		return benchScoringMix(group, mix256Config(), 64, runs)
	case "scoring-mix-gpt2-small":
		return benchScoringMix(group, gpt2SmallConfig(model.FamilyGPT2), 8, runs)
	case "corpus-scale":
		return benchCorpusScale([]int{10_000, 100_000, 1_000_000})
	case "reuse-index":
		return benchReuseIndex(ctx, 1_000_000)
	case "steps-mix-256":
		return benchStepsMix(group, mix256Config(), 4, runs)
	case "steps-mix-gpt2-small":
		return benchStepsMix(group, gpt2SmallConfig(model.FamilyGPT2), 2, runs)
	}
	return nil, fmt.Errorf("unknown figure %q (want one of %v)", group, BenchFigures())
}

func benchBackend() []Figure {
	cpu := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	versions := map[string]string{}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/gomlx/gomlx", "github.com/gomlx/compute", "github.com/apache/beam/sdks/v2", "github.com/apache/arrow-go/v18":
				versions[d.Path] = d.Version
			}
		}
	}
	exp := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "GOEXPERIMENT" {
				exp = s.Value
			}
		}
	}
	return []Figure{{"figure": "backend", "backend": "gomlx pure-Go (compute/gobackend)", "config": model.BackendConfig,
		"attention": "written out (einsum + softmax), not fused", "dtype": "float32", "go": runtime.Version(),
		"goexperiment": exp, "cpus": runtime.NumCPU(), "cpu_model": cpu, "versions": versions}}
}

// mix256Config is the d = 256 network of the realistic-mix figures:
// GPT-2's vocabulary and context, 4 layers.
func mix256Config() model.Config {
	return model.Config{Vocab: 50257, Context: 1024, Layers: 4, Heads: 8, Width: 256, NormEps: 1e-5, TiedHead: true, DType: model.Float32}
}

// benchModel is the GPT of the figures: 2 layers, byte-sized vocabulary.
func benchModel(d, context, vocab int) (*model.Decoder, error) {
	backend, err := model.Backend()
	if err != nil {
		return nil, err
	}
	return model.New(model.Config{Vocab: vocab, Context: context, Layers: 2, Heads: max(1, d/32), Width: d,
		NormEps: 1e-5, TiedHead: true, DType: model.Float32}, 1, backend)
}

func fixedPairs(n, prompt, response int, seed uint64) []model.Pair {
	rng := rand.New(rand.NewPCG(seed, 7))
	ids := func(k int) []int32 {
		out := make([]int32, k)
		for i := range out {
			out[i] = int32(rng.IntN(256))
		}
		return out
	}
	pairs := make([]model.Pair, n)
	for i := range pairs {
		pairs[i] = model.Pair{Prompt: ids(prompt), Response: ids(response)}
	}
	return pairs
}

// timeRuns runs f once to warm up (compile), then runs times.
func timeRuns(runs int, f func() error) ([]float64, error) {
	if err := f(); err != nil {
		return nil, err
	}
	out := make([]float64, runs)
	for i := range out {
		start := time.Now()
		if err := f(); err != nil {
			return nil, err
		}
		out[i] = time.Since(start).Seconds()
	}
	return out, nil
}

// benchModelSize measures the forward pass (log-probs) or an SFT train
// step of the d-wide model on a batch of 16 sequences of 128 tokens.
func benchModelSize(group string, d, runs int) ([]Figure, error) {
	pairs := fixedPairs(16, 64, 64, 1) // batch 16, T = 128
	m, err := benchModel(d, 128, 256)
	if err != nil {
		return nil, err
	}
	if group == "forward" {
		s, err := m.NewScorer(16 * 128)
		if err != nil {
			return nil, err
		}
		times, err := timeRuns(runs, func() error { _, err := s.LogProbs(pairs); return err })
		if err != nil {
			return nil, err
		}
		tps := make([]float64, len(times))
		for i, t := range times {
			tps[i] = 16 * 128 / t
		}
		return []Figure{SpreadOf(tps).into(Figure{"figure": "forward", "d": d, "T": 128, "batch": 16, "unit": "tokens/s"})}, nil
	}
	step, err := m.NewSFTStep(optim.Config{Name: "adam", LR: 1e-4})
	if err != nil {
		return nil, err
	}
	i := 0
	times, err := timeRuns(runs, func() error { _, err := step.Run(i, pairs); i++; return err })
	if err != nil {
		return nil, err
	}
	ms := make([]float64, len(times))
	for i, t := range times {
		ms[i] = t * 1000
	}
	return []Figure{SpreadOf(ms).into(Figure{"figure": "train-step", "d": d, "T": 128, "batch": 16,
		"unit": "ms", "what": "forward + backward + Adam"})}, nil
}
