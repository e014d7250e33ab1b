package pipelines

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/runners"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
	"github.com/srdpo/srdpo/tasks"
)

// RunConfig is the end-to-end job on the embedded known-reward task. The
// settings of each part are the parts' own configs; per seed, the run fills
// in the folders, the seed and, for training, each method.
type RunConfig struct {
	Out   string
	Seeds int // seeds 1..Seeds, each a full run; the report has their mean and spread

	Task       tasks.GenConfig    // sizes and label temperature of the task
	Reference  model.Config       // the reference's shape: byte vocabulary
	SFT        model.SFTConfig    // the reference's SFT; warm-up is a tenth of the steps, at most 20
	Truncation model.Truncation   // of the scored pairs
	Train      stages.TrainConfig // of every method: loss settings, optimiser, batch, steps
	MaxNew     int                // new tokens per generation in the evaluation
	Curve      int                // evaluations along each method's training, the last one its end
}

// DefaultRunConfig is `make run`: a 2-layer byte-level reference of width
// 64 and context 64, SFT for 2,000 steps of 32 (AdamW 3e-3, cosine), 1,000
// pairs from its samples, and 50 steps of 32 per method (Adam 1e-4, β 0.1,
// λ 0.5), about a minute and a half per seed on 2 cores.
func DefaultRunConfig() RunConfig {
	task := tasks.DefaultGenConfig()
	task.SFTWords, task.Pairs = 1500, 1000 // fewer than gen's: a run trains on them within minutes
	train := stages.DefaultTrainConfig()
	train.Tokenizer = tokenizer.SpecByte
	train.Loss.Beta, train.Loss.Lambda = 0.1, 0.5
	train.Optim = model.Optim{Name: "adam", LR: 1e-4, MaxGradNorm: 1}
	train.BatchSize, train.Steps = 32, 50
	train.EvalFraction, train.CheckpointEvery = 0, 0 // held-out pairs are evaluated by the evaluation stage
	return RunConfig{Out: "out", Seeds: 1, Task: task,
		Reference: model.Config{Vocab: tokenizer.Byte{}.VocabSize(), Context: 64, Layers: 2, Heads: 4, Width: 64, NormEps: 1e-5,
			TiedHead: true, DType: model.Float32},
		SFT: model.SFTConfig{Optim: model.Optim{Name: "adamw", LR: 3e-3, Schedule: "cosine", MaxGradNorm: 1, WeightDecay: 0.01},
			BatchSize: 32, Steps: 2000},
		Truncation: model.Truncation{MaxPromptLength: 48, MaxLength: 64, Prompt: model.KeepEnd, Response: model.KeepStart},
		Train:      train,
		MaxNew:     16,
		Curve:      5,
	}
}

// RegisterFlags binds the run's settings to flags.
func (c *RunConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Out, "out", c.Out, "output directory: report.md, plots, and a folder per seed (seed-N)")
	fs.IntVar(&c.Seeds, "seeds", c.Seeds, "seeds to run (1..N); the report gives the mean over seeds with min and max")
	c.Task.RegisterSizeFlags(fs)
	fs.IntVar(&c.SFT.Steps, "sft-steps", c.SFT.Steps, "SFT steps of the reference (batch 32)")
	fs.IntVar(&c.Train.Steps, "train-steps", c.Train.Steps, "preference-optimisation steps per method")
	fs.IntVar(&c.Train.BatchSize, "batch-size", c.Train.BatchSize, "pairs per step")
	fs.Float64Var(&c.Train.Optim.LR, "lr", c.Train.Optim.LR, "Adam learning rate of the preference training")
	fs.Float64Var(&c.Train.Loss.Beta, "beta", c.Train.Loss.Beta, "β")
	fs.Float64Var(&c.Train.Loss.Lambda, "lambda", c.Train.Loss.Lambda, "λ of Sr-DPO and Sr-IPO")
	fs.IntVar(&c.Reference.Width, "width", c.Reference.Width, "width of the reference (2 layers, byte vocabulary, context 64)")
	fs.IntVar(&c.Curve, "curve-points", c.Curve, "evaluations along each method's training (every train-steps/N steps, the last at the end): the gold reward–KL curves")
}

// Validate checks the settings.
func (c RunConfig) Validate() error {
	if c.Seeds < 1 || c.SFT.Steps < 1 || c.Train.Steps < 1 || c.Task.Pairs < 1 || c.Task.EvalPrompts < 1 || c.Train.BatchSize < 1 {
		return fmt.Errorf("seeds, steps, pairs, prompts and batch size must be positive")
	}
	if c.Curve < 1 {
		return fmt.Errorf("--curve-points %d: want at least 1 (the end of training)", c.Curve)
	}
	return c.Reference.Validate()
}

