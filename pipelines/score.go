package pipelines

import (
	"flag"
	"fmt"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/schemas"
)

// ScoreFlags are the scoring job's flags beyond ingestion: the reference
// model, the augmentation prompt p and its separator, and truncation.
type ScoreFlags struct {
	Model            string
	AugPrompt        string
	AugSeparator     string
	MaxPromptLength  int
	MaxLength        int
	TruncatePrompt   string
	TruncateResponse string
}

// Register adds the scoring flags to fs.
func (f *ScoreFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.Model, "model", "", "reference model directory (srdpo checkpoint or Hugging Face GPT-2 layout), local or gs://")
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
	return f.Truncation().Validate()
}

// Truncation is the model package's policy as the flags set it.
func (f *ScoreFlags) Truncation() model.Truncation {
	return model.Truncation{MaxPromptLength: f.MaxPromptLength, MaxLength: f.MaxLength,
		Prompt: model.Side(f.TruncatePrompt), Response: model.Side(f.TruncateResponse)}
}
