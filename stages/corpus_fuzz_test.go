package stages

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzCorpusRecord: any record is a valid preference row or a dead letter
// with a reason — never a panic, never a row that fails validation (deep
// nesting, invalid UTF-8, surrogates, wrong types, huge numbers, given
// reference columns).
func FuzzCorpusRecord(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*.jsonl"))
	files = append(files, filepath.Join("testdata", "trl", "records.jsonl"))
	for _, p := range files {
		fh, err := os.Open(p)
		if err != nil {
			f.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(nil, 1<<20)
		for n := 0; sc.Scan() && n < 40; n++ {
			f.Add(append([]byte(nil), sc.Bytes()...), true)
		}
		fh.Close()
	}
	f.Add([]byte(`{"prompt":"q","chosen":" a","rejected":" b","ref_chosen_logps":-1,"ref_rejected_logps":-2,"prompt_ids":[1],"chosen_ids":[2],"rejected_ids":[3]}`), true)
	f.Add([]byte(`{"prompt":"q","chosen":" a","rejected":"\ud800"}`), false)
	deep := make([]byte, 0, 20002)
	for i := 0; i < 10000; i++ {
		deep = append(deep, '[')
	}
	f.Add(append([]byte(`{"chosen":`), deep...), false)
	f.Fuzz(func(t *testing.T, raw []byte, given bool) {
		o := parseOptions{Format: FormatAuto, Template: builtinTemplates[DefaultChatTemplate], IDField: "id", OffsetField: "offset", GivenRef: given}
		p, err := parseRecord(raw, o)
		if err != nil {
			if err.reason == "" {
				t.Errorf("a dead letter without a reason: %v", err)
			}
			return
		}
		if verr := p.Validate(); verr != nil {
			t.Errorf("a row that does not validate: %v\n%q", verr, raw)
		}
	})
}

// FuzzCorpusParquet: any bytes read as a Parquet corpus give records or
// an error on the file, never a panic (arrow-go's reader trusts the
// file's Thrift metadata; a panic there is an error naming the file).
func FuzzCorpusParquet(f *testing.F) {
	path := filepath.Join(f.TempDir(), "uf.parquet")
	writeUltraFeedbackParquet(f, path)
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("PAR1 this is not parquet PAR1"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var n int
		err := readParquetAt(bytes.NewReader(data), int64(len(data)), func(rawRecord) { n++ })
		if err != nil && !errors.As(err, new(*positionedError)) {
			t.Errorf("an error not on the file: %v", err)
		}
	})
}
