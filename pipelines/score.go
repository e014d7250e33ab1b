package pipelines

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/runners"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
	"github.com/srdpo/srdpo/stages/shardio"
)

// ScoreConfig is the scoring job's settings beyond ingestion: the
// reference model, p and its separator, truncation, and the batch a worker
// gathers.
type ScoreConfig struct {
	Reference  stages.ReferenceSpec
	BatchPairs int
	Reuse      string // --reuse: an earlier scored set (its prefix, manifest or a glob)
}

// DefaultScoreConfig has the paper's p and maximum lengths; Model is the
// caller's to fill.
func DefaultScoreConfig() ScoreConfig {
	return ScoreConfig{BatchPairs: 64, Reference: stages.ReferenceSpec{Tokenizer: tokenizer.SpecAuto,
		AugPrompt: schemas.DefaultAugPrompt, AugSeparator: schemas.DefaultAugSeparator, AugPosition: stages.AugLastUser,
		Tokenization: stages.TokenizationSrdpo,
		// Lengths 0: follow the model (the paper's 512, or a shorter context).
		Truncation: model.Truncation{Prompt: model.KeepEnd, Response: model.KeepStart}}}
}

// RegisterFlags binds the scoring settings to flags.
func (c *ScoreConfig) RegisterFlags(fs *flag.FlagSet) {
	r, t := &c.Reference, &c.Reference.Truncation
	fs.StringVar(&r.ModelDir, "model", r.ModelDir, "reference model directory, local or gs://: an srdpo checkpoint or a Hugging Face directory (config.json + safetensors) of GPT-2, Llama/Mistral/SmolLM, Qwen2, Qwen3 or GPT-NeoX")
	fs.StringVar(&r.Adapter, "adapter", r.Adapter, "a PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors, local or gs://) to load onto --model: the reference is then the model with the adapter (its fingerprint covers both)")
	fs.StringVar(&r.Tokenizer, "tokenizer", r.Tokenizer, "tokenizer: auto (the model directory's tokenizer.json (+ tokenizer_config.json), else its vocab.json + merges.txt, else bytes), byte, or a directory (local or gs://) holding those files; prompts start with the tokenizer's BOS when its post-processor adds one")
	fs.BoolVar(&r.ResponseEOS, "response-eos", r.ResponseEOS, "end each response with the tokenizer's EOS token (TRL does for non-conversational rows); recorded in the shards' metadata")
	fs.StringVar(&c.Reuse, "reuse", c.Reuse, "an earlier scored set (its --out prefix, local or gs://): when it was scored with this run's model, tokenizer, chat template, p, lengths and rule, its rows whose id and content are unchanged are carried over and only new or changed records are scored (counters pairs_reused, reuse_missed_new, reuse_missed_changed); with any of those settings changed, nothing is reused and the log says which")
	fs.BoolVar(&r.RefFromCorpus, "ref-from-corpus", r.RefFromCorpus, "take the x-side reference sums from the corpus's ref_chosen_logps / ref_rejected_logps columns (a dataset TRL precomputed) and score only the p⊕x side, after the given chosen_ids / rejected_ids when present; needs --tokenization trl; the given prompt_ids must equal this tokenizer's and template's encoding of the prompt (else the row is a dead letter, given_ids_mismatch), records without the columns are dead letters (no_given_ref); the model, dtype and --max-length that made the sums cannot be checked, which the metadata and the log say")
	fs.IntVar(&c.BatchPairs, "batch-pairs", c.BatchPairs, "pairs a worker gathers before scoring them; changes memory and speed, never the scores")
	fs.StringVar(&r.AugPrompt, "aug-prompt", r.AugPrompt, "the augmentation prompt p put in front of x to form p⊕x; the default is the paper's")
	fs.StringVar(&r.AugSeparator, "aug-sep", r.AugSeparator, "the text joining p and x: p⊕x = p + sep + x (for a conversation, p + sep + the content of the message p goes into)")
	fs.StringVar(&r.AugPosition, "aug-position", r.AugPosition, "where p goes in a conversation, before its chat template renders it: last-user (in front of the last user message's content), first-user, or system (in front of the system message's content, or as a system message of its own); text records are always p + sep + x")
	fs.StringVar(&r.Tokenization, "tokenization", r.Tokenization, "how text becomes token ids: srdpo (prompt and responses encoded apart, BOS before the prompt, EOS with --response-eos, --max-prompt-length and --truncate-* apply) or trl (TRL 1.x DPOTrainer's rule: prompt and prompt+completion encoded together and split at the prompt's token count, the EOS text appended to text completions, conversations encoded without special tokens, --max-length with --truncate-response keep_start (TRL's default) or keep_end; rows whose prompt alone reaches --max-length are dead letters, as TRL drops them)")
	fs.IntVar(&t.MaxPromptLength, "max-prompt-length", t.MaxPromptLength, "prompt tokens kept (x and p⊕x each); 0: half of --max-length")
	fs.IntVar(&t.MaxLength, "max-length", t.MaxLength, "prompt + response tokens kept; 0: the paper's 512, or the model's context when shorter (the lengths used are in the shards' metadata); longer than the context is an error")
	fs.Var((*sideFlag)(&t.Prompt), "truncate-prompt", "which end of a long prompt to keep: keep_end or keep_start")
	fs.Var((*sideFlag)(&t.Response), "truncate-response", "which part of a long response to keep: keep_start or keep_end")
}

// ScoreFlagNames are the flags of ScoreConfig.RegisterFlags: those that
// apply only when scoring.
func ScoreFlagNames() map[string]bool {
	var c ScoreConfig
	return flagNames(c.RegisterFlags)
}

