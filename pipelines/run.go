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
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/optim"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
	"github.com/srdpo/srdpo/tasks"
)

// RunConfig is the end-to-end job on the embedded known-reward task. The
// settings of each part are the parts' own configs; per seed, the run fills
// in the folders, the seed and, for training, each cell of the grid.
type RunConfig struct {
	Out       string
	Seeds     int // seeds FirstSeed..FirstSeed+Seeds−1, each a full run; the report pairs them
	FirstSeed int // 1 by default; a later one replicates a result on fresh seeds

	Task       tasks.GenConfig    // sizes of the task (its label temperature is the grid's)
	Reference  model.Config       // the reference's shape: byte vocabulary
	SFT        model.SFTConfig    // the reference's SFT; warm-up is a tenth of the steps, at most 20
	Truncation model.Truncation   // of the scored pairs
	Train      stages.TrainConfig // of every cell: optimiser, batch, steps (β and λ are the grid's)
	Grid       Grid               // label temperatures, β, λ and methods: every combination is trained
	MaxNew     int                // new tokens per generation in the evaluation
	Samples    int                // responses sampled per held-out prompt (temperature 1) for the gold reward and KL
	Curve      int                // evaluations along each cell's training, the last one its end
	Parallel   int                // cells trained side by side
	Resume     bool               // keep the seeds a previous run into Out finished with the same settings
}

// DefaultRunConfig is `make run`: a 2-layer byte-level reference of width
// 64 and context 64, SFT for 2,000 steps of 32 (AdamW 3e-3, cosine), 1,000
// pairs from its samples labelled at temperature 0.1, and 200 steps of 32
// per method (Adam 1e-4, β 0.1, λ 0.5) evaluated at 5 points, about two
// minutes per seed on 2 cores.
func DefaultRunConfig() RunConfig {
	task := tasks.DefaultGenConfig()
	task.SFTWords, task.Pairs = 1500, 1000 // fewer than gen's: a run trains on them within minutes
	train := stages.DefaultTrainConfig()
	train.Tokenizer = tokenizer.SpecByte
	train.Optim = optim.Config{Name: "adam", LR: 1e-4, MaxGradNorm: 1}
	train.BatchSize, train.Steps = 32, 200
	train.EvalFraction, train.CheckpointEvery = 0, 0 // held-out pairs are evaluated by the evaluation stage
	return RunConfig{Out: "out", Seeds: 1, FirstSeed: 1, Task: task,
		Reference: model.Config{Vocab: tokenizer.Byte{}.VocabSize(), Context: 64, Layers: 2, Heads: 4, Width: 64, NormEps: 1e-5,
			TiedHead: true, DType: model.Float32},
		SFT: model.SFTConfig{Optim: optim.Config{Name: "adamw", LR: 3e-3, Schedule: "cosine", MaxGradNorm: 1, WeightDecay: 0.01},
			BatchSize: 32, Steps: 2000},
		Truncation: model.Truncation{MaxPromptLength: 48, MaxLength: 64, Prompt: model.KeepEnd, Response: model.KeepStart},
		Train:      train,
		Grid:       Grid{Temperatures: []float64{task.Temperature}, Betas: []float64{0.1}, Lambdas: []float64{0.5}, Methods: Methods()},
		MaxNew:     16,
		Samples:    8,
		Curve:      5,
		Parallel:   1,
	}
}

// RegisterFlags binds the run's settings to flags.
func (c *RunConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Out, "out", c.Out, "output directory: report.md, plots, results.arrow, and a folder per seed (seed-N)")
	fs.IntVar(&c.Seeds, "seeds", c.Seeds, "how many seeds to run (from --first-seed), each its own task, reference and data order; differences are paired by seed")
	fs.IntVar(&c.FirstSeed, "first-seed", c.FirstSeed, "the first seed: --seeds N runs first-seed..first-seed+N−1 (a later one replicates a result on fresh seeds)")
	c.Task.RegisterSizeFlags(fs)
	fs.IntVar(&c.SFT.Steps, "sft-steps", c.SFT.Steps, "SFT steps of the reference (batch 32)")
	fs.IntVar(&c.Train.Steps, "train-steps", c.Train.Steps, "preference-optimisation steps per cell (the training length: the curve points are the shorter ones)")
	fs.IntVar(&c.Train.BatchSize, "batch-size", c.Train.BatchSize, "pairs per step")
	fs.Float64Var(&c.Train.Optim.LR, "lr", c.Train.Optim.LR, "Adam learning rate of the preference training (constant)")
	c.Grid.RegisterFlags(fs)
	fs.IntVar(&c.Reference.Width, "width", c.Reference.Width, "width of the reference (2 layers, byte vocabulary, context 64)")
	fs.IntVar(&c.Samples, "eval-samples", c.Samples, "responses sampled from each policy per held-out prompt (temperature 1, seeded by prompt and sample): the gold reward, win rates and KL(π‖π_ref) are means over them, with standard errors over prompts")
	fs.IntVar(&c.Curve, "curve-points", c.Curve, "evaluations along each cell's training (every train-steps/N steps, the last at the end): the gold reward–KL curves")
	fs.IntVar(&c.Parallel, "parallel", c.Parallel, "cells trained side by side (each training also uses every core)")
	fs.BoolVar(&c.Resume, "resume", c.Resume, "keep each seed that a previous run into --out finished with the same settings (its seed-N/"+SeedResultsFile+" and "+SeedSettingsFile+") and run only the others; a seed cut off midway is run again from its start")
}

