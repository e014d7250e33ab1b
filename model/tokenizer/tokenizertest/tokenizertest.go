// Package tokenizertest lays out the tokenizer files shipped in
// model/tokenizer/testdata as the folders a test loads, from any package.
package tokenizertest

import (
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Testdata is the folder of the shipped files.
func Testdata() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata")
}

// Dir writes the shipped tokenizer name ("qwen3", "mistral": tokenizer.json
// and tokenizer_config.json; "gpt2": vocab.json and merges.txt) into a new
// temporary folder, unzipped, and returns it.
func Dir(t testing.TB, name string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join(Testdata(), name)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b := Read(t, filepath.Join(src, e.Name()))
		if err := os.WriteFile(filepath.Join(dir, strings.TrimSuffix(e.Name(), ".gz")), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// Read returns a file's bytes, unzipped when its name ends in .gz.
func Read(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
