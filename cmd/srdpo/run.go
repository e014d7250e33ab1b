package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/srdpo/srdpo/pipelines"
	"github.com/srdpo/srdpo/runners"
)

const runSummary = "the end-to-end job on the embedded known-reward task: Sr-DPO and Sr-IPO against DPO and IPO"

func runRun(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", runSummary, stdout, stderr, true)
	c := pipelines.RunConfig{}
	fs.StringVar(&c.Out, "out", "out", "output directory: report.md, plots, and a folder per seed (seed-N)")
	fs.IntVar(&c.Seeds, "seeds", 1, "seeds to run (1..N); the report gives the mean over seeds with min and max")
	fs.IntVar(&c.SFTWords, "sft-words", 1500, "words in the reference's SFT corpus")
	fs.IntVar(&c.SFTSteps, "sft-steps", 2000, "SFT steps of the reference (batch 32)")
	fs.IntVar(&c.Pairs, "pairs", 1000, "training preference pairs, sampled from the reference")
	fs.IntVar(&c.HeldoutPairs, "heldout-pairs", 200, "held-out pairs for preference accuracy and the Δ-gap correlations")
	fs.IntVar(&c.EvalPrompts, "eval-prompts", 200, "held-out prompts for the gold-reward evaluation")
	fs.IntVar(&c.TrainSteps, "train-steps", 50, "preference-optimisation steps per method")
	fs.IntVar(&c.BatchSize, "batch-size", 32, "pairs per step")
	fs.Float64Var(&c.LR, "lr", 1e-4, "Adam learning rate of the preference training")
	fs.Float64Var(&c.Beta, "beta", 0.1, "β")
	fs.Float64Var(&c.Lambda, "lambda", 0.5, "λ of Sr-DPO and Sr-IPO")
	fs.IntVar(&c.Width, "width", 64, "width of the reference (2 layers, byte vocabulary, context 64)")
	runners.AddBeamFlags(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	runners.Init()
	if c.Seeds < 1 || c.SFTSteps < 1 || c.TrainSteps < 1 || c.Pairs < 1 || c.EvalPrompts < 1 || c.BatchSize < 1 {
		return usageError(stderr, fs, fmt.Errorf("seeds, steps, pairs, prompts and batch size must be positive"))
	}
	began := time.Now()
	table, err := pipelines.Run(context.Background(), c, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\nreport: %s/report.md (%d seed(s), %s)\n", table, c.Out, c.Seeds, time.Since(began).Round(time.Second))
	return nil
}
