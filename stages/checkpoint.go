package stages

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/compute"

	"github.com/srdpo/srdpo/atomicfile"
	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/optim"
	"github.com/srdpo/srdpo/schemas"
)

// Files of a training run's output folder.
const (
	// CheckpointDir is the folder, inside a training run's output, of its
	// last checkpoint: a loadable model with optimiser state, the
	// training state and the metrics so far.
	CheckpointDir = "checkpoint"
	// MetricsFile holds a run's metrics (table metrics), in its output
	// folder and in its checkpoint.
	MetricsFile = "metrics.arrow"
	// HFExportDir is where --export-hf writes the final policy.
	HFExportDir = "hf"
	// HFMergedDir is where --merge writes the policy with its adapter merged.
	HFMergedDir = "hf-merged"
	stateFile   = "state.json"
	oldSuffix   = ".old" // the previous checkpoint, during a swap
)

// trainState is what a checkpoint adds to the model to resume exactly.
type trainState struct {
	Step   int              `json:"step"` // steps done
	Seed   uint64           `json:"seed"`
	Scored string           `json:"shards_fingerprint"` // the scored set's fingerprint
	Loss   model.LossConfig `json:"loss"`
	Optim  optim.Config     `json:"optimizer"`
}

// saveCheckpoint writes the policy (weights and optimiser state), the
// training state and the metrics so far into out/checkpoint, atomically:
// everything goes to a fresh folder that then replaces the old one.
func saveCheckpoint(out string, policy *model.Decoder, st trainState, metrics []schemas.Metric) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	// Half-written checkpoints of killed runs go first.
	if stale, err := filepath.Glob(filepath.Join(out, ".checkpoint-*")); err == nil {
		for _, d := range stale {
			os.RemoveAll(d)
		}
	}
	tmp, err := os.MkdirTemp(out, ".checkpoint-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := policy.Save(tmp); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, stateFile), b, 0o644); err != nil {
		return err
	}
	if err := writeMetrics(filepath.Join(tmp, MetricsFile), metrics); err != nil {
		return err
	}
	final := filepath.Join(out, CheckpointDir)
	old := final + oldSuffix
	os.RemoveAll(old)
	if err := os.Rename(final, old); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	os.RemoveAll(old)
	// The metrics also sit beside the checkpoint, for readers of the run.
	return writeMetrics(filepath.Join(out, MetricsFile), metrics)
}

func writeMetrics(path string, metrics []schemas.Metric) error {
	rows := make([]schemas.Row, len(metrics))
	for i, m := range metrics {
		rows[i] = m
	}
	var buf bytes.Buffer
	if err := schemas.WriteFile(&buf, schemas.FormatArrow, schemas.Metrics, schemas.NewMetadata(), rows); err != nil {
		return err
	}
	return atomicfile.Write(path, buf.Bytes())
}

func loadCheckpoint(dir string, backend compute.Backend) (trainState, []schemas.Metric, *model.Decoder, error) {
	var st trainState
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return st, nil, nil, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, nil, nil, fmt.Errorf("%s/%s: %w", dir, stateFile, err)
	}
	data, err := os.ReadFile(filepath.Join(dir, MetricsFile))
	if err != nil {
		return st, nil, nil, err
	}
	metrics, _, err := schemas.ReadRows[schemas.Metric](data, schemas.FormatArrow, schemas.Metrics)
	if err != nil {
		return st, nil, nil, err
	}
	p, err := model.Load(dir, backend)
	return st, metrics, p, err
}
