package pipelines

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/srdpo/srdpo/runners"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
	"github.com/srdpo/srdpo/stages/shardio"
)

// IngestConfig is what ingestion needs: where the corpus is, how to read it
// and where the normalised rows and dead letters go.
type IngestConfig struct {
	Corpus         []string // files, globs or dataset folders, local or gs://
	CorpusSplit    string   // with a dataset folder, read only this split's files
	Out            string   // output prefix
	Format         schemas.Format
	Shards         int // 0: auto, from the corpus's size and ShardMB
	ShardMB        int // the size --shards auto aims a shard at
	CorpusFormat   stages.CorpusFormat
	ChatTemplate   stages.ChatTemplate
	TemplateKwargs string // --chat-template-kwargs: a JSON object of extra template variables
	IDField        string
	OffsetField    string
	MaxRecordBytes int
	SplitMB        int // uncompressed JSON Lines files over this are read in chunks of about this size
}

// DeadLetterPrefix is where a job's dead letters go, beside its output.
func DeadLetterPrefix(out string) string { return out + ".deadletters" }

// DefaultIngestConfig is ingestion with every setting at its default;
// Corpus and Out are the caller's to fill.
func DefaultIngestConfig() IngestConfig {
	return IngestConfig{Format: schemas.FormatArrow, Shards: 4, ShardMB: 256, CorpusFormat: stages.FormatAuto,
		ChatTemplate: stages.ChatTemplate{Name: stages.AutoChatTemplate}, IDField: "id", OffsetField: "offset",
		MaxRecordBytes: stages.DefaultMaxRecordBytes, SplitMB: stages.DefaultSplitBytes >> 20}
}

// RegisterFlags binds the ingestion settings to flags.
func (c *IngestConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.Var((*StringList)(&c.Corpus), "corpus", "preference corpus: a file, a glob, or a Hugging Face dataset folder (a Hub repository as downloaded: data/*.parquet, or one config's folder), local or gs:// (.jsonl, .ndjson, .json, .parquet, each optionally .gz); repeat or comma-separate for several")
	fs.StringVar(&c.CorpusSplit, "corpus-split", c.CorpusSplit, "with a dataset folder as --corpus, read only this split's files (train_prefs, test, …: files named by the split, as the Hub names them); empty: every split")
	fs.StringVar(&c.Out, "out", c.Out, "output prefix, local or gs://: shards are <out>-00000-of-0000N.<format>, with <out>.manifest.json and dead letters in <out>.deadletters-*.jsonl")
	fs.Var(shardFormatFlag{&c.Format}, "format", "shard format: arrow (Arrow IPC) or parquet")
	fs.Var(shardsFlag{&c.Shards}, "shards", "number of output shards, or auto (the corpus's size over --shard-mb); rows go to a shard by a hash of their id")
	fs.IntVar(&c.ShardMB, "shard-mb", c.ShardMB, "with --shards auto, the size in MB a shard aims at (estimated from the corpus files' sizes)")
	fs.Var(corpusFormatFlag{&c.CorpusFormat}, "corpus-format", "record format: auto (detected per record), trl_standard, trl_conversational, hh_rlhf, sharegpt or ultrafeedback")
	fs.Var(chatTemplateFlag{&c.ChatTemplate}, "chat-template", "how message lists become text: auto (the model's own Jinja template, from chat_template.jinja or tokenizer_config.json of --tokenizer's or --model's directory, rendered as transformers' apply_chat_template; hh when it has none), a .jinja file, a built-in (hh, chatml, plain), or a JSON file with system/user/assistant/generation/response formats using {content}")
	fs.StringVar(&c.TemplateKwargs, "chat-template-kwargs", c.TemplateKwargs, `extra variables for a Jinja chat template, as a JSON object (TRL's chat_template_kwargs), e.g. '{"enable_thinking": false}'; a record's own chat_template_kwargs field adds to them`)
	fs.StringVar(&c.IDField, "id-field", c.IDField, "record field holding a pair's own id; records without it get a hash of their content")
	fs.StringVar(&c.OffsetField, "offset-field", c.OffsetField, "numeric record field read as the ODPO offset (empty: none)")
	fs.IntVar(&c.MaxRecordBytes, "max-record-bytes", c.MaxRecordBytes, "records larger than this go to the dead letters")
	fs.IntVar(&c.SplitMB, "split-mb", c.SplitMB, "uncompressed JSON Lines files larger than this many MB are read as chunks of about this size, on several workers")
}

// Validate checks the settings.
func (c IngestConfig) Validate() error {
	if len(c.Corpus) == 0 {
		return fmt.Errorf("--corpus is required")
	}
	if err := required([2]string{"out", c.Out}); err != nil {
		return err
	}
	for _, p := range append([]string{c.Out}, c.Corpus...) {
		if err := runners.CheckPath(p); err != nil {
			return err
		}
	}
	if c.Format != schemas.FormatArrow && c.Format != schemas.FormatParquet {
		return fmt.Errorf("--format %q: want arrow or parquet", c.Format)
	}
	if c.Shards < 0 || c.Shards > 99999 {
		return fmt.Errorf("--shards %d: want 1 to 99999, or auto", c.Shards)
	}
	if c.ShardMB < 1 {
		return fmt.Errorf("--shard-mb %d: want a positive size", c.ShardMB)
	}
	if c.SplitMB < 1 {
		return fmt.Errorf("--split-mb %d: want a positive size", c.SplitMB)
	}
	if c.TemplateKwargs != "" {
		var kw map[string]any
		if err := json.Unmarshal([]byte(c.TemplateKwargs), &kw); err != nil {
			return fmt.Errorf("--chat-template-kwargs: want a JSON object: %v", err)
		}
	}
	if c.MaxRecordBytes < 1 {
		return fmt.Errorf("--max-record-bytes %d: want a positive size", c.MaxRecordBytes)
	}
	return nil
}

