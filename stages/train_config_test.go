package stages

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/srdpo/srdpo/schemas"
)

// A cosine schedule is accepted: its total step count comes from --steps
// (or the epochs) when the run starts, not from the flag.
func TestTrainConfigCosineSchedule(t *testing.T) {
	c := DefaultTrainConfig()
	c.Scored, c.Model, c.Out = "s.manifest.json", "m", t.TempDir()
	c.Optim.Schedule, c.Optim.Warmup, c.Steps = "cosine", 2, 10
	if err := c.Validate(); err != nil {
		t.Errorf("cosine with 10 steps after 2 of warm-up: %v", err)
	}
	c.Steps = 0 // by epochs: checked once the shards are read
	if err := c.Validate(); err != nil {
		t.Errorf("cosine by epochs: %v", err)
	}
	c.Steps = 2
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "beyond the warm-up") {
		t.Errorf("cosine with no steps past the warm-up: %v", err)
	}
}

// The epoch column is the progress after the step: with 2 steps an epoch,
// steps 1–4 are at epochs 0.5, 1, 1.5, 2.
func TestMetricsEpochIsProgressAfterTheStep(t *testing.T) {
	shards, spec := scoredToySet(t, 16, nil)
	cfg := trainConfig(shards, spec, t.TempDir())
	cfg.EvalFraction, cfg.BatchSize, cfg.Steps = 0, 8, 4 // 16 pairs, 8 a step: 2 steps an epoch
	res, err := Train(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var epochs []float64
	for _, m := range res.Metrics {
		if m.Split == "train" {
			epochs = append(epochs, m.Epoch)
		}
	}
	if want := []float64{0.5, 1, 1.5, 2}; !reflect.DeepEqual(epochs, want) {
		t.Errorf("epochs %v, want %v", epochs, want)
	}
}

// Eval rows have no step figures (null in metrics.arrow, not 0); train rows
// have them.
func TestEvalRowsHaveNoStepFigures(t *testing.T) {
	shards, spec := scoredToySet(t, 24, nil)
	cfg := trainConfig(shards, spec, t.TempDir())
	cfg.Steps, cfg.EvalFraction = 2, 0.3
	if _, err := Train(context.Background(), cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(cfg.Out, MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := schemas.ReadRows[schemas.Metric](data, schemas.FormatArrow, schemas.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, m := range rows {
		seen[m.Split] = true
		step := m.GradNorm != nil && m.LearningRate != nil && m.TokensPerSec != nil
		none := m.GradNorm == nil && m.LearningRate == nil && m.TokensPerSec == nil
		if (m.Split == "train" && (!step || *m.LearningRate <= 0)) || (m.Split == "eval" && !none) {
			t.Errorf("%s row at step %d: grad_norm %v, learning_rate %v, tokens_per_sec %v", m.Split, m.Step, m.GradNorm, m.LearningRate, m.TokensPerSec)
		}
	}
	if !seen["train"] || !seen["eval"] {
		t.Errorf("splits %v", seen)
	}
}

// --memory-limit reads sizes as GOMEMLIMIT writes them.
// The run's soft memory limit: the asked one; by default 90% of the
// machine's memory (checked against the kernel's own count, sysinfo(2));
// none when GOMEMLIMIT is set or the limit is off.
func TestMemoryLimitDefault(t *testing.T) {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		t.Fatal(err)
	}
	ram := float64(si.Totalram) * float64(si.Unit)
	if got, _ := SoftMemoryLimit(0, false); float64(got) < 0.85*ram || float64(got) > 0.91*ram {
		t.Errorf("default limit %d, want about 90%% of %.0f (less in a smaller cgroup)", got, ram)
	}
	for _, c := range []struct {
		asked int64
		env   bool
		want  int64
	}{{5 << 30, false, 5 << 30}, {5 << 30, true, 5 << 30}, {0, true, 0}, {-1, false, 0}} {
		if got, _ := SoftMemoryLimit(c.asked, c.env); got != c.want {
			t.Errorf("SoftMemoryLimit(%d, GOMEMLIMIT set %v) = %d, want %d", c.asked, c.env, got, c.want)
		}
	}
}

func TestMemoryLimitFlag(t *testing.T) {
	for in, want := range map[string]int64{"3500MiB": 3500 << 20, "20GiB": 20 << 30, "1.5GiB": 3 << 29, "4096": 4096, "8KiB": 8192, "0": 0, "off": -1} {
		var n int64
		if err := (byteSize{&n}).Set(in); err != nil || n != want {
			t.Errorf("%q: %d, %v; want %d", in, n, err, want)
		}
	}
	for _, bad := range []string{"", "MiB", "-1GiB", "3.5XB", "1e300TiB", "NaN"} {
		var n int64
		if err := (byteSize{&n}).Set(bad); err == nil {
			t.Errorf("%q accepted as %d", bad, n)
		}
	}
}
