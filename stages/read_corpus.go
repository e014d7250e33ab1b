package stages

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
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

// corpusChunk is a part of a corpus file read as one element: the whole
// file, or a range of lines of a large JSON Lines file (splitCorpusFn),
// so that a runner can read one big file on several workers.
type corpusChunk struct {
	File  fileio.ReadableFile
	Range lineRange
}

// wholeFile is the chunk of all of a file.
func wholeFile(f fileio.ReadableFile) corpusChunk {
	return corpusChunk{File: f, Range: lineRange{End: -1}}
}

// readCorpusChunk emits each record of a chunk of a corpus file, or calls
// fileDead for a file that cannot be read as a corpus (its extension, or
// content that breaks part-way: the records before were emitted). An I/O
// error is returned, for the runner to retry.
func readCorpusChunk(ctx context.Context, c corpusChunk, maxRecordBytes int, emit func(rawRecord), fileDead func(offset int64, reason, detail string)) error {
	f := c.File
	name := f.Metadata.Path
	kind := strings.ToLower(path.Ext(strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".GZ")))
	if kind != ".jsonl" && kind != ".ndjson" && kind != ".json" && kind != ".parquet" {
		fileDead(0, ReasonUnsupportedFile, fmt.Sprintf("extension %q: want .jsonl, .ndjson, .json or .parquet, optionally .gz", kind))
		return nil
	}
	rc, err := f.Open(ctx)
	if err != nil {
		if err = classify(0, err); errors.As(err, new(*positionedError)) {
			fileDead(0, ReasonUnreadableFile, err.Error())
			return nil
		}
		return fmt.Errorf("opening %s: %w", name, err) // I/O: the runner retries
	}
	defer rc.Close()
	var in io.Reader = rc
	if isGzip(name) {
		in = limitExpansion(rc, f.Metadata.Size, GzipMaxRatio, GzipMinLimit)
	}
	out := func(r rawRecord) {
		r.Source = name
		emit(r)
	}
	switch {
	case kind == ".parquet":
		err = readParquetRecords(in, out) // not through a bufio.Reader: a local file is read in place
	case c.Range.Start > 0: // a later range of a JSON Lines file
		if err = skipTo(in, c.Range.Start); err == nil {
			err = readLineRange(bufio.NewReaderSize(in, corpusChunkBytes), c.Range, maxRecordBytes, out)
		}
	default:
		br := bufio.NewReaderSize(in, corpusChunkBytes)
		r := c.Range
		r.Start = skipBOM(br)
		if kind == ".json" && firstByte(br) == '[' {
			err = readJSONArray(br, r.Start, maxRecordBytes, out)
		} else {
			err = readLineRange(br, r, maxRecordBytes, out)
		}
	}
	var pe *positionedError
	switch {
	case err == nil:
	case errors.As(err, &pe):
		fileDead(pe.offset, ReasonUnreadableFile, err.Error())
	default:
		return fmt.Errorf("reading %s: %w", name, err) // I/O: the runner retries
	}
	return nil
}

// skipTo moves a reader to an offset: a seek where it can, else by reading.
func skipTo(r io.Reader, offset int64) error {
	if s, ok := r.(io.Seeker); ok {
		_, err := s.Seek(offset, io.SeekStart)
		return err
	}
	_, err := io.CopyN(io.Discard, r, offset)
	return classify(offset, err)
}

// DefaultSplitBytes is the size above which an uncompressed JSON Lines
// file is read as several chunks of about this size.
const DefaultSplitBytes = 64 << 20

// splitCorpusFn cuts each large uncompressed JSON Lines file into chunks of
// about SplitBytes that start at a record, with the lines and records
// before each, by a pass that finds the records without parsing them;
// any other file is one chunk.
type splitCorpusFn struct {
	MaxRecordBytes int
	SplitBytes     int64
}

func (fn *splitCorpusFn) ProcessElement(ctx context.Context, f fileio.ReadableFile, emit func(corpusChunk)) error {
	name := strings.ToLower(f.Metadata.Path)
	if !(strings.HasSuffix(name, ".jsonl") || strings.HasSuffix(name, ".ndjson")) || f.Metadata.Size <= fn.SplitBytes {
		emit(wholeFile(f))
		return nil
	}
	rc, err := f.Open(ctx)
	if err != nil {
		return fmt.Errorf("opening %s: %w", f.Metadata.Path, err)
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, corpusChunkBytes)
	cur := lineRange{Start: skipBOM(br)}
	err = readLines(br, cur.Start, fn.MaxRecordBytes, func(r rawRecord) {
		if r.Offset-cur.Start >= fn.SplitBytes {
			cur.End = r.Offset
			emit(corpusChunk{File: f, Range: cur})
			cur = lineRange{Start: r.Offset, Line: r.Line - 1, Record: r.Record - 1}
		}
	})
	if err != nil {
		return fmt.Errorf("reading %s: %w", f.Metadata.Path, err)
	}
	cur.End = -1
	emit(corpusChunk{File: f, Range: cur})
	return nil
}

