package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/srdpo/srdpo/model/tokenizer/tokenizertest"
	"github.com/srdpo/srdpo/runners/gcstest"
)

var tokTestdata = tokenizertest.Testdata() + "/"

// tokenizerDir lays out a shipped tokenizer as a bare folder: only
// tokenizer.json and tokenizer_config.json.
func tokenizerDir(t *testing.T, name string) string { return tokenizertest.Dir(t, name) }

// hfExpected reads the ids HF's library gives for the shipped test strings.
func hfExpected(t *testing.T, name string) (strs []string, ids, special [][]int32, decoded []string) {
	t.Helper()
	raw, err := os.ReadFile(tokTestdata + "strings.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var s string
		json.Unmarshal([]byte(l), &s)
		strs = append(strs, s)
	}
	b := tokenizertest.Read(t, tokTestdata+"expected.jsonl.gz")
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var e struct {
			Tokenizer string
			IDs       [][]int32
			Special   [][]int32
			Decoded   []string
		}
		json.Unmarshal([]byte(l), &e)
		if e.Tokenizer == name {
			return strs, e.IDs, e.Special, e.Decoded
		}
	}
	t.Fatalf("no expectations for %s", name)
	return
}

// The command prints HF's ids for every test string, one JSON array a
// line, with and without special tokens, and decodes them back.
func TestTokenizeCommand(t *testing.T) {
	for _, name := range []string{"qwen3", "mistral"} {
		dir := tokenizerDir(t, name)
		strs, ids, special, decoded := hfExpected(t, name)
		var in bytes.Buffer
		for _, s := range strs {
			b, _ := json.Marshal(s)
			in.Write(append(b, '\n'))
		}
		for _, withSpecial := range []bool{false, true} {
			args := []string{"--tokenizer", dir}
			want := ids
			if withSpecial {
				args, want = append(args, "--special"), special
			}
			var out, errOut bytes.Buffer
			if err := tokenize(args, bytes.NewReader(in.Bytes()), &out, &errOut); err != nil {
				t.Fatalf("%s: %v (%s)", name, err, errOut.String())
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) != len(strs) {
				t.Fatalf("%s: %d lines for %d strings", name, len(lines), len(strs))
			}
			for i, l := range lines {
				var got []int32
				if err := json.Unmarshal([]byte(l), &got); err != nil {
					t.Fatalf("%s line %d: %q: %v", name, i+1, l, err)
				}
				if !equalIDs(got, want[i]) {
					t.Errorf("%s special=%v: %q → %v, HF gives %v", name, withSpecial, strs[i], got, want[i])
				}
			}
		}
		var ins bytes.Buffer
		for _, x := range ids {
			b, _ := json.Marshal(x)
			ins.Write(append(b, '\n'))
		}
		var out bytes.Buffer
		if err := tokenize([]string{"--tokenizer", dir, "--decode"}, &ins, &out, io.Discard); err != nil {
			t.Fatal(err)
		}
		for i, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
			var got string
			json.Unmarshal([]byte(l), &got)
			if got != decoded[i] {
				t.Errorf("%s: decode %v = %q, HF gives %q", name, ids[i], got, decoded[i])
			}
		}
	}
}

func equalIDs(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestTokenizeRefusesWhatItWouldChange(t *testing.T) {
	for in, want := range map[string]string{
		`"a\ud800"` + "\n":          "line 1: unpaired surrogate",
		`"ok"` + "\n" + `"\udc00x"`: "line 2: unpaired surrogate",
		"\"bad \xff byte\"\n":       "not valid UTF-8",
		"not json\n":                "want a JSON string",
	} {
		err := tokenize([]string{"--tokenizer", "byte"}, strings.NewReader(in), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: got %v, want %q", in, err, want)
		}
	}
	// A surrogate pair is one character, kept.
	var out bytes.Buffer
	if err := tokenize([]string{"--tokenizer", "byte"}, strings.NewReader(`"\ud83d\ude00"`+"\n"), &out, io.Discard); err != nil || out.String() != "[240,159,152,128]\n" {
		t.Errorf("got %q, %v", out.String(), err)
	}
	if err := tokenize(nil, strings.NewReader(""), io.Discard, io.Discard); err == nil {
		t.Error("no --tokenizer accepted")
	}
}

// A tokenizer folder on gs:// (a fake GCS) loads as a local one does.
func TestTokenizeFromGCS(t *testing.T) {
	gcstest.Start(t, "models")
	dir := tokenizerDir(t, "mistral")
	ctx := context.Background()
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		fs, err := filesystem.New(ctx, "gs://models/m/"+f)
		if err != nil {
			t.Fatal(err)
		}
		w, err := fs.OpenWrite(ctx, "gs://models/m/"+f)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	if err := tokenize([]string{"--tokenizer", "gs://models/m", "--special"}, strings.NewReader(`"Hello world"`+"\n"), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if out.String() != "[1,22557,1526]\n" { // HF's ids (see the command test's expectations)
		t.Errorf("got %q", out.String())
	}
}
