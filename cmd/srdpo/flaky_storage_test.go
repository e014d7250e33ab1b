package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"

	"github.com/srdpo/srdpo/runners/gcstest"
	"github.com/srdpo/srdpo/schemas"
)

// upload copies local files (a file or a directory's tree) to remote, a
// gs:// folder.
func upload(t *testing.T, local, remote string) {
	t.Helper()
	ctx := context.Background()
	fs, err := filesystem.New(ctx, remote)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	err = filepath.WalkDir(local, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(filepath.Dir(local), p)
		if info, _ := os.Stat(local); info.IsDir() {
			rel, _ = filepath.Rel(local, p)
		}
		return filesystem.Write(ctx, fs, strings.TrimSuffix(remote, "/")+"/"+filepath.ToSlash(rel), b)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Scoring from and to gs:// and training from gs://, through a proxy that
// fails a fifth of the requests (503s, resets before and after the server
// acts, cut downloads): every run completes, and its output is byte for
// byte that of a fault-free run. A permanent 403 or 404 fails the run with
// a message naming the object.
func TestFlakyStorage(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	proxy := gcstest.StartFlaky(t, 7, "corpora")
	for _, f := range []string{"trl_standard.jsonl", "ultrafeedback.jsonl", "hh_rlhf.jsonl"} {
		upload(t, "../../stages/testdata/corpus/"+f, "gs://corpora/in")
	}
	ref := saveTinyLlamaHF(t)
	upload(t, ref, "gs://corpora/models/ref")
	upload(t, ref, "gs://corpora/models/denied") // a path no earlier run has loaded and cached
	scoreWith := func(model, out string) (int, string) {
		code, _, stderr := run("score", "--model", model, "--corpus", "gs://corpora/in/*", "--out", out, "--shards", "8")
		return code, stderr
	}
	score := func(out string) (int, string) { return scoreWith("gs://corpora/models/ref", out) }
	local := filepath.Join(dir, "clean", "scored")
	if code, stderr := score(local); code != 0 {
		t.Fatalf("fault-free run: exit %d: %s", code, stderr)
	}

	proxy.SetRate(0.2)
	// Twice into the same prefix: the rerun replaces the set (removing the
	// earlier manifest and renaming over the earlier shards) under faults too.
	for run := 1; run <= 2; run++ {
		if code, stderr := score("gs://corpora/flaky/scored"); code != 0 {
			t.Fatalf("run %d on flaky storage: exit %d: %s\n%v", run, code, stderr, proxy)
		}
		names, _ := filepath.Glob(filepath.Join(dir, "clean", "*"))
		fs, _ := filesystem.New(ctx, "gs://corpora/")
		for _, name := range names {
			want, _ := os.ReadFile(name)
			got, err := filesystem.Read(ctx, fs, "gs://corpora/flaky/"+filepath.Base(name))
			if err != nil || string(got) != string(want) {
				t.Errorf("run %d: %s differs from the fault-free run's (%v)", run, filepath.Base(name), err)
			}
		}
		if listed, _ := fs.List(ctx, "gs://corpora/flaky/*"); len(listed) != len(names) {
			t.Errorf("run %d left %d files, the fault-free one %d: %v", run, len(listed), len(names), listed)
		}
	}

	train := func(shards, out string) (int, string) {
		code, _, stderr := run("train", "--shards", shards, "--model", "gs://corpora/models/ref", "--out", out,
			"--optimizer", "adam", "--lr", "1e-3", "--batch-size", "4", "--steps", "4", "--eval-fraction", "0")
		return code, stderr
	}
	if code, stderr := train("gs://corpora/flaky/scored"+schemas.ManifestSuffix, filepath.Join(dir, "flaky-train")); code != 0 {
		t.Fatalf("training from flaky storage: exit %d: %s\n%v", code, stderr, proxy)
	}
	proxy.SetRate(0)
	if code, stderr := train(local+schemas.ManifestSuffix, filepath.Join(dir, "clean-train")); code != 0 {
		t.Fatalf("fault-free training: exit %d: %s", code, stderr)
	}
	if !sameWeights(t, filepath.Join(dir, "flaky-train"), filepath.Join(dir, "clean-train")) {
		t.Error("training from flaky storage ended with other weights than the fault-free run")
	}
	if proxy.Injected() < 20 || proxy.ResetAfter.Load() == 0 || proxy.CutBodies.Load() == 0 {
		t.Errorf("too few faults of some kind to prove anything: %v", proxy)
	}
	t.Log(proxy)

	// Permanent failures name the object.
	proxy.Deny("corpora/models/denied/config.json", 403)
	if code, stderr := scoreWith("gs://corpora/models/denied", filepath.Join(dir, "denied")); code == 0 || !strings.Contains(stderr, "gs://corpora/models/denied/config.json") {
		t.Errorf("403 on the model's config: exit %d: %s", code, stderr)
	} else {
		t.Log(lastLine(stderr))
	}
	shard := "flaky/scored-00001-of-00008.arrow"
	proxy.Deny("corpora/"+shard, 404)
	if code, stderr := train("gs://corpora/flaky/scored"+schemas.ManifestSuffix, filepath.Join(dir, "missing")); code == 0 || !strings.Contains(stderr, "gs://corpora/"+shard) {
		t.Errorf("404 on a shard: exit %d: %s", code, stderr)
	} else {
		t.Log(lastLine(stderr))
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
