package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/srdpo/srdpo/pipelines"
)

const runSummary = "the end-to-end job on the embedded known-reward task: Sr-DPO and Sr-IPO against DPO and IPO"

func runRun(args []string, stdout, stderr io.Writer) error {
	c := pipelines.DefaultRunConfig()
	if err := parseSettings("run", runSummary, &c, true, args, stdout, stderr); err != nil {
		return err
	}
	began := time.Now()
	table, err := pipelines.Run(context.Background(), c, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s\nreport: %s/report.md (%d seed(s), %s)\n", table, c.Out, c.Seeds, time.Since(began).Round(time.Second))
	return nil
}
