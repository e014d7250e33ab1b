package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/srdpo/srdpo/pipelines"
	"github.com/srdpo/srdpo/runners"
	"github.com/srdpo/srdpo/stages"
)

const scoreSummary = "ingest a preference corpus and score it with the reference model into Arrow shards"

func runScore(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("score", scoreSummary, stdout, stderr, true)
	var ingest pipelines.IngestFlags
	ingest.Register(fs)
	var score pipelines.ScoreFlags
	score.Register(fs)
	ingestOnly := fs.Bool("ingest-only", false, "read, normalise and validate the corpus, write preference rows (table \"preference\") and dead letters, and stop before scoring")
	runners.AddBeamFlags(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	runners.Init()

	cfg, err := ingest.Config()
	if err != nil {
		return usageError(stderr, fs, err)
	}
	if !*ingestOnly {
		if err := score.Check(); err != nil {
			return usageError(stderr, fs, err)
		}
		return notImplemented{what: "scoring with the reference model (use --ingest-only to run ingestion alone)", issue: 5}
	}
	var scoringFlags []string
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "model", "aug-prompt", "aug-sep", "max-prompt-length", "max-length", "truncate-prompt", "truncate-response":
			scoringFlags = append(scoringFlags, "--"+f.Name)
		}
	})
	if len(scoringFlags) > 0 {
		return usageError(stderr, fs, fmt.Errorf("%v only apply to scoring; drop them or drop --ingest-only", scoringFlags))
	}

	p, s := beam.NewPipelineWithRoot()
	pipelines.BuildIngest(s, cfg)
	fmt.Fprintf(stderr, "srdpo score: ingesting %v on runner %s\n", cfg.Corpus, runners.Name())
	start := time.Now()
	res, err := runners.Run(context.Background(), p)
	if err != nil {
		return fmt.Errorf("pipeline failed: %w", err)
	}
	if runners.DryRun() {
		fmt.Fprintln(stdout, "dry run: the job was translated and printed above, not run; nothing was written")
		return nil
	}
	counters := stages.Counters(res)
	fmt.Fprintf(stdout, "ingested into %s-*%s (manifest %s.manifest.json)\n", cfg.Out, cfg.Format.Ext(), cfg.Out)
	pipelines.PrintSummary(stdout, counters, time.Since(start))
	if n := counters[stages.CounterRecordsDead]; n > 0 {
		fmt.Fprintf(stderr, "srdpo score: %d records were unusable; see %s-*.jsonl\n", n, pipelines.DeadLetterPrefix(cfg.Out))
	}
	return nil
}

// usageError reports a flag problem the way the flag package does.
func usageError(stderr io.Writer, fs *flag.FlagSet, err error) error {
	fmt.Fprintf(stderr, "srdpo %s: %v\nRun '%s --help' for the flags.\n", fs.Name()[len("srdpo "):], err, fs.Name())
	return errUsage
}
