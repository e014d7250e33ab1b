package pipelines

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/srdpo/srdpo/atomicfile"
)

// A finished seed leaves its rows and the settings it ran with in its
// folder, written after everything else, so that --resume can keep it: a
// grid of the README's experiment takes hours, and a seed lost to a kill
// should not cost the seeds before it.
const (
	SeedResultsFile  = "results.arrow"
	SeedSettingsFile = "settings.json"
)

// seedSettings are the settings that decide a seed's results, as JSON: the
// run's settings without those that only choose which seeds run, where,
// and how many cells at once (cells are trained independently, so
// --parallel does not change a result).
func seedSettings(c RunConfig) ([]byte, error) {
	c.Out, c.Seeds, c.FirstSeed, c.Parallel, c.Resume = "", 0, 0, 0, false
	c.Task.Out, c.Task.Seed, c.Task.Sample = "", 0, nil
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("run settings: %w", err)
	}
	return append(b, '\n'), nil
}

// finished reports whether --resume keeps the seed: its folder holds the
// rows of a finished run with the same settings, which it reads, with the
// cells' training metrics. A folder with other settings is an error rather
// than a silent rerun over it or a mix of two experiments in one report.
func (r *seedRun) finished() (bool, error) {
	if !r.c.Resume {
		return false, nil
	}
	want, err := seedSettings(r.c)
	if err != nil {
		return false, err
	}
	settingsPath := filepath.Join(r.dir, SeedSettingsFile)
	got, err := os.ReadFile(settingsPath)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !bytes.Equal(got, want) {
		return false, fmt.Errorf("--resume: %s was run with other settings than these; use another --out, or remove %s to run the seed again", settingsPath, r.dir)
	}
	r.rows, err = ReadSweepRows(filepath.Join(r.dir, SeedResultsFile))
	if err != nil {
		return false, fmt.Errorf("--resume: seed %d: %w", r.seed, err)
	}
	for _, g := range r.c.Grid.groups() {
		if err := r.readMetrics(g); err != nil {
			return false, fmt.Errorf("--resume: seed %d: %w", r.seed, err)
		}
	}
	return true, nil
}

// save writes the seed's rows, then its settings: the settings file is the
// mark of a finished seed, so a kill between the two leaves a seed that
// runs again.
func (r *seedRun) save() error {
	settings, err := seedSettings(r.c)
	if err != nil {
		return err
	}
	if err := writeSweepRows(filepath.Join(r.dir, SeedResultsFile), r.rows); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(r.dir, SeedSettingsFile), settings)
}
