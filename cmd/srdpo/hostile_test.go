package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// hostileMaxRSS bounds the peak memory of srdpo on any file of the
// hostile corpus (all under 310 KB; the gzip bomb expands to 300 MiB,
// the headers and configs claim terabytes). A run on valid files of this
// size peaks near 120 MiB.
const hostileMaxRSS = 256 << 20

// Each file of testdata/hostile (written by testdata/hostile/make) is
// refused with a clear error naming the file and what is wrong — the run
// fails before writing anything, or the record becomes a dead letter and
// no row is scored — within a bounded time and peak memory, measured on
// the srdpo process itself.
func TestHostileInputs(t *testing.T) {
	bin := srdpoBinary(t)
	hostile, err := filepath.Abs(filepath.Join("testdata", "hostile"))
	if err != nil {
		t.Fatal(err)
	}
	tiny := saveTinyModel(t)
	good := filepath.Join(t.TempDir(), "good.jsonl")
	os.WriteFile(good, []byte(`{"id":"g1","prompt":"q","chosen":"yes","rejected":"no"}`+"\n"), 0o644)
	h := func(p string) string { return filepath.Join(hostile, p) }
	for _, c := range []struct {
		name string
		args []string
		// dead: the run succeeds with the record as a dead letter of this
		// reason; otherwise it fails.
		dead    string
		want    []string // in the error or the dead letter
		maxTime time.Duration
	}{
		{name: "header-2e62", args: []string{"score", "--model", h("header-2e62/model"), "--corpus", good},
			want: []string{"header-2e62/model/model.safetensors", "header of 4611686018427387904 bytes"}},
		{name: "offsets-past-end", args: []string{"score", "--model", h("offsets-past-end/model"), "--corpus", good},
			want: []string{"offsets-past-end/model/model.safetensors", "tensor wte.weight: offsets [0 1099511642080]"}},
		{name: "overlapping-tensors", args: []string{"score", "--model", h("overlapping-tensors/model"), "--corpus", good},
			want: []string{"overlapping-tensors/model/model.safetensors", "wpe.weight and wte.weight overlap"}},
		{name: "shape-overflow", args: []string{"score", "--model", h("shape-overflow/model"), "--corpus", good},
			want: []string{"shape-overflow/model/model.safetensors", "tensor wte.weight: shape [4294967296 4294967296 4]"}},
		{name: "billion-wide-config", args: []string{"score", "--model", h("billion-wide-config/model"), "--corpus", good},
			want: []string{"billion-wide-config/model", "has shape [", "000000000]"}},
		{name: "index-escape", args: []string{"score", "--model", h("index-escape/model"), "--corpus", good},
			want: []string{"index-escape/model/model.safetensors.index.json", `"../outside.safetensors", which is not a .safetensors file name of the model's directory`}},
		{name: "arrow-offsets", args: []string{"train", "--shards", h("arrow-offsets/*.arrow"), "--model", tiny, "--steps", "2"},
			want: []string{"arrow-offsets/scored-00000-of-00001.arrow", "string offsets out of bounds"}},
		{name: "manifest-escape", args: []string{"train", "--shards", h("manifest-escape/scored.manifest.json"), "--model", tiny, "--steps", "2"},
			want: []string{"manifest-escape/scored.manifest.json", `shard 0's name "../arrow-offsets/scored-00000-of-00001.arrow" is not a file name in the manifest's folder`}},
		{name: "deep-json", args: []string{"score", "--model", tiny, "--corpus", h("deep-json/corpus.jsonl")},
			dead: "malformed_json", want: []string{"deep-json/corpus.jsonl", "exceeded max depth"}},
		{name: "gzip-bomb", args: []string{"score", "--model", tiny, "--corpus", h("gzip-bomb/corpus.jsonl.gz")},
			dead: "unreadable_file", want: []string{"gzip-bomb/corpus.jsonl.gz", "expands past 268435456 bytes", "decompression bomb"}},
		{name: "regex-backtracking", args: []string{"score", "--model", h("regex-backtracking/model"), "--corpus", h("regex-backtracking/corpus.jsonl")},
			dead: "tokenize", want: []string{`regex \"(a+)+$\"`, "time budget"}, maxTime: 30 * time.Second},
		{name: "template-loop", args: []string{"score", "--model", h("template-loop/model"), "--corpus", h("template-loop/corpus.jsonl"), "--chat-template", "auto"},
			dead: "template_error", want: []string{"template-loop/model/tokenizer_config.json", "work budget"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			args := append(append([]string(nil), c.args...), "--out", filepath.Join(out, "x"))
			cmd := exec.Command(bin, args...)
			cmd.Env = append(os.Environ(), peakRSSEnv+"=1")
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err := cmd.Run()
			took := time.Since(start)
			if cmd.ProcessState == nil {
				t.Fatal(err)
			}
			var rss int64
			if _, after, ok := strings.Cut(stderr.String(), "peak_rss_kib "); !ok {
				t.Fatalf("srdpo did not report its peak memory:\n%s", stderr.String())
			} else if _, err := fmt.Sscan(after, &rss); err != nil {
				t.Fatal(err)
			}
			rss <<= 10
			t.Logf("%v, peak RSS %d MiB", took.Round(time.Millisecond), rss>>20)
			if maxTime := max(c.maxTime, 15*time.Second); took > maxTime {
				t.Errorf("took %v, more than %v", took, maxTime)
			}
			if rss > hostileMaxRSS {
				t.Errorf("peak RSS %d MiB, more than %d MiB", rss>>20, hostileMaxRSS>>20)
			}
			said := stderr.String()
			if c.dead == "" {
				if err == nil {
					t.Fatalf("srdpo %s succeeded:\n%s", c.args[0], said)
				}
				if left, _ := filepath.Glob(filepath.Join(out, "*")); len(left) > 0 {
					t.Errorf("the failed run left %v", left)
				}
			} else {
				if err != nil {
					t.Fatalf("srdpo %s: %v\n%s", c.args[0], err, said)
				}
				letters, _ := filepath.Glob(filepath.Join(out, "x.deadletters-*.jsonl"))
				if len(letters) != 1 {
					t.Fatalf("dead letters %v", letters)
				}
				b, _ := os.ReadFile(letters[0])
				said = string(b)
				if !strings.Contains(said, `"reason":"`+c.dead+`"`) {
					t.Errorf("dead letter %s, want the reason %s", said, c.dead)
				}
				if !strings.Contains(stdout.String(), "records_dead") && !strings.Contains(stdout.String(), "scoring_dead") {
					t.Errorf("no dead record counted:\n%s", stdout.String())
				}
				for _, line := range strings.Split(stdout.String(), "\n") {
					if f := strings.Fields(line); len(f) == 2 && strings.HasSuffix(f[0], "_rows_written") && f[0] != "dead_letter_rows_written" {
						t.Errorf("rows were scored: %s", line)
					}
				}
			}
			for _, w := range c.want {
				if !strings.Contains(said, w) {
					t.Errorf("the error does not say %q:\n%s", w, said)
				}
			}
		})
	}
}
