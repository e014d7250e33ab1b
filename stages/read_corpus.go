package stages

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/fileio"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/srdpo/srdpo/schemas"
)

func init() {
	register.DoFn3x1[context.Context, fileio.ReadableFile, func(corpusChunk), error](&splitCorpusFn{})
	register.DoFn3x1[context.Context, corpusChunk, func(int, idBlock), error](&corpusIDsFn{})
	register.DoFn3x0[int, func(*idBlock) bool, func(duplicate)](&duplicatesFn{})
	register.DoFn5x1[context.Context, corpusChunk, func(*duplicate) bool, func(schemas.Preference), func(schemas.DeadLetter), error](&corpusRowsFn{})
	register.Emitter1[corpusChunk]()
	beam.RegisterType(reflectTypeOf[corpusChunk]())
	register.DoFn3x0[context.Context, beam.X, func(beam.X)](&countFn{})
	register.Emitter1[schemas.DeadLetter]()
	register.Emitter1[schemas.Preference]()
	register.Emitter2[int, idBlock]()
	register.Emitter1[duplicate]()
	register.Iter1[idBlock]()
	register.Iter1[duplicate]()
	beam.RegisterType(reflectTypeOf[place]())
	beam.RegisterType(reflectTypeOf[idBlock]())
	beam.RegisterType(reflectTypeOf[duplicate]())
}

type corpusOptions struct {
	parse          parseOptions
	maxRecordBytes int
	splitBytes     int64
}

// CorpusOption is a functional option of ReadCorpus.
type CorpusOption func(*corpusOptions)

// WithCorpusFormat forces every record to be read as format f (default:
// detected per record).
func WithCorpusFormat(f CorpusFormat) CorpusOption {
	return func(o *corpusOptions) { o.parse.Format = f }
}

// WithChatTemplate sets how message lists are rendered (default "hh").
func WithChatTemplate(t ChatTemplate) CorpusOption {
	return func(o *corpusOptions) { o.parse.Template = t }
}

// WithAugmentation sets how p enters conversations, whose p⊕x is rendered
// at ingestion with p in the messages (default: none rendered).
func WithAugmentation(a Augmentation) CorpusOption {
	return func(o *corpusOptions) { o.parse.Aug = a }
}

// WithIDField names the field holding a record's own id (default "id").
// Records without it get a hash of their normalised content.
func WithIDField(name string) CorpusOption {
	return func(o *corpusOptions) { o.parse.IDField = name }
}

// WithOffsetField names the numeric field read as the ODPO offset (default
// "offset"; "" reads none).
func WithOffsetField(name string) CorpusOption {
	return func(o *corpusOptions) { o.parse.OffsetField = name }
}

// WithGivenRef keeps the precomputed reference columns of a dataset TRL
// made (ref_*_logps and *_ids; given_ref.go), for scoring with
// --ref-from-corpus. Without it they are ignored.
func WithGivenRef() CorpusOption {
	return func(o *corpusOptions) { o.parse.GivenRef = true }
}

// WithSplitBytes sets the size above which an uncompressed JSON Lines
// file is read in chunks of about that size (default DefaultSplitBytes),
// so that several workers can read one big file.
func WithSplitBytes(n int64) CorpusOption {
	return func(o *corpusOptions) { o.splitBytes = max(n, 1) }
}

// WithMaxRecordBytes bounds one record (default 1 MiB); larger records go
// to the dead letters.
func WithMaxRecordBytes(n int) CorpusOption {
	return func(o *corpusOptions) { o.maxRecordBytes = n }
}

// DefaultMaxRecordBytes is the default record size limit.
const DefaultMaxRecordBytes = 1 << 20

// rawLimit bounds the raw text kept in a dead letter.
const rawLimit = 2048

// ReadCorpus reads a preference corpus from a file or glob (local or gs://;
// .jsonl, .json arrays or lines, .parquet; any of them .gz) and returns the
// normalised preference rows and the dead letters. Every record read ends
// in exactly one of the two, and the srdpo counters records_read,
// records_good and records_dead add up. A pattern that matches no file fails
// the pipeline.
func ReadCorpus(s beam.Scope, pattern string, opts ...CorpusOption) (rows, dead beam.PCollection) {
	s = s.Scope("stages.ReadCorpus")
	return ReadCorpusAll(s, beam.Create(s, pattern), opts...)
}

