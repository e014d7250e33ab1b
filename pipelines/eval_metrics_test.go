package pipelines

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/srdpo/srdpo/stages"
)

// A policy without metrics (the reference) has none; a corrupt metrics
// file is an error naming it, not a silently missing curve.
func TestTrainingMetricsCorruptFile(t *testing.T) {
	none, bad := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(bad, stages.MetricsFile), []byte("not arrow"), 0o644)
	got, err := TrainingMetrics([]stages.PolicyRef{{Name: "reference", Dir: none}})
	if err != nil || len(got) != 0 {
		t.Errorf("no metrics file: %v, %v", got, err)
	}
	if _, err := TrainingMetrics([]stages.PolicyRef{{Name: "dpo", Dir: bad}}); err == nil || !strings.Contains(err.Error(), "policy dpo") || !strings.Contains(err.Error(), stages.MetricsFile) {
		t.Errorf("corrupt metrics: %v", err)
	}
}
