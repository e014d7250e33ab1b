package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/srdpo/srdpo/runners/gcstest"
	"github.com/srdpo/srdpo/runners/prismtest"
)

// The ingestion job submitted to a standalone prism job server with a
// worker pool (--runner=universal --environment_type=EXTERNAL), reading and
// writing gs:// on a fake GCS, writes the same bytes as the in-process run.
func TestScoreIngestOnRemoteRunner(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	gcstest.Start(t, "corpora") // the workers inherit STORAGE_EMULATOR_HOST
	fixtures, _ := filepath.Glob("../../stages/testdata/corpus/*")
	for _, f := range fixtures {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fs, _ := filesystem.New(ctx, "gs://corpora/")
		if err := filesystem.Write(ctx, fs, "gs://corpora/in/"+filepath.Base(f), b); err != nil {
			t.Fatal(err)
		}
	}
	srdpo := prismtest.GoBuild(t, dir, "srdpo", "github.com/srdpo/srdpo/cmd/srdpo")
	cluster := prismtest.Start(t, dir)

	local := filepath.Join(dir, "local", "prefs")
	if code, _, stderr := run("score", "--ingest-only", "--corpus", "gs://corpora/in/*", "--out", local); code != 0 {
		t.Fatalf("in-process run: exit %d: %s", code, stderr)
	}
	args := append([]string{"score", "--ingest-only", "--corpus", "gs://corpora/in/*", "--out", "gs://corpora/remote/prefs",
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