// Validate checks the settings.
func (c RunConfig) Validate() error {
	if c.FirstSeed < 1 {
		return fmt.Errorf("--first-seed %d: want at least 1", c.FirstSeed)
	}
	if c.Seeds < 1 || c.SFT.Steps < 1 || c.Train.Steps < 1 || c.Task.Pairs < 1 || c.Task.EvalPrompts < 1 || c.Train.BatchSize < 1 {
		return fmt.Errorf("seeds, steps, pairs, prompts and batch size must be positive")
	}
	if c.Samples < 1 {
		return fmt.Errorf("--eval-samples %d: want at least 1", c.Samples)
	}
	if c.Curve < 1 {
		return fmt.Errorf("--curve-points %d: want at least 1 (the end of training)", c.Curve)
	}
	if c.Parallel < 1 {
		return fmt.Errorf("--parallel %d: want at least 1", c.Parallel)
	}
	if err := c.Grid.Validate(); err != nil {
		return err
	}
	if err := c.Task.ValidateSettings(); err != nil {
		return err
	}
	return c.Reference.Validate()
}

// Methods are the losses the run compares, trained from the same reference
// with the same data order.
func Methods() []model.LossType {
	return []model.LossType{model.LossDPO, model.LossIPO, model.LossSrDPO, model.LossSrIPO}
}

// Run generates the task, trains the reference by SFT, samples and labels
// preference pairs from it at each label temperature, scores them with the
// Beam pipeline, trains every cell of the grid, evaluates them along their
// training with the evaluation pipeline, and writes results.arrow (one row
// per policy × step × figure) and the report, once per seed. It returns
// the report's tables.
func Run(ctx context.Context, c RunConfig, progress io.Writer) (string, error) {
	var rows []schemas.SweepRow
	metrics := cellMetrics{}
	var todo []int
	for seed := c.FirstSeed; seed < c.FirstSeed+c.Seeds; seed++ {
		r := newSeedRun(c, seed, progress, nil)
		kept, err := r.finished()
		if err != nil {
			return "", err
		}
		if !kept {
			todo = append(todo, seed)
			continue
		}
		fmt.Fprintf(progress, "srdpo run: seed %d: kept from %s\n", seed, r.dir)
		rows = append(rows, r.rows...)
		metrics.add(r.metrics)
	}
	left := c
	left.Seeds = len(todo)
	clock := newRunClock(left, progress)
	clock.estimate()
	for _, seed := range todo {
		began := time.Now()
		r := newSeedRun(c, seed, progress, clock)
		if c.Resume {
			// What a seed cut off midway left (half-trained cells, a
			// partial evaluation) goes: the seed runs again from its start.
			if err := os.RemoveAll(r.dir); err != nil {
				return "", fmt.Errorf("seed %d: %w", seed, err)
			}
		}
		if err := r.run(ctx); err != nil {
			return "", fmt.Errorf("seed %d: %w", seed, err)
		}
		if err := r.save(); err != nil {
			return "", fmt.Errorf("seed %d: %w", seed, err)
		}
		rows = append(rows, r.rows...)
		metrics.add(r.metrics)
		fmt.Fprintf(progress, "srdpo run: seed %d done in %s\n", seed, time.Since(began).Round(time.Second))
	}
	if err := writeSweepRows(filepath.Join(c.Out, ResultsFile), rows); err != nil {
		return "", err
	}
	return WriteSweepReport(c.Out, c, rows, metrics)
}

// ResultsFile holds a run's rows (schemas.Sweeps) in its output directory.
const ResultsFile = "results.arrow"

// seedRun is one seed's run: its folder and what each part left there.
type seedRun struct {
	c        RunConfig
	seed     uint64
	dir      string
	progress io.Writer
	clock    *runClock
	refDir   string
	sampler  tasks.Sampler

	rows    []schemas.SweepRow
	metrics cellMetrics
}

