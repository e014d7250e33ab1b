package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/pipelines"
	"github.com/srdpo/srdpo/tasks"
)

const genSummary = "write the known-reward task's corpora: SFT set, preference pairs with gold scores, held-out prompts"

// genConfig is the task's settings and, the command's own, the model to
// sample pairs from (the tasks package loads no models).
type genConfig struct {
	tasks.GenConfig
	model string
}

func (c *genConfig) RegisterFlags(fs *flag.FlagSet) {
	c.GenConfig.RegisterFlags(fs)
	fs.StringVar(&c.model, "model", c.model, "an SFT model to draw each pair's two responses from (temperature 1); without it, pairs are seeded corruptions of the answer")
}

func runGen(args []string, stdout, stderr io.Writer) error {
	c := genConfig{GenConfig: tasks.DefaultGenConfig()}
	if err := parseSettings("gen", genSummary, &c, false, args, stdout, stderr); err != nil {
		return err
	}
	cfg, modelDir := c.GenConfig, &c.model
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
