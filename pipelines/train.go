package pipelines

import (
	"flag"
	"fmt"
	"strings"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/runners"
	"github.com/srdpo/srdpo/stages"
)

// TrainFlags binds the training stage's configuration to flags. Defaults
// are the paper's settings: Sr-DPO, β 0.1, λ 0.5, RMSprop at 5e-7, batch 64.
type TrainFlags struct {
	shards, model, tokenizer, out string
	augPrompt, augSep             string
	loss                          model.LossConfig
	optim                         model.Optim
	batch, accum, epochs, steps   int
	seed                          uint64
	evalFraction                  float64
	evalEvery, logEvery, ckpt     int
	deltaRefresh                  int
	resume                        bool
	fs                            *flag.FlagSet
}

// Register adds the training flags to fs.
func (f *TrainFlags) Register(fs *flag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.shards, "shards", "", "scored shards: <prefix>.manifest.json or a glob of .arrow/.parquet files, local or gs://")
	fs.StringVar(&f.model, "model", "", "the reference model the shards were scored with (local or gs://); the policy starts from it")
	fs.StringVar(&f.tokenizer, "tokenizer", "auto", "tokenizer, as for scoring; its fingerprint must match the shards'")
	fs.StringVar(&f.out, "out", "", "local output directory: checkpoint/ (a loadable model with optimiser state) and metrics.arrow")
	fs.StringVar(&f.augPrompt, "aug-prompt", "", "if given, must equal the p the shards were scored with (p is always taken from the shards)")
	fs.StringVar(&f.augSep, "aug-sep", "", "if given, must equal the shards' separator")
	f.loss.Type = model.LossSrDPO
	fs.Var(&f.loss.Type, "loss", fmt.Sprintf("loss: one of %v", model.LossTypes()))
	fs.Float64Var(&f.loss.Beta, "beta", 0.1, "β")
	fs.Float64Var(&f.loss.Lambda, "lambda", 0.5, "λ, the weight of Δπ in sr-dpo and sr-ipo")
	fs.Float64Var(&f.loss.LabelSmoothing, "label-smoothing", 0, "ε for cdpo and robust")
	fs.StringVar(&f.loss.IPONorm, "ipo-norm", "sum", "IPO log-prob normalisation: sum (paper, OpenRLHF) or mean (per token, TRL)")
	fs.BoolVar(&f.loss.UseOffset, "use-offset", false, "ODPO: subtract the corpus offset column from the margin")
	fs.Float64Var(&f.loss.SFTWeight, "sft-weight", 0, "weight of an added NLL term on the chosen response")
	fs.StringVar(&f.optim.Name, "optimizer", "rmsprop", "rmsprop (paper), adam or adamw")
	fs.Float64Var(&f.optim.LR, "lr", 5e-7, "peak learning rate")
	fs.IntVar(&f.optim.Warmup, "warmup", 0, "warm-up steps")
	fs.StringVar(&f.optim.Schedule, "schedule", "constant", "learning-rate schedule after warm-up: constant or cosine")
	fs.Float64Var(&f.optim.WeightDecay, "weight-decay", 0, "AdamW weight decay")
	fs.Float64Var(&f.optim.MaxGradNorm, "max-grad-norm", 1, "clip the global gradient norm (0: off)")
	fs.IntVar(&f.batch, "batch-size", 64, "pairs per optimiser step")
	fs.IntVar(&f.accum, "grad-accum", 1, "micro-batches per step")
	fs.IntVar(&f.epochs, "epochs", 1, "passes over the training pairs (when --steps is 0)")
	fs.IntVar(&f.steps, "steps", 0, "optimiser steps (0: --epochs)")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the data order")
	fs.Float64Var(&f.evalFraction, "eval-fraction", 0.05, "share of pairs held out for evaluation, by a hash of the id")
	fs.IntVar(&f.evalEvery, "eval-every", 0, "steps between evaluations (0: at the end only)")
	fs.IntVar(&f.logEvery, "log-every", 10, "steps between metric rows and progress lines")
	fs.IntVar(&f.ckpt, "checkpoint-every", 100, "steps between checkpoints (one is always written at the end)")
	fs.IntVar(&f.deltaRefresh, "delta-refresh", 1, "recompute a pair's Δπ only when K steps old (1: exact, every step; >1 is an approximation)")
	fs.BoolVar(&f.resume, "resume", false, "continue from <out>/checkpoint: same data order, optimiser state and metrics")
}

// Config checks the flags.
func (f *TrainFlags) Config() (stages.TrainConfig, error) {
	c := stages.TrainConfig{Shards: f.shards, Model: f.model, Tokenizer: f.tokenizer, Out: f.out, Loss: f.loss, Optim: f.optim,
		BatchSize: f.batch, GradAccum: f.accum, Epochs: f.epochs, Steps: f.steps, Seed: f.seed, EvalFraction: f.evalFraction,
		EvalEvery: f.evalEvery, LogEvery: f.logEvery, CheckpointEvery: f.ckpt, Resume: f.resume, DeltaRefresh: f.deltaRefresh}
	for name, v := range map[string]string{"shards": f.shards, "model": f.model, "out": f.out} {
		if v == "" {
			return c, fmt.Errorf("--%s is required", name)
		}
	}
	for _, p := range []string{f.shards, f.model} {
		if err := runners.CheckPath(p); err != nil {
			return c, err
		}
	}
	if strings.Contains(f.out, "://") {
		return c, fmt.Errorf("--out %s: training writes to a local directory", f.out)
	}
	// Only flags the user gave are compared with the shards' metadata.
	f.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "aug-prompt":
			c.AugPrompt = &f.augPrompt
		case "aug-sep":
			c.AugSeparator = &f.augSep
		}
	})
	if err := c.Loss.Validate(); err != nil {
		return c, err
	}
	if err := c.Optim.Validate(); err != nil {
		return c, err
	}
	switch {
	case c.BatchSize < 1 || c.GradAccum < 1 || c.GradAccum > c.BatchSize:
		return c, fmt.Errorf("--batch-size %d and --grad-accum %d: want 1 ≤ grad-accum ≤ batch-size", c.BatchSize, c.GradAccum)
	case c.Steps < 0 || c.Epochs < 1:
		return c, fmt.Errorf("--steps %d / --epochs %d: want steps ≥ 0 and epochs ≥ 1", c.Steps, c.Epochs)
	case c.EvalFraction < 0 || c.EvalFraction >= 1:
		return c, fmt.Errorf("--eval-fraction %g: want 0 ≤ f < 1", c.EvalFraction)
	case c.DeltaRefresh < 1:
		return c, fmt.Errorf("--delta-refresh %d: want at least 1", c.DeltaRefresh)
	}
	return c, nil
}