func newSeedRun(c RunConfig, seed int, progress io.Writer, clock *runClock) *seedRun {
	return &seedRun{c: c, seed: uint64(seed), dir: filepath.Join(c.Out, fmt.Sprintf("seed-%d", seed)), progress: progress, clock: clock}
}

// run trains the seed's reference, then for each label temperature writes
// and scores the pairs, and for each β trains and evaluates the cells.
func (r *seedRun) run(ctx context.Context) error {
	c := r.c
	base := c.Task
	base.Out, base.Seed = filepath.Join(r.dir, "task"), r.seed
	if err := tasks.Generate(base); err != nil {
		return err
	}
	if err := r.trainReference(filepath.Join(base.Out, "sft.jsonl")); err != nil {
		return err
	}
	r.metrics = cellMetrics{}
	for _, temp := range c.Grid.Temperatures {
		tdir := filepath.Join(r.dir, c.Grid.temperatureDir(temp))
		task := base
		task.Out, task.Temperature, task.Sample = filepath.Join(tdir, "task"), temp, r.sampler
		if err := tasks.Generate(task); err != nil {
			return err
		}
		scored, err := r.score(ctx, task, tdir)
		if err != nil {
			return err
		}
		for _, beta := range c.Grid.Betas {
			g := group{Temperature: temp, Beta: beta}
			if err := r.runGroup(ctx, g, r.groupDir(g), task, scored); err != nil {
				return fmt.Errorf("%s: %w", c.Grid.groupTitle(g), err)
			}
		}
	}
	return nil
}

// trainReference trains the reference by SFT on the task's corpus, where
// p⊕x gets better responses than x (at most --aug-corruptions corruptions),
// and makes the sampler of its responses.
func (r *seedRun) trainReference(sftPath string) error {
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
	sft, err := readSFT(sftPath)
	if err != nil {
		return err
	}
	sc := c.SFT
	sc.Seed, sc.Optim.TotalSteps, sc.Optim.Warmup = r.seed, sc.Steps, min(20, sc.Steps/10)
	if err := ref.SFT(sft, sc, nil); err != nil {
		return err
	}
	r.clock.done(workSFT, 1)
	r.refDir = filepath.Join(r.dir, "reference")
	if err := ref.Save(r.refDir); err != nil {
		return err
	}
	r.sampler, err = Sampler(ref, tokenizer.Byte{})
	return err
}

// score scores the training and held-out pairs of task on the Beam
// pipeline into dir/scored and returns their manifests.
func (r *seedRun) score(ctx context.Context, task tasks.GenConfig, dir string) (map[string]string, error) {
	fmt.Fprintf(r.progress, "srdpo run: seed %d: scoring %d + %d pairs (label temperature %g)\n", r.seed, task.Pairs, task.HeldoutPairs, task.Temperature)
	spec := stages.ReferenceSpec{ModelDir: r.refDir, Tokenizer: tokenizer.SpecByte, AugPrompt: task.AugPrompt,
		AugSeparator: task.AugSeparator, Truncation: r.c.Truncation}
	p, s := beam.NewPipelineWithRoot()
	scored := map[string]string{}
	var outputs []string
	for _, set := range []string{"prefs", "heldout"} {
		ic := DefaultIngestConfig()
		ic.Out, ic.Shards, ic.Corpus = filepath.Join(dir, "scored", set), 2, []string{filepath.Join(task.Out, set+".jsonl")}
		if _, _, err := BuildScore(ctx, s.Scope(set), ic, ScoreConfig{Reference: spec, BatchPairs: 64}); err != nil {
			return nil, err
		}
		scored[set] = ic.Out + schemas.ManifestSuffix
		outputs = append(outputs, ic.Out, DeadLetterPrefix(ic.Out))
	}
	if _, err := RunJob(ctx, p, outputs, r.progress); err != nil {
		return nil, fmt.Errorf("scoring: %w", err)
	}
	r.clock.done(workScore, 1)
	return scored, nil
}