// ReadCorpusAll is ReadCorpus over a PCollection of patterns. Ids are
// unique across all of them: a second record with an id already seen is a
// dead letter (duplicate_id) naming where the first one is.
func ReadCorpusAll(s beam.Scope, patterns beam.PCollection, opts ...CorpusOption) (rows, dead beam.PCollection) {
	s = s.Scope("stages.ReadCorpusAll")
	o := corpusOptions{
		parse:          parseOptions{Format: FormatAuto, Template: builtinTemplates[DefaultChatTemplate], IDField: "id", OffsetField: "offset"},
		maxRecordBytes: DefaultMaxRecordBytes,
		splitBytes:     DefaultSplitBytes,
	}
	for _, opt := range opts {
		opt(&o)
	}
	files := beam.Reshuffle(s, fileio.ReadMatches(s, fileio.MatchAll(s, patterns, fileio.MatchEmptyDisallow())))
	files = beam.Reshuffle(s, beam.ParDo(s, &splitCorpusFn{MaxRecordBytes: o.maxRecordBytes, SplitBytes: o.splitBytes}, files))
	// The corpus is read twice so that rows never wait in a GroupByKey
	// (prism keeps a GroupByKey's elements in memory, all of them): first
	// for ids and where each record is — grouped into idBuckets buckets by
	// a hash of the id, not by id, as prism keeps state for every key —
	// to find the duplicates, then for the rows, which flow on while the
	// duplicates, a side input, are left out.
	ids := beam.ParDo(s, &corpusIDsFn{MaxRecordBytes: o.maxRecordBytes, Options: o.parse}, files)
	dups := beam.ParDo(s, &duplicatesFn{}, beam.GroupByKey(s, ids))
	good, dead := beam.ParDo2(s, &corpusRowsFn{MaxRecordBytes: o.maxRecordBytes, Options: o.parse}, files, beam.SideInput{Input: dups})
	rows = beam.ParDo(s, &countFn{Counter: CounterRecordsGood}, good)
	dead = beam.ParDo(s, &countFn{Counter: CounterRecordsDead}, dead)
	return rows, dead
}

// rawRecord is one record's bytes and where they were.
type rawRecord struct {
	Source string
	Line   int64 // 1-based, 0 when the file is not line-oriented
	Record int64 // 1-based ordinal in the file
	Offset int64 // byte offset in the decompressed file, -1 when unknown
	Data   []byte
	Over   bool // longer than the limit; Data holds its start
}

func (r rawRecord) dead(reason, detail string) schemas.DeadLetter {
	return schemas.DeadLetter{Source: r.Source, Line: r.Line, Record: r.Record, Offset: r.Offset,
		Reason: reason, Detail: detail, Raw: cutRaw(r.Data)}
}

// cutRaw keeps a readable start of a record for a dead letter.
func cutRaw(b []byte) string {
	if len(b) > rawLimit {
		b = b[:rawLimit]
		// Drop a rune the cut split in half.
		for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					b = b[:i]
				}
				break
			}
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// corpusRowsFn is the second pass: every record of a file becomes a row,
// or a dead letter — unreadable, unparsable, or a duplicate the first pass
// found.
type corpusRowsFn struct {
	MaxRecordBytes int
	Options        parseOptions

	read beam.Counter
}

func (fn *corpusRowsFn) Setup() {
	fn.read = beam.NewCounter(CounterNamespace, CounterRecordsRead)
}

func (fn *corpusRowsFn) ProcessElement(ctx context.Context, c corpusChunk, dups func(*duplicate) bool, emit func(schemas.Preference), dead func(schemas.DeadLetter)) error {
	f := c.File
	mine := map[place]duplicate{}
	var d duplicate
	for dups(&d) {
		if d.At.Source == f.Metadata.Path {
			mine[d.At] = d
		}
	}
	return readCorpusChunk(ctx, c, fn.MaxRecordBytes, func(r rawRecord) {
		fn.read.Inc(ctx, 1)
		if r.Over {
			dead(r.dead(ReasonTooLarge, fmt.Sprintf("record is over the limit of %d bytes", len(r.Data))))
			return
		}
		p, err := parseRecord(r.Data, fn.Options)
		if err != nil {
			dead(r.dead(err.reason, err.detail))
			return
		}
		if d, ok := mine[place{Source: r.Source, Line: r.Line, Record: r.Record}]; ok {
			dead(r.dead(ReasonDuplicateID, fmt.Sprintf("id %q is also record %d of %s", d.ID, d.First.Record, d.First.Source)))
			return
		}
		emit(p)
	}, func(offset int64, reason, detail string) {
		fn.read.Inc(ctx, 1)
		dead(schemas.DeadLetter{Source: f.Metadata.Path, Offset: offset, Reason: reason, Detail: detail})
	})
}

// countFn passes elements through, counting them.
type countFn struct {
	Counter string

	c beam.Counter
}

func (fn *countFn) Setup() { fn.c = beam.NewCounter(CounterNamespace, fn.Counter) }

func (fn *countFn) ProcessElement(ctx context.Context, x beam.X, emit func(beam.X)) {
	fn.c.Inc(ctx, 1)
	emit(x)
}
