// Package pipelines assembles stages into the jobs srdpo runs: ingestion,
// scoring, training and evaluation. Each job has a config struct, the flags
// that fill it (registered in one place), and a Build function that adds it
// to a Beam pipeline.
package pipelines

import (
	"flag"
	"fmt"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/srdpo/srdpo/runners"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
)

// IngestConfig is what ingestion needs: where the corpus is, how to read it
// and where the normalised rows and dead letters go.
type IngestConfig struct {
	Corpus         []string // files or globs, local or gs://
	Out            string   // output prefix
	Format         schemas.Format
	Shards         int
	CorpusFormat   stages.CorpusFormat
	ChatTemplate   stages.ChatTemplate
	IDField        string
	OffsetField    string
	MaxRecordBytes int
}

// DeadLetterPrefix is where a job's dead letters go, beside its output.
func DeadLetterPrefix(out string) string { return out + ".deadletters" }

// IngestFlags binds IngestConfig to command-line flags.
type IngestFlags struct {
	corpus         stringList
	out            string
	format         string
	shards         int
	corpusFormat   string
	chatTemplate   string
	idField        string
	offsetField    string
	maxRecordBytes int
}

// Register adds the ingestion flags to fs.
func (f *IngestFlags) Register(fs *flag.FlagSet) {
	fs.Var(&f.corpus, "corpus", "preference corpus: a file or glob, local or gs:// (.jsonl, .ndjson, .json, .parquet, each optionally .gz); repeat or comma-separate for several")
	fs.StringVar(&f.out, "out", "", "output prefix, local or gs://: shards are <out>-00000-of-0000N.<format>, with <out>.manifest.json and dead letters in <out>.deadletters-*.jsonl")
	fs.StringVar(&f.format, "format", "arrow", "shard format: arrow (Arrow IPC) or parquet")
	fs.IntVar(&f.shards, "shards", 4, "number of output shards; rows go to a shard by a hash of their id")
	fs.StringVar(&f.corpusFormat, "corpus-format", "auto", "record format: auto (detected per record), trl_standard, trl_conversational, hh_rlhf, sharegpt or ultrafeedback")
	fs.StringVar(&f.chatTemplate, "chat-template", stages.DefaultChatTemplate, "how message lists become prompt text: hh, chatml, plain, or a JSON file with system/user/assistant/generation/response formats using {content}")
	fs.StringVar(&f.idField, "id-field", "id", "record field holding a pair's own id; records without it get a hash of their content")
	fs.StringVar(&f.offsetField, "offset-field", "offset", "numeric record field read as the ODPO offset (empty: none)")
	fs.IntVar(&f.maxRecordBytes, "max-record-bytes", stages.DefaultMaxRecordBytes, "records larger than this go to the dead letters")
}

// Config checks the flags and returns the config.
func (f *IngestFlags) Config() (IngestConfig, error) {
	c := IngestConfig{Corpus: f.corpus, Out: f.out, Shards: f.shards, IDField: f.idField,
		OffsetField: f.offsetField, MaxRecordBytes: f.maxRecordBytes}
	if len(c.Corpus) == 0 {
		return c, fmt.Errorf("--corpus is required")
	}
	if c.Out == "" {
		return c, fmt.Errorf("--out is required")
	}
	for _, p := range append([]string{c.Out}, c.Corpus...) {
		if err := runners.CheckPath(p); err != nil {
			return c, err
		}
	}
	var err error
	if c.Format, err = schemas.ParseFormat(f.format); err != nil || c.Format == schemas.FormatJSONL {
		return c, fmt.Errorf("--format %q: want arrow or parquet", f.format)
	}
	if c.Shards < 1 || c.Shards > 99999 {
		return c, fmt.Errorf("--shards %d: want 1 to 99999", c.Shards)
	}
	if c.CorpusFormat, err = stages.ParseCorpusFormat(f.corpusFormat); err != nil {
		return c, fmt.Errorf("--corpus-format: %w", err)
	}
	if c.ChatTemplate, err = stages.ParseChatTemplate(f.chatTemplate); err != nil {
		return c, fmt.Errorf("--chat-template: %w", err)
	}
	if c.MaxRecordBytes < 1 {
		return c, fmt.Errorf("--max-record-bytes %d: want a positive size", c.MaxRecordBytes)
	}
	return c, nil
}

// DefaultIngestConfig is the ingestion of corpus into out with every other
// setting at its flag's default, for jobs that assemble ingestion
// themselves (run, bench): the defaults stay defined once, in Register.
func DefaultIngestConfig(out string, shards int, corpus ...string) (IngestConfig, error) {
	var f IngestFlags
	fs := flag.NewFlagSet("ingest", flag.ContinueOnError)
	f.Register(fs)
	args := []string{"--out", out, "--shards", fmt.Sprint(shards)}
	for _, c := range corpus {
		args = append(args, "--corpus", c)
	}
	if err := fs.Parse(args); err != nil {
		return IngestConfig{}, err
	}
	return f.Config()
}

// Metadata is the provenance ingestion records on every file.
func (c IngestConfig) Metadata() schemas.Metadata {
	return schemas.NewMetadata().With(schemas.KeyChatTemplate, c.ChatTemplate.String())
}

// ReadCorpus adds the corpus reading of c to the pipeline.
func (c IngestConfig) ReadCorpus(s beam.Scope) (rows, dead beam.PCollection) {
	return stages.ReadCorpusAll(s, beam.CreateList(s, c.Corpus),
		stages.WithCorpusFormat(c.CorpusFormat), stages.WithChatTemplate(c.ChatTemplate),
		stages.WithIDField(c.IDField), stages.WithOffsetField(c.OffsetField),
		stages.WithMaxRecordBytes(c.MaxRecordBytes))
}

// WriteDeadLetters writes dead letters as one JSONL file people can read.
func WriteDeadLetters(s beam.Scope, out string, md schemas.Metadata, dead beam.PCollection) beam.PCollection {
	return stages.WriteShards(s.Scope("deadletters"), DeadLetterPrefix(out), schemas.DeadLetters, md, dead,
		stages.WithShards(1), stages.WithFormat(schemas.FormatJSONL))
}

// BuildIngest adds the ingestion job: corpus → normalised preference shards
// plus dead letters. It returns the two manifests' PCollections.
func BuildIngest(s beam.Scope, c IngestConfig) (manifest, deadManifest beam.PCollection) {
	s = s.Scope("ingest")
	rows, dead := c.ReadCorpus(s)
	md := c.Metadata()
	manifest = stages.WriteShards(s, c.Out, schemas.Preferences, md, rows,
		stages.WithShards(c.Shards), stages.WithFormat(c.Format))
	return manifest, WriteDeadLetters(s, c.Out, md, dead)
}

// stringList is a repeatable, comma-separable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}
