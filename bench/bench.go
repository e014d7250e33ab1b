package bench

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/optim"
	"github.com/srdpo/srdpo/pipelines"
)

// groups are the figure groups srdpo bench measures, each in a process of
// its own so that its peak RSS is its own, in the order they run; the
// three steps of preference-step share a process, as they must to
// alternate. The largest-model groups (largest.go) are apart: only
// --figures runs them.
var groups = []struct {
	name    string
	measure func(ctx context.Context, runs int) ([]Figure, error)
}{
	{"backend", func(context.Context, int) ([]Figure, error) { return benchBackend(), nil }},
	{"forward-64", modelSize("forward", 64)},
	{"forward-128", modelSize("forward", 128)},
	{"forward-256", modelSize("forward", 256)},
	{"train-step-64", modelSize("train-step", 64)},
	{"train-step-128", modelSize("train-step", 128)},
	{"train-step-256", modelSize("train-step", 256)},
	{"preference-step", func(_ context.Context, runs int) ([]Figure, error) { return benchPreferenceStep(runs) }},
	{"scoring", benchScoring},
	{"tokenizer", func(_ context.Context, runs int) ([]Figure, error) { return benchTokenizers(runs) }},
	{"gpt2-small-gpt2", gpt2Small(model.FamilyGPT2, stepVariant{})},
	{"gpt2-small-llama", gpt2Small(model.FamilyLlama, stepVariant{})},
	// The same step training a rank-16 adapter on every linear map.
	{"gpt2-small-lora-gpt2", gpt2Small(model.FamilyGPT2, stepVariant{lora: &benchLoRA})},
	{"gpt2-small-lora-llama", gpt2Small(model.FamilyLlama, stepVariant{lora: &benchLoRA})},
	// The same step with --recompute.
	{"gpt2-small-recompute-gpt2", gpt2Small(model.FamilyGPT2, stepVariant{recompute: true})},
	{"gpt2-small-recompute-llama", gpt2Small(model.FamilyLlama, stepVariant{recompute: true})},
	// 64 pairs: one batch of srdpo score's default --batch-pairs.
	{"scoring-mix-256", scoringMix("scoring-mix-256", mix256Config(), 64)},
	{"scoring-mix-gpt2-small", scoringMix("scoring-mix-gpt2-small", gpt2SmallConfig(model.FamilyGPT2), 8)},
	{"steps-mix-256", stepsMix("steps-mix-256", mix256Config(), 4)},
	{"steps-mix-gpt2-small", stepsMix("steps-mix-gpt2-small", gpt2SmallConfig(model.FamilyGPT2), 2)},
	{"corpus-scale", func(context.Context, int) ([]Figure, error) {
		return benchCorpusScale([]int{10_000, 100_000, 1_000_000})
	}},
	{"reuse-index", func(ctx context.Context, _ int) ([]Figure, error) { return benchReuseIndex(ctx, 1_000_000) }},
}

// Groups are the figure groups srdpo bench measures by default.
func Groups() []string {
	names := make([]string, len(groups))
	for i, g := range groups {
		names[i] = g.name
	}
	return names
}

func modelSize(what string, d int) func(context.Context, int) ([]Figure, error) {
	return func(_ context.Context, runs int) ([]Figure, error) { return benchModelSize(what, d, runs) }
}

func gpt2Small(layout model.Family, v stepVariant) func(context.Context, int) ([]Figure, error) {
	return func(_ context.Context, runs int) ([]Figure, error) { return benchGPT2Small(layout, v, runs) }
}

func scoringMix(name string, c model.Config, n int) func(context.Context, int) ([]Figure, error) {
	return func(_ context.Context, runs int) ([]Figure, error) { return benchScoringMix(name, c, n, runs) }
}

func stepsMix(name string, c model.Config, n int) func(context.Context, int) ([]Figure, error) {
	return func(_ context.Context, runs int) ([]Figure, error) { return benchStepsMix(name, c, n, runs) }
}

// Config is what srdpo bench measures and where it writes.
type Config struct {
	Out     string               // all figures, a JSON array
	Runs    int                  // timed runs per figure, after a warm-up
	Figures pipelines.StringList // figure groups, each in its own process
	Figure  string               // one group, measured in this process (what each child runs)
	List    bool                 // list the groups instead
}

