package pipelines

import (
	"context"
	"flag"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/runners"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
)

// ScoreFlags are the scoring job's flags beyond ingestion: the reference
// model, the augmentation prompt p and its separator, and truncation.
type ScoreFlags struct {
	Model            string
	Tokenizer        string
	BatchPairs       int
	AugPrompt        string
	AugSeparator     string
	MaxPromptLength  int
	MaxLength        int
	TruncatePrompt   string
	TruncateResponse string
	ResponseEOS      bool
}

// Register adds the scoring flags to fs.
func (f *ScoreFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Model, "model", "", "reference model directory (srdpo checkpoint or Hugging Face GPT-2 layout), local or gs://")
	fs.StringVar(&f.Tokenizer, "tokenizer", "auto", "tokenizer: auto (the model directory's tokenizer.json (+ tokenizer_config.json), else its vocab.json + merges.txt, else bytes), byte, or a directory (local or gs://) holding those files; prompts start with the tokenizer's BOS when its post-processor adds one")
	fs.BoolVar(&f.ResponseEOS, "response-eos", false, "end each response with the tokenizer's EOS token (TRL does for non-conversational rows); recorded in the shards' metadata")
	fs.IntVar(&f.BatchPairs, "batch-pairs", 64, "pairs a worker gathers before scoring them; changes memory and speed, never the scores")
	fs.StringVar(&f.AugPrompt, "aug-prompt", schemas.DefaultAugPrompt, "the augmentation prompt p put in front of x to form p⊕x; the default is the paper's")
	fs.StringVar(&f.AugSeparator, "aug-sep", schemas.DefaultAugSeparator, "the text joining p and x: p⊕x = p + sep + x")
	d := model.DefaultTruncation
	fs.IntVar(&f.MaxPromptLength, "max-prompt-length", d.MaxPromptLength, "prompt tokens kept (x and p⊕x each)")
	fs.IntVar(&f.MaxLength, "max-length", d.MaxLength, "prompt + response tokens kept")
	fs.StringVar(&f.TruncatePrompt, "truncate-prompt", string(d.Prompt), "which end of a long prompt to keep: keep_end or keep_start")
	fs.StringVar(&f.TruncateResponse, "truncate-response", string(d.Response), "which part of a long response to keep: keep_start or keep_end")
}

// Check validates the scoring flags.
func (f *ScoreFlags) Check() error {
	if f.Model == "" {
		return fmt.Errorf("--model is required to score (or give --ingest-only)")
	}
	if err := runners.CheckPath(f.Model); err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	if f.BatchPairs < 1 {
		return fmt.Errorf("--batch-pairs %d: want at least 1", f.BatchPairs)
	}
	return f.Truncation().Validate()
}

// Spec is the reference model the flags name.
func (f *ScoreFlags) Spec() stages.ReferenceSpec {
	return stages.ReferenceSpec{ModelDir: f.Model, Tokenizer: f.Tokenizer, AugPrompt: f.AugPrompt,
		AugSeparator: f.AugSeparator, Truncation: f.Truncation(), ResponseEOS: f.ResponseEOS}
}

// BuildScore adds the scoring job: corpus → preference rows → reference
// log-probs on x and on p⊕x → scored shards, with the dead letters of both
// ingestion and scoring. It loads the model here too, to record its
// fingerprint in every shard's metadata; workers load it once per process.
func BuildScore(ctx context.Context, s beam.Scope, c IngestConfig, spec stages.ReferenceSpec, batchPairs int) (manifest, deadManifest beam.PCollection, err error) {
	ref, err := stages.LoadReference(ctx, spec)
	if err != nil {
		return manifest, deadManifest, fmt.Errorf("loading the reference model %s: %w", spec.ModelDir, err)
	}
	md := c.Metadata()
	for k, v := range ref.Metadata() {
		md = md.With(k, v)
	}
	s = s.Scope("score")
	rows, dead := c.ReadCorpus(s)
	scored, scoreDead := stages.ScorePreferences(s, spec, rows, stages.WithBatchPairs(batchPairs))
	manifest = stages.WriteShards(s, c.Out, schemas.ScoredRows, md, scored,
		stages.WithShards(c.Shards), stages.WithFormat(c.Format))
	return manifest, WriteDeadLetters(s, c.Out, md, beam.Flatten(s, dead, scoreDead)), nil
}

// Truncation is the model package's policy as the flags set it.
func (f *ScoreFlags) Truncation() model.Truncation {
	return model.Truncation{MaxPromptLength: f.MaxPromptLength, MaxLength: f.MaxLength,
		Prompt: model.Side(f.TruncatePrompt), Response: model.Side(f.TruncateResponse)}
}