// Methods are the losses the run compares, trained from the same reference
// with the same data order.
func Methods() []model.LossType {
	return []model.LossType{model.LossDPO, model.LossIPO, model.LossSrDPO, model.LossSrIPO}
}

// Run generates the task, trains the reference by SFT, samples and labels
// preference pairs from it, scores them with the Beam pipeline, trains
// every method, evaluates them all with the evaluation pipeline and writes
// the report, once per seed. It returns the report's main table.
func Run(ctx context.Context, c RunConfig, progress io.Writer) (string, error) {
	var all []schemas.Eval
	var metrics map[string][]schemas.Metric
	for seed := 1; seed <= c.Seeds; seed++ {
		began := time.Now()
		rows, ms, err := runSeed(ctx, c, uint64(seed), progress)
		if err != nil {
			return "", fmt.Errorf("seed %d: %w", seed, err)
		}
		all = append(all, rows...)
		if metrics == nil {
			metrics = ms // training curves of the first seed
		}
		fmt.Fprintf(progress, "srdpo run: seed %d done in %s\n", seed, time.Since(began).Round(time.Second))
	}
	return WriteReport(c.Out, all, metrics)
}

// seedRun is one seed's run: its folder and what each part left there.
type seedRun struct {
	c        RunConfig
	seed     uint64
	dir      string
	progress io.Writer
	task     tasks.GenConfig
	refDir   string
	scored   map[string]string // "prefs", "heldout" → manifest
}

func runSeed(ctx context.Context, c RunConfig, seed uint64, progress io.Writer) ([]schemas.Eval, map[string][]schemas.Metric, error) {
	r := &seedRun{c: c, seed: seed, dir: filepath.Join(c.Out, fmt.Sprintf("seed-%d", seed)), progress: progress}
	r.task = c.Task
	r.task.Out, r.task.Seed = filepath.Join(r.dir, "task"), seed
	if err := tasks.Generate(r.task); err != nil {
		return nil, nil, err
	}
	if err := r.trainReference(); err != nil {
		return nil, nil, err
	}
	if err := r.score(ctx); err != nil {
		return nil, nil, err
	}
	policies, err := r.trainMethods(ctx)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(progress, "srdpo run: seed %d: evaluating\n", seed)
	ev := EvalConfig{Out: filepath.Join(r.dir, "eval"), Policies: policies, Spec: stages.EvalSpec{
		Reference: r.refDir, Tokenizer: tokenizer.SpecByte, Prompts: filepath.Join(r.task.Out, "eval_prompts.jsonl"), Shards: r.scored["heldout"],
		Beta: c.Train.Loss.Beta, Seed: int64(seed), MaxNew: c.MaxNew}}
	rows, _, err := RunEval(ctx, ev)
	if err != nil {
		return nil, nil, err
	}
	metrics, err := TrainingMetrics(policies)
	return rows, metrics, err
}

// trainReference trains the reference by SFT on the task's corpus, where
// p⊕x gets exact answers, then writes pairs from its own samples, labelled
// by r*.
func (r *seedRun) trainReference() error {
	c := r.c
	fmt.Fprintf(r.progress, "srdpo run: seed %d: SFT of the reference (%d steps)\n", r.seed, c.SFT.Steps)
	backend, err := model.Backend()
	if err != nil {
		return err
	}
	ref, err := model.New(c.Reference, r.seed, backend)
	if err != nil {
		return err
	}
	sft, err := readSFT(filepath.Join(r.task.Out, "sft.jsonl"))
	if err != nil {
		return err
	}
	sc := c.SFT
	sc.Seed, sc.Optim.TotalSteps, sc.Optim.Warmup = r.seed, sc.Steps, min(20, sc.Steps/10)
	if err := ref.SFT(sft, sc, nil); err != nil {
		return err
	}
	r.refDir = filepath.Join(r.dir, "reference")
	if err := ref.Save(r.refDir); err != nil {
		return err
	}
	sampler, err := Sampler(ref, tokenizer.Byte{})
	if err != nil {
		return err
	}
	r.task.Sample = sampler
	return tasks.Generate(r.task)
}

