package stages

import (
	"bufio"
	"io"
	"path"
	"strings"
)

// fileFormat is one kind of file srdpo reads records from (corpora and
// benchmark documents), known by its extension, with or without .gz.
// Adding a kind is one row of fileFormats.
type fileFormat struct {
	name string
	exts []string // lower case, with the dot
	// splittable files are read as several chunks that each start at a
	// record (uncompressed JSON Lines: splitCorpusFn).
	splittable bool
	// metadata files are not read as documents where a folder is listed
	// (a dataset's dataset_info.json beside its data files).
	metadata bool
	// read emits the records of a file's bytes, or of the chunk r of them,
	// each record no longer than max bytes (a longer one is emitted Over).
	read func(in io.Reader, r lineRange, max int, emit func(rawRecord)) error
}

var fileFormats = []fileFormat{
	{name: "jsonl", exts: []string{".jsonl", ".ndjson"}, splittable: true, read: readJSONLinesFile},
	{name: "json", exts: []string{".json"}, metadata: true, read: readJSONFile},
	{name: "parquet", exts: []string{".parquet"}, read: readParquetFile},
}

// fileFormatOf is the format of a file by its name's extension (ignoring
// case and a final .gz), and the extension it found.
func fileFormatOf(name string) (fileFormat, string, bool) {
	ext := strings.ToLower(path.Ext(strings.TrimSuffix(strings.ToLower(name), ".gz")))
	for _, f := range fileFormats {
		for _, e := range f.exts {
			if e == ext {
				return f, ext, true
			}
		}
	}
	return fileFormat{}, ext, false
}

// fileExtensions lists the extensions srdpo reads, for messages:
// ".jsonl, .ndjson, .json or .parquet".
func fileExtensions() string {
	var all []string
	for _, f := range fileFormats {
		all = append(all, f.exts...)
	}
	return strings.Join(all[:len(all)-1], ", ") + " or " + all[len(all)-1]
}

// readJSONLinesFile reads JSON Lines: a chunk after the first starts at a
// record (a seek where the file allows one); the first skips a BOM.
func readJSONLinesFile(in io.Reader, r lineRange, max int, emit func(rawRecord)) error {
	if r.Start > 0 {
		if err := skipTo(in, r.Start); err != nil {
			return err
		}
		return readLineRange(bufio.NewReaderSize(in, corpusChunkBytes), r, max, emit)
	}
	br := bufio.NewReaderSize(in, corpusChunkBytes)
	r.Start = skipBOM(br)
	return readLineRange(br, r, max, emit)
}

// readJSONFile reads a .json file: one array of records, or JSON Lines.
func readJSONFile(in io.Reader, r lineRange, max int, emit func(rawRecord)) error {
	br := bufio.NewReaderSize(in, corpusChunkBytes)
	r.Start = skipBOM(br)
	if firstByte(br) == '[' {
		return readJSONArray(br, r.Start, max, emit)
	}
	return readLineRange(br, r, max, emit)
}

// readParquetFile reads a Parquet file's rows as JSON records. It is given
// the file itself, not a bufio.Reader: a local file is read in place.
func readParquetFile(in io.Reader, _ lineRange, _ int, emit func(rawRecord)) error {
	return readParquetRecords(in, emit)
}
