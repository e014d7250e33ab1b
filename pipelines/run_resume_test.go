package pipelines

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/srdpo/srdpo/model"
)

// --resume keeps a finished seed (its reference is not trained again, and
// the report has its rows and training metrics) and runs a seed whose
// folder has no finished mark from its start; the results equal those of
// one uninterrupted run. A finished seed of other settings is an error.
func TestRunResumeKeepsFinishedSeeds(t *testing.T) {
	ctx := context.Background()
	c := tinyRun(t)
	c.Grid.Methods = []model.LossType{model.LossDPO, model.LossSrDPO}
	c.Seeds = 2
	if _, err := Run(ctx, c, &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	whole := topFiles(t, c.Out) // results.arrow, report.md and the plots (training metrics among them)
	if len(whole) < 4 {
		t.Fatalf("the run wrote %d files at its top", len(whole))
	}
	// Seed 2 cut off after its rows, before its mark; seed 1 finished.
	if err := os.Remove(filepath.Join(c.Out, "seed-2", SeedSettingsFile)); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(c.Out, "seed-2", "dpo", "left-by-a-kill")
	if err := os.MkdirAll(stray, 0o755); err != nil {
		t.Fatal(err)
	}
	refConfig := filepath.Join(c.Out, "seed-1", "reference", "config.json")
	if err := os.WriteFile(refConfig, []byte("not run again"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name := range whole {
		if err := os.Remove(filepath.Join(c.Out, name)); err != nil {
			t.Fatal(err)
		}
	}

	c.Resume = true
	var progress strings.Builder
	if _, err := Run(ctx, c, &progress); err != nil {
		t.Fatal(err)
	}
	log := progress.String()
	if !strings.Contains(log, "seed 1: kept from") || strings.Contains(log, "seed 1: SFT") {
		t.Errorf("seed 1 was not kept:\n%s", log)
	}
	if strings.Contains(log, "seed 2: kept") || !strings.Contains(log, "seed 2: SFT") {
		t.Errorf("seed 2, without its mark, was not run again:\n%s", log)
	}
	if _, err := os.Stat(stray); !os.IsNotExist(err) {
		t.Errorf("what the cut-off seed 2 left is still there (%v): it did not run from its start", err)
	}
	if b, _ := os.ReadFile(refConfig); string(b) != "not run again" {
		t.Errorf("seed 1's reference was trained again")
	}
	resumed := topFiles(t, c.Out)
	for name, b := range whole {
		if !bytes.Equal(resumed[name], b) {
			t.Errorf("%s after --resume differs from the uninterrupted run's", name)
		}
	}

	other := c
	other.Train.Steps++
	_, err := Run(ctx, other, &strings.Builder{})
	if err == nil || !strings.Contains(err.Error(), "other settings") || !strings.Contains(err.Error(), "seed-1") {
		t.Errorf("--resume over seeds of other settings: %v", err)
	}
}

// topFiles are the files at the top of a run's folder, by name.
func topFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}
