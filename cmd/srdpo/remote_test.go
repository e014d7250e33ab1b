package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/srdpo/srdpo/runners/gcstest"
	"github.com/srdpo/srdpo/runners/prismtest"
)

// The scoring job submitted to a standalone prism job server with a worker
// pool (--runner=universal --environment_type=EXTERNAL), with corpus, model
// and output on gs:// (a fake GCS), writes the same bytes as the
// in-process run.
func TestScoreOnRemoteRunner(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	gcstest.Start(t, "corpora") // the workers inherit STORAGE_EMULATOR_HOST
	fixtures, _ := filepath.Glob("../../stages/testdata/corpus/*")
	for _, f := range fixtures {
		upload(t, f, "gs://corpora/in")
	}
	upload(t, saveTinyLlamaHF(t), "gs://corpora/models/ref") // the remote path on a llama-layout Hugging Face directory
	srdpo := srdpoBinary(t)
	cluster := prismtest.Start(t, dir)

	local := filepath.Join(dir, "local", "prefs")
	if code, _, stderr := run("score", "--model", "gs://corpora/models/ref", "--corpus", "gs://corpora/in/*", "--out", local); code != 0 {
		t.Fatalf("in-process run: exit %d: %s", code, stderr)
	}
	args := append([]string{"score", "--model", "gs://corpora/models/ref", "--corpus", "gs://corpora/in/*", "--out", "gs://corpora/remote/prefs",
		"--worker_binary=" + srdpo}, cluster.Flags()...)
	runCtx, cancel := context.WithTimeout(ctx, 3*time.Minute) // a lost worker would hang the job
	defer cancel()
	cmd := exec.CommandContext(runCtx, srdpo, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("remote run: %v\n%s\n(job server and worker logs in %s)", err, out, dir)
	}

	names, _ := filepath.Glob(filepath.Join(dir, "local", "*"))
	if len(names) != 7 { // 4 shards, manifest, dead letters and their manifest
		t.Fatalf("in-process run wrote %v", names)
	}
	fs, _ := filesystem.New(ctx, "gs://corpora/")
	for _, name := range names {
		want, _ := os.ReadFile(name)
		got, err := filesystem.Read(ctx, fs, "gs://corpora/remote/"+filepath.Base(name))
		if err != nil {
			t.Errorf("remote run did not write %s: %v", filepath.Base(name), err)
			continue
		}
		if string(got) != string(want) {
			t.Errorf("%s differs between the remote and the in-process run", filepath.Base(name))
		}
	}
}

var (
	binaryOnce sync.Once
	binaryDir  string
	binaryPath string
)

// srdpoBinary builds the srdpo command once for the tests that run it as
// its own process.
func srdpoBinary(t *testing.T) string {
	binaryOnce.Do(func() {
		binaryDir, _ = os.MkdirTemp("", "srdpo-bin")
		binaryPath = prismtest.GoBuild(t, binaryDir, "srdpo", "github.com/srdpo/srdpo/cmd/srdpo")
	})
	if binaryPath == "" {
		t.Fatal("building srdpo failed in an earlier test")
	}
	return binaryPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binaryDir != "" {
		os.RemoveAll(binaryDir)
	}
	os.Exit(code)
}

// --runner=dataflow --dry_run translates the scoring job offline and says
// that nothing ran.
func TestScoreDataflowDryRun(t *testing.T) {
	cmd := exec.Command(srdpoBinary(t), "score", "--model", saveTinyModel(t), "--corpus", "gs://b/in/*.jsonl", "--out", "gs://b/out/prefs",
		"--runner=dataflow", "--dry_run", "--project=p", "--region=us-central1",
		"--staging_location=gs://b/staging", "--temp_location=gs://b/tmp", "--worker_binary="+srdpoBinary(t))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "dry run: the job was translated") {
		t.Errorf("stdout: %s", stdout.String())
	}
	for _, want := range []string{"Dry-run: not submitting job!", "gs://b/staging/", "stages.ReadCorpusAll", "stages.ScorePreferences"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the printed job lacks %q", want)
		}
	}
}

// --runner=direct (deprecated by Beam, still accepted) writes the same
// bytes as prism.
func TestScoreDirectRunnerSameBytes(t *testing.T) {
	ref := saveTinyModel(t)
	dir := t.TempDir()
	corpus := "../../stages/testdata/corpus/trl_standard.jsonl,../../stages/testdata/corpus/malformed.jsonl"
	for _, runner := range []string{"prism", "direct"} {
		cmd := exec.Command(srdpoBinary(t), "score", "--model", ref, "--corpus", corpus,
			"--out", filepath.Join(dir, runner, "scored"), "--runner="+runner)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", runner, err, out)
		}
	}
	names, _ := filepath.Glob(filepath.Join(dir, "prism", "*"))
	if len(names) != 7 {
		t.Fatalf("prism wrote %v", names)
	}
	for _, name := range names {
		a, _ := os.ReadFile(name)
		b, err := os.ReadFile(filepath.Join(dir, "direct", filepath.Base(name)))
		if err != nil || string(a) != string(b) {
			t.Errorf("%s differs between prism and direct (%v)", filepath.Base(name), err)
		}
	}
}

// srdpo bench measures each group in its own process, prints one JSON
// object per figure with its peak RSS, and writes them all to --out.
func TestBench(t *testing.T) {
	out := filepath.Join(t.TempDir(), "bench.json")
	cmd := exec.Command(srdpoBinary(t), "bench", "--figures", "backend,forward-64,train-step-64", "--runs", "2", "--out", out)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d lines:\n%s", len(lines), stdout.String())
	}
	for _, l := range lines {
		var f map[string]any
		if err := json.Unmarshal([]byte(l), &f); err != nil {
			t.Fatalf("not JSON: %q", l)
		}
		if rss, ok := f["peak_rss_mib"].(float64); !ok || rss <= 0 {
			t.Errorf("no peak RSS in %q", l)
		}
		if f["figure"] == "forward" && (f["runs"].(float64) != 2 || f["median"].(float64) <= 0 || f["min"].(float64) > f["max"].(float64)) {
			t.Errorf("bad figure %q", l)
		}
	}
	var all []map[string]any
	b, err := os.ReadFile(out)
	if err != nil || json.Unmarshal(b, &all) != nil || len(all) != 3 {
		t.Fatalf("bench.json: %v, %d figures", err, len(all))
	}
}