// corpusChunkBytes is how much of a JSON or JSONL file is read at a
// time: records are emitted as they are read, so a file of any size takes
// this much memory and one record (at most maxRecordBytes).
const corpusChunkBytes = 64 << 10

// positionedError is a fault in a file's content part-way through it: a
// dead letter, since rereading will not help. The records before it have
// been emitted.
type positionedError struct {
	offset int64
	err    error
}

func (e *positionedError) Error() string {
	return fmt.Sprintf("at byte %d: %v; the records before it were read", e.offset, e.err)
}

func (e *positionedError) Unwrap() error { return e.err }

// classify tells a fault of the content (corrupt compression, broken JSON)
// from an I/O failure, which is returned as it is so the bundle is retried.
func classify(offset int64, err error) error {
	var syntax *json.SyntaxError
	var corrupt flate.CorruptInputError
	if errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, io.EOF) || errors.As(err, &syntax) || errors.As(err, &corrupt) {
		return &positionedError{offset: offset, err: err}
	}
	return err
}

// skipBOM drops a UTF-8 byte-order mark and returns how many bytes it had.
func skipBOM(br *bufio.Reader) int64 {
	if b, err := br.Peek(3); err == nil && string(b) == "\xEF\xBB\xBF" {
		br.Discard(3)
		return 3
	}
	return 0
}

// firstByte peeks at the first byte that is not white space.
func firstByte(br *bufio.Reader) byte {
	for i := 1; i <= 4096; i++ {
		b, err := br.Peek(i)
		if err != nil {
			return 0
		}
		if c := b[i-1]; c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return c
		}
	}
	return 0
}

// readLines emits each non-blank line; lines over max keep their first max
// bytes and are flagged, without holding the rest in memory. base is the
// file offset the reader starts at.
func readLines(br *bufio.Reader, base int64, max int, emit func(rawRecord)) error {
	return readLineRange(br, lineRange{Start: base, End: -1}, max, emit)
}

// lineRange is where a reader of lines starts — the offset, and the lines
// and records before it — and the offset it stops at: a record that
// starts at or after End (≥ 0) belongs to the next range.
type lineRange struct {
	Start, End   int64
	Line, Record int64
}

// readLineRange is readLines over a range: br is positioned at r.Start.
func readLineRange(br *bufio.Reader, r lineRange, max int, emit func(rawRecord)) error {
	offset, line, record := r.Start, r.Line, r.Record
	for {
		start := offset
		if r.End >= 0 && start >= r.End {
			return nil
		}
		var buf []byte
		over := false
		for {
			chunk, err := br.ReadSlice('\n')
			offset += int64(len(chunk))
			if room := max + 1 - len(buf); room > 0 {
				buf = append(buf, chunk[:min(len(chunk), room)]...)
			}
			if err == bufio.ErrBufferFull {
				continue
			}
			if err != nil && err != io.EOF {
				return classify(start, err)
			}
			if len(chunk) == 0 && err == io.EOF && len(buf) == 0 {
				return nil
			}
			break
		}
		line++
		buf = bytes.TrimRight(buf, "\r\n")
		if len(buf) > max {
			buf, over = buf[:max], true
		}
		if len(bytes.TrimSpace(buf)) == 0 && !over {
			continue // a blank line is not a record
		}
		record++
		emit(rawRecord{Line: line, Record: record, Offset: start, Data: buf, Over: over})
	}
}

// readJSONArray emits each element of a top-level JSON array.
func readJSONArray(br *bufio.Reader, base int64, max int, emit func(rawRecord)) error {
	dec := json.NewDecoder(br)
	if _, err := dec.Token(); err != nil { // the '['
		return classify(base+dec.InputOffset(), err)
	}
	var record int64
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return classify(base+dec.InputOffset(), fmt.Errorf("malformed JSON in array element %d: %w", record+1, err))
		}
		record++
		off := base + dec.InputOffset() - int64(len(raw))
		if len(raw) > max {
			emit(rawRecord{Record: record, Offset: off, Data: raw[:max], Over: true})
			continue
		}
		emit(rawRecord{Record: record, Offset: off, Data: raw})
	}
	if _, err := dec.Token(); err != nil { // the ']'
		return classify(base+dec.InputOffset(), err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return &positionedError{offset: base + dec.InputOffset(), err: fmt.Errorf("content after the closing ]")}
	}
	return nil
}

// readParquetRecords emits each Parquet row as a JSON object, so all
// formats go through one parser. Parquet needs random access: a local,
// uncompressed file is read in place; any other stream (gs://, gzip) is
// first copied to a temporary file, never held in memory.
func readParquetRecords(r io.Reader, emit func(rawRecord)) error {
	if f, ok := r.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			return readParquetAt(f, st.Size(), emit)
		}
	}
	tmp, err := os.CreateTemp("", "srdpo-parquet-*")
	if err != nil {
		return err
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
	n, err := io.Copy(tmp, r)
	if err != nil {
		if _, local := err.(*fs.PathError); local {
			return fmt.Errorf("buffering a Parquet file in %s: %w", os.TempDir(), err)
		}
		return classify(0, err)
	}
	return readParquetAt(tmp, n, emit)
}

