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
	c := pipelines.DefaultRunConfig()
	c.RegisterFlags(fs)
	runners.AddBeamFlags(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	runners.Init()
	if err := c.Validate(); err != nil {
		return usageError(stderr, fs, err)
	}
	began := time.Now()
	table, err := pipelines.Run(context.Background(), c, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\nreport: %s/report.md (%d seed(s), %s)\n", table, c.Out, c.Seeds, time.Since(began).Round(time.Second))
	return nil
}
