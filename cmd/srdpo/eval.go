package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/srdpo/srdpo/pipelines"
	"github.com/srdpo/srdpo/runners"
	"github.com/srdpo/srdpo/stages"
)

const evalSummary = "evaluate policies: gold reward, win rates, KL, preference accuracy, Δ-gap correlation, benchmarks; report"

// repeated is a repeatable string flag.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", evalSummary, stdout, stderr, true)
	var c pipelines.EvalConfig
	var policies, mc repeated
	fs.StringVar(&c.Spec.Reference, "reference", "", "the reference model directory (evaluated as \"reference\")")
	fs.Var(&policies, "policy", "name=DIR of a policy to evaluate (repeat); DIR is srdpo train's <out>/checkpoint")
	fs.StringVar(&c.Spec.Tokenizer, "tokenizer", "auto", "tokenizer, as for scoring")
	fs.StringVar(&c.Spec.Prompts, "prompts", "", "held-out prompts of the known-reward task (srdpo gen's eval_prompts.jsonl)")
	fs.StringVar(&c.Spec.Shards, "shards", "", "held-out scored pairs with gold scores, for preference accuracy and the Δ-gap correlations (optional)")
	fs.Var(&mc, "mc", "a multiple-choice task file (JSONL of context, choices, gold[, fewshot]) (repeat)")
	fs.IntVar(&c.Spec.Fewshot, "fewshot", 0, "few-shot examples in front of each multiple-choice context")
	fs.Float64Var(&c.Spec.Beta, "beta", 0.1, "β of Δπ = β·h_p")
	fs.BoolVar(&c.Spec.PerToken, "per-token-margins", false, "take h and Δπ on per-token means, as IPO trained with --ipo-norm mean does")
	fs.Int64Var(&c.Spec.Seed, "seed", 1, "decoding seed (greedy decoding uses none), recorded in every row")
	fs.IntVar(&c.Spec.MaxNew, "max-new", 24, "new tokens per generation")
	fs.StringVar(&c.Out, "out", "", "local output directory: eval-00000-of-00001.arrow, report.md and plots")
	runners.AddBeamFlags(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	runners.Init()
	for _, p := range policies {
		name, dir, ok := strings.Cut(p, "=")
		if !ok || name == "" || dir == "" {
			return usageError(stderr, fs, fmt.Errorf("--policy %q: want name=DIR", p))
		}
		c.Policies = append(c.Policies, stages.PolicyRef{Name: name, Dir: dir})
	}
	c.Spec.MCTasks = mc
	for flagName, v := range map[string]string{"reference": c.Spec.Reference, "prompts": c.Spec.Prompts, "out": c.Out} {
		if v == "" {
			return usageError(stderr, fs, fmt.Errorf("--%s is required", flagName))
		}
	}
	_, table, err := pipelines.RunEval(context.Background(), c)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\nreport: %s/report.md\n", table, c.Out)
	return nil
}
