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
	cfg := tasks.DefaultGenConfig()
	cfg.RegisterFlags(fs)
	// The sampler is a model, which the tasks package does not load: this
	// one flag is the command's own.
	modelDir := fs.String("model", "", "an SFT model to draw each pair's two responses from (temperature 1); without it, pairs are seeded corruptions of the answer")
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError(stderr, fs, err)
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
