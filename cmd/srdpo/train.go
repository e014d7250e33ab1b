package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/srdpo/srdpo/stages"
)

const trainSummary = "train a policy with Sr-DPO, Sr-IPO, DPO, IPO, … on scored shards"

func runTrain(args []string, stdout, stderr io.Writer) error {
	cfg := stages.DefaultTrainConfig()
	if err := parseSettings("train", trainSummary, &cfg, false, args, stdout, stderr); err != nil {
		return err
	}
	// Ctrl-C or SIGTERM stops after the step under way; --resume continues
	// from the last checkpoint.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := stages.Train(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "trained %d steps; the policy is in %s/checkpoint, metrics in %s/metrics.arrow\n", res.Steps, cfg.Out, cfg.Out)
	return nil
}
