package stages

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(dir, n)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("{}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// A dataset folder with one config reads (all splits, or one); a root
// holding several configs is refused with their names, for corpora and
// for benchmarks alike (cais/mmlu's root would evaluate every question
// twice; ai2_arc's would mix ARC-Easy into arc_challenge).
func TestDatasetFolderLayouts(t *testing.T) {
	ctx := context.Background()
	one := t.TempDir()
	writeFiles(t, one, "README.md", "data/train_prefs-00000-of-00002.parquet", "data/train_prefs-00001-of-00002.parquet", "data/test_prefs-00000-of-00001.parquet")
	files, err := DatasetFiles(ctx, one, "")
	if err != nil || len(files) != 3 {
		t.Fatalf("one config: %v %v", files, err)
	}
	files, err = DatasetFiles(ctx, one, "test_prefs")
	if err != nil || len(files) != 1 || !strings.HasSuffix(files[0], "data/test_prefs-00000-of-00001.parquet") {
		t.Errorf("one split: %v %v", files, err)
	}
	if _, err := DatasetFiles(ctx, one, "validation"); err == nil || !strings.Contains(err.Error(), `no files of the split "validation"`) {
		t.Errorf("a missing split: %v", err)
	}
	splitDirs := t.TempDir()
	writeFiles(t, splitDirs, "train/0000.parquet", "test/0000.parquet")
	if files, err := DatasetFiles(ctx, splitDirs, ""); err != nil || len(files) != 2 {
		t.Errorf("split folders are one config: %v %v", files, err)
	}

	arc := t.TempDir()
	writeFiles(t, arc, "ARC-Challenge/test-00000-of-00001.jsonl", "ARC-Easy/test-00000-of-00001.jsonl")
	if _, err := DatasetFiles(ctx, arc, ""); err == nil || !strings.Contains(err.Error(), "several dataset configs (ARC-Challenge, ARC-Easy)") {
		t.Errorf("a corpus root with configs: %v", err)
	}
	if files, err := DatasetFiles(ctx, filepath.Join(arc, "ARC-Challenge"), ""); err != nil || len(files) != 1 {
		t.Errorf("one config's folder: %v %v", files, err)
	}
	if _, err := readBenchmark(ctx, BenchmarkSpec{Name: "arc_challenge", Path: arc, Shots: 0}, 0, 0); err == nil ||
		!strings.Contains(err.Error(), "several dataset configs (ARC-Challenge, ARC-Easy)") {
		t.Errorf("arc_challenge on ai2_arc's root: %v", err)
	}
	mmlu := t.TempDir()
	writeFiles(t, mmlu, "all/test-00000-of-00001.jsonl", "abstract_algebra/test-00000-of-00001.jsonl", "anatomy/test-00000-of-00001.jsonl")
	_, err = readBenchmark(ctx, BenchmarkSpec{Name: "mmlu", Path: mmlu, Shots: 0}, 0, 0)
	if err == nil || !strings.Contains(err.Error(), "(abstract_algebra, all, anatomy)") {
		t.Errorf("mmlu on cais/mmlu's root: %v", err)
	}
	// A file and a glob pass as they are.
	for _, p := range []string{filepath.Join(one, "data/train_prefs-00000-of-00002.parquet"), one + "/data/*.parquet"} {
		if files, err := DatasetFiles(ctx, p, ""); err != nil || !slices.Equal(files, []string{p}) {
			t.Errorf("%s: %v %v", p, files, err)
		}
	}
}