// score scores the training and held-out pairs on the Beam pipeline.
func (r *seedRun) score(ctx context.Context) error {
	fmt.Fprintf(r.progress, "srdpo run: seed %d: scoring %d + %d pairs\n", r.seed, r.task.Pairs, r.task.HeldoutPairs)
	spec := stages.ReferenceSpec{ModelDir: r.refDir, Tokenizer: tokenizer.SpecByte, AugPrompt: r.task.AugPrompt,
		AugSeparator: r.task.AugSeparator, Truncation: r.c.Truncation}
	p, s := beam.NewPipelineWithRoot()
	r.scored = map[string]string{}
	for _, set := range []string{"prefs", "heldout"} {
		ic := DefaultIngestConfig()
		ic.Out, ic.Shards, ic.Corpus = filepath.Join(r.dir, "scored", set), 2, []string{filepath.Join(r.task.Out, set+".jsonl")}
		if _, _, err := BuildScore(ctx, s.Scope(set), ic, ScoreConfig{Reference: spec, BatchPairs: 64}); err != nil {
			return err
		}
		r.scored[set] = ic.Out + schemas.ManifestSuffix
	}
	if _, err := runners.Run(ctx, p); err != nil {
		return fmt.Errorf("scoring: %w", err)
	}
	return nil
}

// trainMethods trains every method from the same reference, with the same
// data order.
func (r *seedRun) trainMethods(ctx context.Context) ([]stages.PolicyRef, error) {
	var policies []stages.PolicyRef
	for _, method := range Methods() {
		fmt.Fprintf(r.progress, "srdpo run: seed %d: training %s (%d steps)\n", r.seed, method, r.c.Train.Steps)
		tc := r.c.Train
		tc.Shards, tc.Model, tc.Out, tc.Seed = r.scored["prefs"], r.refDir, filepath.Join(r.dir, string(method)), r.seed
		tc.Loss.Type, tc.LogEvery = method, max(1, tc.Steps/20)
		if points := min(r.c.Curve, tc.Steps); points > 1 {
			tc.KeepEvery = tc.Steps / points
		}
		if _, err := stages.Train(ctx, tc, io.Discard); err != nil {
			return nil, fmt.Errorf("training %s: %w", method, err)
		}
		for step := tc.KeepEvery; tc.KeepEvery > 0 && step < tc.Steps; step += tc.KeepEvery {
			policies = append(policies, stages.PolicyRef{Name: CurvePolicy(method, step), Dir: stages.StepDir(tc.Out, step)})
		}
		policies = append(policies, stages.PolicyRef{Name: string(method), Dir: filepath.Join(tc.Out, stages.CheckpointDir)})
	}
	return policies, nil
}

// CurvePolicy names a method's policy kept at a step along its training:
// "dpo@20". The method's own name is its policy at the end.
func CurvePolicy(method model.LossType, step int) string { return fmt.Sprintf("%s@%d", method, step) }

// curvePolicyOf splits a policy name into its method and step; the end of
// training (a bare method name) has step −1 and last true.
func curvePolicyOf(name string) (method string, step int, last bool) {
	m, s, ok := strings.Cut(name, "@")
	if !ok {
		return name, -1, true
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return name, -1, true
	}
	return m, n, false
}

// Sampler draws responses from a model at temperature 1, stopping at a
// newline, for srdpo gen and run.
func Sampler(m *model.GPT, tok tokenizer.Tokenizer) (tasks.Sampler, error) {
	gen, err := m.NewGenerator()
	if err != nil {
		return nil, err
	}
	return func(prompts []string, n int, seed uint64) ([][]string, error) {
		ids := make([][]int32, len(prompts))
		for i, p := range prompts {
			var err error
			if ids[i], _, err = stages.PromptIDs(tok, p, math.MaxInt32, model.KeepEnd); err != nil {
				return nil, fmt.Errorf("prompt %d: %w", i, err)
			}
		}
		out := make([][]string, len(prompts))
		for k := 0; k < n; k++ {
			for lo := 0; lo < len(ids); lo += 64 {
				res, err := gen.Generate(ids[lo:min(lo+64, len(ids))], model.GenerateConfig{MaxNewTokens: 16, Temperature: 1,
					Seed: seed*1_000_000 + uint64(k*100_000+lo), EOS: int32('\n')})
				if err != nil {
					return nil, err
				}
				for i, r := range res {
					out[lo+i] = append(out[lo+i], tok.Decode(r)+"\n")
				}
			}
		}
		return out, nil
	}, nil
}

func readSFT(path string) ([]model.Pair, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []model.Pair
	err = schemas.EachLine(b, func(line int, text []byte) error {
		var e struct{ Prompt, Response string }
		if err := json.Unmarshal(text, &e); err != nil {
			return fmt.Errorf("%s line %d: %w", path, line, err)
		}
		out = append(out, model.Pair{Prompt: tokenizer.Bytes(e.Prompt), Response: tokenizer.Bytes(e.Response)})
		return nil
	})
	return out, err
}
