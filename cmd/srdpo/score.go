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
	cfg := pipelines.DefaultIngestConfig()
	cfg.RegisterFlags(fs)
	score := pipelines.DefaultScoreConfig()
	score.RegisterFlags(fs)
	ingestOnly := fs.Bool("ingest-only", false, "read, normalise and validate the corpus, write preference rows (table \"preference\") and dead letters, and stop before scoring")
	hfDataset := fs.String("hf-dataset", "", "also write the scored pairs as a Hugging Face dataset folder here (local or gs://), as srdpo export --format hf-dataset does, once the job is done")
	heapProfile := fs.String("heap-profile", "", "write a Go heap profile of this process at its peak heap to this file (go tool pprof): where memory goes on the in-process runner")
	runners.AddBeamFlags(fs)
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	runners.Init()

	if err := cfg.Validate(); err != nil {
		return usageError(stderr, fs, err)
	}
	if *hfDataset != "" {
		if *ingestOnly {
			return usageError(stderr, fs, fmt.Errorf("--hf-dataset exports scored pairs; drop it or drop --ingest-only"))
		}
		if err := runners.CheckPath(*hfDataset); err != nil {
			return usageError(stderr, fs, fmt.Errorf("--hf-dataset: %w", err))
		}
	}
	ctx := context.Background()
	if err := cfg.ResolveCorpus(ctx); err != nil {
		return usageError(stderr, fs, err)
	}
	if err := autoShards(ctx, &cfg, *ingestOnly, stderr); err != nil {
		return err
	}
	p, err := buildScoreJob(ctx, fs, &cfg, &score, *ingestOnly, stderr)
	if err != nil {
		return err
	}
	// The scored set and its dead letters are one output: a failed job
	// leaves the earlier complete pair of sets or neither.
	prefixes := []string{cfg.Out, pipelines.DeadLetterPrefix(cfg.Out)}
	start := time.Now()
	stop := reportProgress(stderr, start)
	stopProfile := peakHeapProfile(*heapProfile, stderr)
	res, err := pipelines.RunJob(ctx, p, prefixes, stderr)
	stopProfile()
	stop()
	if err != nil {
		return fmt.Errorf("pipeline failed: %w", err)
	}
	if runners.DryRun() {
		fmt.Fprintln(stdout, "dry run: the job was translated and printed above, not run; nothing was written")
		return nil
	}
	return reportScore(ctx, stdout, stderr, stages.Counters(res), time.Since(start), cfg, score, *ingestOnly, *hfDataset)
}

// autoShards resolves --shards auto (0) from the corpus's size: scored
// rows take more bytes per corpus byte than ingested ones.
func autoShards(ctx context.Context, cfg *pipelines.IngestConfig, ingestOnly bool, stderr io.Writer) error {
	if cfg.Shards != 0 {
		return nil
	}
	perIn := pipelines.ScoreBytesPerCorpusByte
	if ingestOnly {
		perIn = pipelines.IngestBytesPerCorpusByte
	}
	n, size, err := cfg.ResolveShards(ctx, perIn)
	if err != nil {
		return err
	}
	cfg.Shards = n
	fmt.Fprintf(stderr, "srdpo score: --shards auto: %d shard(s) for %.1f MB of corpus (about %.0f MB of output, --shard-mb %d)\n",
		n, float64(size)/1e6, float64(size)*perIn/1e6, cfg.ShardMB)
	return nil
}

// reportScore prints where the job wrote and its counters, exports the
// Hugging Face dataset if one was asked for, and warns of what the user
// must know: sums taken from the corpus, and records that were unusable.
func reportScore(ctx context.Context, stdout, stderr io.Writer, counters map[string]int64, wall time.Duration,
	cfg pipelines.IngestConfig, score pipelines.ScoreConfig, ingestOnly bool, hfDataset string) error {
	verb := "scored"
	if ingestOnly {
		verb = "ingested"
	}
	fmt.Fprintf(stdout, "%s into %s-*%s (manifest %s.manifest.json)\n", verb, cfg.Out, cfg.Format.Ext(), cfg.Out)
	if hfDataset != "" {
		ec := pipelines.DefaultExportConfig()
		ec.Scored, ec.Out = cfg.Out, hfDataset
		if err := export(ctx, ec, stdout, stderr); err != nil {
			return err
		}
	}
	pipelines.PrintSummary(stdout, counters, wall)
	if n := counters[stages.CounterTokensScored]; n > 0 {
		fmt.Fprintf(stdout, "  %-28s %.0f\n", "tokens_per_sec", float64(n)/wall.Seconds())
	}
	if score.Reference.RefFromCorpus {
		fmt.Fprintf(stderr, "srdpo score: --ref-from-corpus: the x-side sums of %d pairs are the corpus's ref_chosen_logps / ref_rejected_logps as given; only p⊕x was scored. Nothing shows which model, dtype or max_length made them: they must be this reference's for Sr-DPO's margins to mean anything\n", counters[stages.CounterPairsScored])
	}
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

// reportProgress prints, every few seconds, how many pairs this process has
// scored: on the in-process runner that is the whole job's progress.
func reportProgress(w io.Writer, start time.Time) (stop func()) {
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				if n, tokens := stages.ScoredInProcess(); n > 0 {
					el := time.Since(start)
					fmt.Fprintf(w, "srdpo score: %d pairs scored, %.0f tokens/s, %s\n", n,
						float64(tokens)/el.Seconds(), el.Round(time.Second))
				}
			}
		}
	}()
	return func() { close(done) }
}

// buildScoreJob lays out the job: ingestion only (refusing scoring
// flags), or ingestion and scoring with the reference model. It resolves
// cfg's chat template and score's reuse in place.
func buildScoreJob(ctx context.Context, fs *flag.FlagSet, cfg *pipelines.IngestConfig, score *pipelines.ScoreConfig, ingestOnly bool, stderr io.Writer) (*beam.Pipeline, error) {
	p, s := beam.NewPipelineWithRoot()
	if ingestOnly {
		var scoringFlags []string
		only := pipelines.ScoreFlagNames()
		fs.Visit(func(f *flag.Flag) {
			if only[f.Name] {
				scoringFlags = append(scoringFlags, "--"+f.Name)
			}
		})
		if len(scoringFlags) > 0 {
			return nil, usageError(stderr, fs, fmt.Errorf("%v only apply to scoring; drop them or drop --ingest-only", scoringFlags))
		}
		note, err := cfg.ResolveChatTemplate(ctx, "", "")
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "srdpo score: %s\n", note)
		pipelines.BuildIngest(s, *cfg)
		fmt.Fprintf(stderr, "srdpo score: ingesting %v on runner %s\n", cfg.Corpus, runners.Name())
	} else {
		if err := score.Validate(); err != nil {
			return nil, usageError(stderr, fs, err)
		}
		note, err := cfg.ResolveChatTemplate(ctx, score.Reference.ModelDir, score.Reference.Tokenizer)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "srdpo score: %s\n", note)
		fmt.Fprintf(stderr, "srdpo score: loading the reference model %s\n", score.Reference.ModelDir)
		if note, err := score.ResolveReuse(ctx, *cfg); err != nil {
			return nil, err
		} else if note != "" {
			fmt.Fprintf(stderr, "srdpo score: %s\n", note)
		}
		if _, _, err := pipelines.BuildScore(ctx, s, *cfg, *score); err != nil {
			return nil, err
		}
		fmt.Fprintf(stderr, "srdpo score: scoring %v on runner %s\n", cfg.Corpus, runners.Name())
	}
	return p, nil
}