// readParquetAt emits the rows of a Parquet file of size bytes, a record
// batch of parquetBatchRows at a time: memory holds one batch (and its
// row group's pages), whatever the file's size.
func readParquetAt(ra io.ReaderAt, size int64, emit func(rawRecord)) (err error) {
	// Every failure here, a recovered panic included, is the file's
	// content: a positioned error (of the whole file).
	defer func() {
		if err != nil {
			err = &positionedError{offset: -1, err: err}
		}
	}()
	defer schemas.RecoverMalformed(&err, "not a readable Parquet file")
	pf, mem, err := schemas.OpenParquet(io.NewSectionReader(ra, 0, size), size)
	if err != nil {
		return fmt.Errorf("not a readable Parquet file: %w", err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: parquetBatchRows}, mem)
	if err != nil {
		return err
	}
	rr, err := fr.GetRecordReader(context.Background(), nil, nil)
	if err != nil {
		return err
	}
	defer rr.Release()
	var record int64
	for rr.Next() {
		var buf bytes.Buffer
		if err := array.RecordToJSON(rr.RecordBatch(), &buf); err != nil {
			return fmt.Errorf("row %d: %w", record+1, err)
		}
		for _, l := range bytes.Split(bytes.TrimRight(buf.Bytes(), "\n"), []byte("\n")) {
			record++
			emit(rawRecord{Record: record, Offset: -1, Data: append([]byte(nil), l...)})
		}
	}
	if err := rr.Err(); err != nil && err != io.EOF {
		return fmt.Errorf("after row %d: %w", record, err)
	}
	return nil
}

// parquetBatchRows is the rows of a Parquet file decoded at a time.
const parquetBatchRows = 1024

// place is where a record is: what the first pass keeps of it.
type place struct {
	Source string
	Line   int64
	Record int64
}

// before orders places by file, then position: the first of an id wins.
func (p place) before(q place) bool {
	if p.Source != q.Source {
		return p.Source < q.Source
	}
	return p.Record < q.Record
}

// idPlace is a record's id and place.
type idPlace struct {
	ID string
	At place
}

// idBlock is the ids and places of records of one file whose ids hash to
// one bucket: what the first pass sends through its GroupByKey, so that a
// runner's per-element cost (about half a kilobyte on prism) is paid per
// block of ids, not per record.
type idBlock struct {
	Source         string
	IDs            []string
	Lines, Records []int64
}

func (b *idBlock) add(id string, at place) {
	b.IDs, b.Lines, b.Records = append(b.IDs, id), append(b.Lines, at.Line), append(b.Records, at.Record)
}

// idBuckets is how many keys the ids are grouped under.
const idBuckets = 1024

// idBlockRecords bounds the ids the first pass holds before it emits its
// blocks, so that its memory does not grow with a file.
const idBlockRecords = 1 << 16

// duplicate is a record whose id an earlier record has.
type duplicate struct {
	ID    string
	At    place
	First place
}

// corpusIDsFn is the first pass: each good record's id and place.
type corpusIDsFn struct {
	MaxRecordBytes int
	Options        parseOptions
}

func (fn *corpusIDsFn) ProcessElement(ctx context.Context, f corpusChunk, emit func(int, idBlock)) error {
	blocks := map[int]*idBlock{}
	held := 0
	flush := func() {
		for _, k := range slices.Sorted(maps.Keys(blocks)) {
			emit(k, *blocks[k])
		}
		clear(blocks)
		held = 0
	}
	err := readCorpusChunk(ctx, f, fn.MaxRecordBytes, func(r rawRecord) {
		if r.Over {
			return
		}
		p, err := parseRecord(r.Data, fn.Options)
		if err != nil {
			return
		}
		k := shardOf(p.ID, idBuckets)
		if blocks[k] == nil {
			blocks[k] = &idBlock{Source: r.Source}
		}
		blocks[k].add(p.ID, place{Source: r.Source, Line: r.Line, Record: r.Record})
		if held++; held == idBlockRecords {
			flush()
		}
	}, func(int64, string, string) {})
	if err != nil {
		return err
	}
	flush()
	return nil
}

// duplicatesFn names, in a bucket of ids, every record of an id but the
// first (by file, then position).
type duplicatesFn struct{}

func (fn *duplicatesFn) ProcessElement(_ int, iter func(*idBlock) bool, emit func(duplicate)) {
	var all []idPlace
	var b idBlock
	for iter(&b) {
		for i, id := range b.IDs {
			all = append(all, idPlace{ID: id, At: place{Source: b.Source, Line: b.Lines[i], Record: b.Records[i]}})
		}
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].ID != all[j].ID {
			return all[i].ID < all[j].ID
		}
		return all[i].At.before(all[j].At)
	})
	first := 0 // the first record of the current id
	for i := 1; i < len(all); i++ {
		if all[i].ID != all[first].ID {
			first = i
			continue
		}
		emit(duplicate{ID: all[i].ID, At: all[i].At, First: all[first].At})
	}
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
