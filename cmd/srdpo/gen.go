package main

import (
	"fmt"
	"io"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/pipelines"
	"github.com/srdpo/srdpo/tasks"
)

const genSummary = "write the known-reward task's corpora: SFT set, preference pairs with gold scores, held-out prompts"

func runGen(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("gen", genSummary, stdout, stderr, false)
	cfg := tasks.GenConfig{}
	fs.StringVar(&cfg.Out, "out", "", "output directory (sft.jsonl, prefs.jsonl, eval_prompts.jsonl)")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed: the same seed writes the same bytes")
	fs.IntVar(&cfg.SFTWords, "sft-words", 2000, "words in the SFT corpus (each gives an example on x and one on p⊕x)")
	fs.IntVar(&cfg.Pairs, "pairs", 2000, "preference pairs")
	fs.IntVar(&cfg.HeldoutPairs, "heldout-pairs", 200, "preference pairs on other words, for held-out evaluation (heldout.jsonl)")
	fs.IntVar(&cfg.EvalPrompts, "eval-prompts", 200, "held-out prompts for evaluation")
	fs.Float64Var(&cfg.Temperature, "temperature", 0.1, "Bradley–Terry temperature of the labels: P(y1 ≻ y2) = σ((r*1 − r*2)/T)")
	fs.StringVar(&cfg.AugPrompt, "aug-prompt", tasks.DefaultAugPrompt, "p of the task's SFT corpus (short: the task's models have short contexts)")
	fs.StringVar(&cfg.AugSeparator, "aug-sep", " ", "separator of p and x")
	modelDir := fs.String("model", "", "an SFT model to draw each pair's two responses from (temperature 1); without it, pairs are seeded corruptions of the answer")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if cfg.Out == "" {
		return usageError(stderr, fs, fmt.Errorf("--out is required"))
	}
	if *modelDir != "" {
		backend, err := model.Backend()
		if err != nil {
			return err
		}
		m, err := model.LoadDir(*modelDir, backend, model.Float32)
		if err != nil {
			return err
		}
		tok, err := tokenizer.Load(tokenizer.SpecAuto, *modelDir)
		if err != nil {
			return err
		}
		if cfg.Sample, err = pipelines.Sampler(m, tok); err != nil {
			return err
		}
	}
	if err := tasks.Generate(cfg); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s/sft.jsonl (%d examples), %s/prefs.jsonl (%d pairs), %s/heldout.jsonl (%d pairs), %s/eval_prompts.jsonl (%d prompts)\n",
		cfg.Out, 2*cfg.SFTWords, cfg.Out, cfg.Pairs, cfg.Out, cfg.HeldoutPairs, cfg.Out, cfg.EvalPrompts)
	return nil
}
