package stages

import (
	"bufio"
	"compress/flate"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/fileio"
)

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
	format, ext, ok := fileFormatOf(name)
	if !ok {
		fileDead(0, ReasonUnsupportedFile, fmt.Sprintf("extension %q: want %s, optionally .gz", ext, fileExtensions()))
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
	err = format.read(in, c.Range, maxRecordBytes, out)
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
	format, _, ok := fileFormatOf(f.Metadata.Path)
	if !ok || !format.splittable || isGzip(f.Metadata.Path) || f.Metadata.Size <= fn.SplitBytes {
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
