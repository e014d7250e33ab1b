package main

import (
	"context"
	"fmt"
	"io"

	"github.com/srdpo/srdpo/pipelines"
)

const evalSummary = "evaluate policies: gold reward, win rates, KL, preference accuracy, Δ-gap correlation, benchmarks; report"

func runEval(args []string, stdout, stderr io.Writer) error {
	c := pipelines.DefaultEvalConfig()
	if err := parseSettings("eval", evalSummary, &c, true, args, stdout, stderr); err != nil {
		return err
	}
	_, table, err := pipelines.RunEval(context.Background(), c)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\nreport: %s/report.md\n", table, c.Out)
	return nil
}
