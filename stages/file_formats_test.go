package stages

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// A benchmark folder as Hugging Face lays one out: its documents in
// Parquet and JSON Lines (one gzipped, one upper case), beside metadata
// (dataset_info.json, README.md) that must not be read as documents.
func TestBenchmarkFolderListsDocumentsOnly(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"dataset_info.json", "README.md", "data/test-00000-of-00001.parquet",
		"data/extra.jsonl.gz", "data/MORE.NDJSON", "data/notes.txt", "state.json"} {
		p := filepath.Join(dir, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	files, isFile, err := folderFiles(context.Background(), dir)
	if err != nil || isFile {
		t.Fatal(err, isFile)
	}
	var got []string
	for _, f := range files {
		got = append(got, strings.TrimPrefix(f, filepath.ToSlash(dir)+"/"))
	}
	want := []string{"data/MORE.NDJSON", "data/extra.jsonl.gz", "data/test-00000-of-00001.parquet"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("documents %q, want %q", got, want)
	}
}

// The message for a file srdpo cannot read names every extension it can.
func TestFileExtensionsMessage(t *testing.T) {
	if got, want := fileExtensions(), ".jsonl, .ndjson, .json or .parquet"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	for name, want := range map[string]string{"a.JSONL.GZ": "jsonl", "b.json": "json", "c.parquet.gz": "parquet", "d.txt": "", "e.gz": ""} {
		f, _, ok := fileFormatOf(name)
		if f.name != want || ok != (want != "") {
			t.Errorf("%s: format %q (%v), want %q", name, f.name, ok, want)
		}
	}
}