// Validate checks the settings.
func (c ScoreConfig) Validate() error {
	if c.Reference.ModelDir == "" {
		return fmt.Errorf("--model is required to score (or give --ingest-only)")
	}
	if err := runners.CheckPath(c.Reference.ModelDir); err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	if _, err := stages.ParseAugPosition(c.Reference.AugPosition); err != nil {
		return err
	}
	if err := stages.CheckTokenization(c.Reference.Tokenization); err != nil {
		return err
	}
	if c.Reference.Tokenization == stages.TokenizationTRL && c.Reference.ResponseEOS {
		return fmt.Errorf("--response-eos does not apply with --tokenization trl: TRL's rule appends the EOS text to text completions itself")
	}
	if c.Reference.RefFromCorpus && c.Reference.Tokenization != stages.TokenizationTRL {
		return fmt.Errorf("--ref-from-corpus needs --tokenization trl: the given sums are over TRL's ids")
	}
	if c.Reference.RefFromCorpus && c.Reuse != "" {
		return fmt.Errorf("--ref-from-corpus with --reuse: a given sum can change while a record's text does not, so rows cannot be carried over; drop one")
	}
	if c.BatchPairs < 1 {
		return fmt.Errorf("--batch-pairs %d: want at least 1", c.BatchPairs)
	}
	t := c.Reference.Truncation
	if t.MaxLength < 0 || t.MaxPromptLength < 0 {
		return fmt.Errorf("--max-length %d / --max-prompt-length %d must not be negative", t.MaxLength, t.MaxPromptLength)
	}
	if t.MaxLength == 0 || t.MaxPromptLength == 0 {
		return nil // the rest is checked once the model's context is known
	}
	return t.Validate()
}

// ScoreMetadata is the metadata a scoring run writes on its shards: the
// ingestion's and the reference's (loaded once per process).
func ScoreMetadata(ctx context.Context, c IngestConfig, sc ScoreConfig) (schemas.Metadata, error) {
	if c.ChatTemplate.Name == stages.AutoChatTemplate {
		if _, err := c.ResolveChatTemplate(ctx, sc.Reference.ModelDir, sc.Reference.Tokenizer); err != nil {
			return nil, err
		}
	}
	ref, err := stages.LoadReference(ctx, sc.Reference)
	if err != nil {
		return nil, fmt.Errorf("loading the reference model %s: %w", sc.Reference.ModelDir, err)
	}
	md := c.Metadata()
	for k, v := range ref.Metadata() {
		md = md.With(k, v)
	}
	return md.With(schemas.KeySchemaVersion, schemas.ScoredRows.Version), nil
}

// ResolveReuse settles --reuse against this run's settings: the earlier
// set is used when they are the same, and the line for the log says what
// happens either way.
func (sc *ScoreConfig) ResolveReuse(ctx context.Context, c IngestConfig) (string, error) {
	if sc.Reuse == "" {
		return "", nil
	}
	md, err := ScoreMetadata(ctx, c, *sc)
	if err != nil {
		return "", err
	}
	pattern := shardsPattern(sc.Reuse)
	if pattern == c.Out+schemas.ManifestSuffix {
		return "", fmt.Errorf("--reuse %s is the set this run writes: give the new set another --out", sc.Reuse)
	}
	diff, err := stages.ReuseSettings(ctx, pattern, md)
	if err != nil {
		return "", err
	}
	if len(diff) > 0 {
		sc.Reference.Reuse = ""
		return fmt.Sprintf("--reuse %s: reusing nothing, the earlier set was scored with other settings: %s", sc.Reuse, strings.Join(diff, "; ")), nil
	}
	sc.Reference.Reuse = pattern
	return fmt.Sprintf("--reuse %s: rows whose id and content are unchanged are carried over; the rest are scored", sc.Reuse), nil
}

// sideFlag reads a truncation side.
type sideFlag model.Side

func (s *sideFlag) String() string { return string(*s) }

func (s *sideFlag) Set(v string) error {
	if v != string(model.KeepEnd) && v != string(model.KeepStart) {
		return fmt.Errorf("want keep_end or keep_start")
	}
	*s = sideFlag(v)
	return nil
}

// BuildScore adds the scoring job: corpus → preference rows → reference
// log-probs on x and on p⊕x → scored shards, with the dead letters of both
// ingestion and scoring. It loads the model here too, to record its
// fingerprint in every shard's metadata; workers load it once per process.
func BuildScore(ctx context.Context, s beam.Scope, c IngestConfig, sc ScoreConfig) (manifest, deadManifest beam.PCollection, err error) {
	spec := sc.Reference
	if c.ChatTemplate.Name == stages.AutoChatTemplate {
		if _, err := c.ResolveChatTemplate(ctx, spec.ModelDir, spec.Tokenizer); err != nil {
			return manifest, deadManifest, err
		}
	}
	md, err := ScoreMetadata(ctx, c, sc)
	if err != nil {
		return manifest, deadManifest, err
	}
	s = s.Scope("score")
	var extra []stages.CorpusOption
	if spec.RefFromCorpus {
		extra = append(extra, stages.WithGivenRef())
	}
	rows, dead := c.ReadCorpus(s, stages.Augmentation{Prompt: spec.AugPrompt, Separator: spec.AugSeparator, Position: spec.AugPosition}, extra...)
	scored, scoreDead := stages.ScorePreferences(s, spec, rows, stages.WithBatchPairs(sc.BatchPairs))
	manifest = shardio.WriteShards(s, c.Out, schemas.ScoredRows, md, scored,
		shardio.WithShards(c.Shards), shardio.WithFormat(c.Format))
	return manifest, WriteDeadLetters(s, c.Out, md, beam.Flatten(s, dead, scoreDead)), nil
}