// runGroup trains the cells of one (label temperature, β) from the same
// reference with the same data order, then evaluates the reference and
// every cell along its training in one evaluation pipeline.
func (r *seedRun) runGroup(ctx context.Context, g group, dir string, task tasks.GenConfig, scored map[string]string) error {
	cells := r.c.Grid.cells(g)
	trained := make([][]stages.PolicyRef, len(cells))
	jobs := make([]func() error, len(cells))
	for i, cell := range cells {
		jobs[i] = func() error {
			var err error
			trained[i], err = r.trainCell(ctx, cell, dir, scored["prefs"])
			return err
		}
	}
	if err := doParallel(r.c.Parallel, jobs); err != nil {
		return err
	}
	var policies []stages.PolicyRef
	byPolicy := map[policyStep]cellStep{{"reference", 0}: {Cell: Cell{Method: "reference", Temperature: g.Temperature, Beta: g.Beta}}}
	for i, cell := range cells {
		for _, p := range trained[i] {
			byPolicy[policyStep{p.Name, p.Step}] = cellStep{Cell: cell, Step: int(p.Step)}
		}
		policies = append(policies, trained[i]...)
	}
	fmt.Fprintf(r.progress, "srdpo run: seed %d: %sevaluating %d policies\n", r.seed, r.c.Grid.groupPrefix(g), len(policies)+1)
	ev := EvalConfig{Out: filepath.Join(dir, "eval"), Policies: policies, Spec: stages.EvalSpec{
		Reference: r.refDir, Tokenizer: tokenizer.SpecByte, Prompts: filepath.Join(task.Out, "eval_prompts.jsonl"), Heldout: scored["heldout"],
		Beta: g.Beta, Seed: int64(r.seed), MaxNew: r.c.MaxNew,
		Samples: r.c.Samples, Temperature: 1, Stop: tasks.Stop, SampleBatch: stages.DefaultSampleBatch, GoldReward: tasks.RewardName}}
	evals, _, err := RunEval(ctx, ev)
	if err != nil {
		return err
	}
	r.clock.done(workEval, len(policies)+1)
	for _, e := range evals {
		cs, ok := byPolicy[policyStep{e.Policy, e.Step}]
		if !ok {
			return fmt.Errorf("evaluation row of an unknown policy %q at step %d", e.Policy, e.Step)
		}
		r.rows = append(r.rows, cs.row(e))
	}
	return r.readMetrics(g)
}

// readMetrics adds the training metrics of the group's cells, from the
// folders of their ends.
func (r *seedRun) readMetrics(g group) error {
	if r.metrics == nil {
		r.metrics = cellMetrics{}
	}
	for _, cell := range r.c.Grid.cells(g) {
		end := stages.PolicyRef{Name: r.c.Grid.policyName(cell), Dir: filepath.Join(r.groupDir(g), r.c.Grid.cellDir(cell), stages.CheckpointDir)}
		ms, err := TrainingMetrics([]stages.PolicyRef{end})
		if err != nil {
			return err
		}
		for _, m := range ms {
			r.metrics[cell] = append(r.metrics[cell], m...)
		}
	}
	return nil
}

// groupDir is the folder of a (label temperature, β) group of the seed.
func (r *seedRun) groupDir(g group) string {
	return filepath.Join(r.dir, r.c.Grid.temperatureDir(g.Temperature), r.c.Grid.betaDir(g.Beta))
}

// trainCell trains one cell from the reference and returns its policies:
// those kept along its training (for the curves) and its end.
func (r *seedRun) trainCell(ctx context.Context, cell Cell, dir, shards string) ([]stages.PolicyRef, error) {
	name := r.c.Grid.policyName(cell)
	fmt.Fprintf(r.progress, "srdpo run: seed %d: %straining %s (%d steps)\n", r.seed, r.c.Grid.groupPrefix(cell.group()), name, r.c.Train.Steps)
	tc := r.c.Train
	tc.Scored, tc.Model, tc.Out, tc.Seed = shards, r.refDir, filepath.Join(dir, r.c.Grid.cellDir(cell)), r.seed
	tc.Loss.Type, tc.Loss.Beta, tc.Loss.Lambda, tc.LogEvery = cell.Method, cell.Beta, cell.Lambda, max(1, tc.Steps/20)
	tc.KeepEvery, tc.KeepAt = 0, CurveSteps(tc.Steps, r.c.Curve)
	if _, err := stages.Train(ctx, tc, io.Discard); err != nil {
		return nil, fmt.Errorf("training %s: %w", name, err)
	}
	r.clock.done(workTrainStep, tc.Steps)
	var policies []stages.PolicyRef
	for _, step := range tc.KeepAt {
		policies = append(policies, stages.PolicyRef{Name: name, Step: int64(step), Dir: stages.StepDir(tc.Out, step)})
	}
	return append(policies, stages.PolicyRef{Name: name, Step: int64(tc.Steps), Dir: filepath.Join(tc.Out, stages.CheckpointDir)}), nil
}

// CurveSteps are the steps before the end at which a cell of steps steps
// is evaluated for a curve of points points (the end the last): evenly
// spaced, round(k·steps/n) for k = 1 … n−1 with n = min(points, steps), so
// that the curve has exactly n points.
func CurveSteps(steps, points int) []int {
	n := min(points, steps)
	var out []int
	for k := 1; k < n; k++ {
		out = append(out, (2*k*steps+n)/(2*n)) // round(k·steps/n), halves up
	}
	return out
}

// Sampler draws responses from a model at temperature 1, stopping at a
// newline, for srdpo gen and run.
func Sampler(m *model.Decoder, tok tokenizer.Tokenizer) (tasks.Sampler, error) {
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