// Output bytes per corpus byte, measured on 2,000 records of the synthetic
// corpus of srdpo bench --figure corpus-scale (prompt 30 words, responses
// 60): preference shards 1.004; scored shards 5.37 with the byte tokenizer
// (an int32 id a byte, for x, p⊕x and both responses, beside the text), the
// largest any tokenizer makes them — a BPE's ~4 bytes a token gives about
// half — so --shards auto errs towards smaller shards. Since scored rows
// carry the pair's text too (schema version 2) they hold about one more
// byte per corpus byte: 6.4 (estimated from the 5.37, not measured again).
const (
	IngestBytesPerCorpusByte = 1.0
	ScoreBytesPerCorpusByte  = 6.4
)

// ResolveShards turns --shards auto into a count: the corpus files' total
// size times outPerIn (the output's bytes per corpus byte), over ShardMB,
// rounded up; at least 1. Other counts are returned as they are.
func (c IngestConfig) ResolveShards(ctx context.Context, outPerIn float64) (shards int, corpusBytes int64, err error) {
	if c.Shards > 0 {
		return c.Shards, 0, nil
	}
	for _, pattern := range c.Corpus {
		fs, err := filesystem.New(ctx, pattern)
		if err != nil {
			return 0, 0, err
		}
		names, err := fs.List(ctx, pattern)
		if err != nil {
			fs.Close()
			return 0, 0, fmt.Errorf("--shards auto: listing %s: %w", pattern, err)
		}
		for _, name := range names {
			n, err := fs.Size(ctx, name)
			if err != nil {
				fs.Close()
				return 0, 0, fmt.Errorf("--shards auto: size of %s: %w", name, err)
			}
			corpusBytes += n
		}
		fs.Close()
	}
	target := float64(c.ShardMB) * (1 << 20)
	shards = int(math.Ceil(float64(corpusBytes) * outPerIn / target))
	return min(max(shards, 1), 99999), corpusBytes, nil
}

// ResolveCorpus turns dataset folders in --corpus into their data files
// (one config; a folder of several is refused with their names).
func (c *IngestConfig) ResolveCorpus(ctx context.Context) error {
	var out []string
	for _, p := range c.Corpus {
		files, err := stages.DatasetFiles(ctx, p, c.CorpusSplit)
		if err != nil {
			return fmt.Errorf("--corpus: %w", err)
		}
		out = append(out, files...)
	}
	c.Corpus = out
	return nil
}

// ResolveChatTemplate settles --chat-template auto against the model and
// tokenizer directories (stages.ResolveChatTemplate) and adds the template
// variables; it returns a line for the job's log.
func (c *IngestConfig) ResolveChatTemplate(ctx context.Context, modelDir, tokenizerSpec string) (string, error) {
	c.ChatTemplate.Kwargs = c.TemplateKwargs
	t, note, err := stages.ResolveChatTemplate(ctx, c.ChatTemplate, modelDir, tokenizerSpec)
	if err != nil {
		return "", err
	}
	c.ChatTemplate = t
	return note, nil
}

// Metadata is the provenance ingestion records on every file.
func (c IngestConfig) Metadata() schemas.Metadata {
	return schemas.NewMetadata().With(schemas.KeyChatTemplate, c.ChatTemplate.String())
}

// ReadCorpus adds the corpus reading of c to the pipeline; conversations'
// p⊕x are rendered as aug says (its Prompt "": none); extra options follow.
func (c IngestConfig) ReadCorpus(s beam.Scope, aug stages.Augmentation, extra ...stages.CorpusOption) (rows, dead beam.PCollection) {
	opts := append([]stages.CorpusOption{
		stages.WithCorpusFormat(c.CorpusFormat), stages.WithChatTemplate(c.ChatTemplate), stages.WithAugmentation(aug),
		stages.WithIDField(c.IDField), stages.WithOffsetField(c.OffsetField),
		stages.WithMaxRecordBytes(c.MaxRecordBytes), stages.WithSplitBytes(int64(c.SplitMB) << 20)}, extra...)
	return stages.ReadCorpusAll(s, beam.CreateList(s, c.Corpus), opts...)
}

// WriteDeadLetters writes dead letters as one JSONL file people can read.
func WriteDeadLetters(s beam.Scope, out string, md schemas.Metadata, dead beam.PCollection) beam.PCollection {
	return shardio.WriteShards(s.Scope("deadletters"), DeadLetterPrefix(out), schemas.DeadLetters, md, dead,
		shardio.WithShards(1), shardio.WithFormat(schemas.FormatJSONL))
}

// BuildIngest adds the ingestion job: corpus → normalised preference shards
// plus dead letters. It returns the two manifests' PCollections.
func BuildIngest(s beam.Scope, c IngestConfig) (manifest, deadManifest beam.PCollection) {
	s = s.Scope("ingest")
	rows, dead := c.ReadCorpus(s, stages.Augmentation{})
	md := c.Metadata()
	manifest = shardio.WriteShards(s, c.Out, schemas.Preferences, md, rows,
		shardio.WithShards(c.Shards), shardio.WithFormat(c.Format))
	return manifest, WriteDeadLetters(s, c.Out, md, dead)
}
