package main

import (
	"context"
	"fmt"
	"io"

	"github.com/srdpo/srdpo/pipelines"
	"github.com/srdpo/srdpo/runners"
)

const evalSummary = "evaluate policies: gold reward, win rates, KL, preference accuracy, Δ-gap correlation, benchmarks; report"

func runEval(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", evalSummary, stdout, stderr, true)
	c := pipelines.DefaultEvalConfig()
	c.RegisterFlags(fs)
	runners.AddBeamFlags(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	runners.Init()
	if err := c.Validate(); err != nil {
		return usageError(stderr, fs, err)
	}
	_, table, err := pipelines.RunEval(context.Background(), c)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\nreport: %s/report.md\n", table, c.Out)
	return nil
}