// DefaultConfig measures every figure group, 5 runs each.
func DefaultConfig() Config {
	return Config{Out: "out/bench.json", Runs: 5, Figures: Groups()}
}

// RegisterFlags binds the bench settings to flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Out, "out", c.Out, "where to write all figures (a JSON array)")
	fs.IntVar(&c.Runs, "runs", c.Runs, "timed runs per figure, after a warm-up (at least 5 for reported figures)")
	fs.Func("figures", fmt.Sprintf("figure groups to measure, comma-separated, each in its own process (default %q)", strings.Join(Groups(), ",")),
		func(v string) error { c.Figures = nil; return c.Figures.Set(v) })
	fs.StringVar(&c.Figure, "figure", c.Figure, "measure one figure group in this process and print it (what each child process of bench runs)")
	fs.BoolVar(&c.List, "list", c.List, "list the figure groups (the default ones, then the largest-model groups, which only --figures runs: make bench-largest)")
}

// Validate checks the settings.
func (c Config) Validate() error {
	if c.Runs < 1 {
		return fmt.Errorf("--runs %d: want at least 1", c.Runs)
	}
	return nil
}

// Measure measures one figure group with runs runs after a warm-up.
func Measure(ctx context.Context, group string, runs int) ([]Figure, error) {
	if strings.HasPrefix(group, "largest-") {
		return benchLargest(group, runs)
	}
	for _, g := range groups {
		if g.name == group {
			return g.measure(ctx, runs)
		}
	}
	return nil, fmt.Errorf("unknown figure %q (want one of %v)", group, Groups())
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
	return []Figure{{Name: "backend", Setting: Setting{"backend": "gomlx pure-Go (compute/gobackend)", "config": model.BackendConfig,
		"attention": "written out (einsum + softmax), not fused", "dtype": "float32", "go": runtime.Version(),
		"goexperiment": exp, "cpus": runtime.NumCPU(), "cpu_model": cpu, "versions": versions}}}
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

// timeForward times the log-probs of pairs of 128 tokens in one pass, in
// seconds a run.
func timeForward(m *model.Decoder, pairs []model.Pair, runs int) ([]float64, error) {
	s, err := m.NewScorer(len(pairs) * 128)
	if err != nil {
		return nil, err
	}
	return timeRuns(runs, func() error { _, err := s.LogProbs(pairs); return err })
}

// timeSFTSteps times the SFT step (Adam) of the train-step figures on pairs,
// in seconds a run.
func timeSFTSteps(m *model.Decoder, pairs []model.Pair, runs int) ([]float64, error) {
	step, err := m.NewSFTStep(optim.Config{Name: "adam", LR: 1e-4})
	if err != nil {
		return nil, err
	}
	i := 0
	return timeRuns(runs, func() error { _, err := step.Run(i, pairs); i++; return err })
}

// benchModelSize measures the forward pass (log-probs) or an SFT train
// step of the d-wide model on a batch of 16 sequences of 128 tokens.
func benchModelSize(what string, d, runs int) ([]Figure, error) {
	pairs := fixedPairs(16, 64, 64, 1) // batch 16, T = 128
	m, err := benchModel(d, 128, 256)
	if err != nil {
		return nil, err
	}
	if what == "forward" {
		times, err := timeForward(m, pairs, runs)
		if err != nil {
			return nil, err
		}
		tps := make([]float64, len(times))
		for i, t := range times {
			tps[i] = 16 * 128 / t
		}
		return []Figure{Figure{Name: "forward", Unit: "tokens/s", Setting: Setting{"d": d, "T": 128, "batch": 16}}.spread(tps)}, nil
	}
	times, err := timeSFTSteps(m, pairs, runs)
	if err != nil {
		return nil, err
	}
	ms := make([]float64, len(times))
	for i, t := range times {
		ms[i] = t * 1000
	}
	return []Figure{Figure{Name: "train-step", Unit: "ms", What: "forward + backward + Adam", Setting: Setting{"d": d, "T": 128, "batch": 16}}.spread(ms)}, nil
}
