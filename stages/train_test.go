package stages

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/optim"
	"github.com/srdpo/srdpo/runners/gcstest"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages/shardio"
)

// scoredToySet writes a separable preference corpus, scores it with a tiny
// saved reference through the real stages, and returns the manifest and the
// reference spec.
func scoredToySet(t *testing.T, n int, mutate func(*schemas.Scored)) (string, ReferenceSpec) {
	t.Helper()
	dir := t.TempDir()
	var corpus bytes.Buffer
	for i := 0; i < n; i++ {
		json.NewEncoder(&corpus).Encode(map[string]string{"id": fmt.Sprintf("toy-%02d", i),
			"prompt": fmt.Sprintf("Q%d: say yes.\nA:", i), "chosen": " yes", "rejected": fmt.Sprintf(" no%d", i%3)})
	}
	os.WriteFile(filepath.Join(dir, "toy.jsonl"), corpus.Bytes(), 0o644)
	backend, _ := model.Backend()
	cfg := model.Tiny(257)
	cfg.Context = 64
	ref, _ := model.New(cfg, 1, backend)
	spec := ReferenceSpec{ModelDir: filepath.Join(dir, "ref"), Tokenizer: "auto", AugPrompt: "Be good.", AugSeparator: " ",
		Truncation: model.Truncation{MaxPromptLength: 32, MaxLength: 48, Prompt: model.KeepEnd, Response: model.KeepStart}}
	if err := ref.Save(spec.ModelDir); err != nil {
		t.Fatal(err)
	}
	r, err := LoadReference(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	p, s := beam.NewPipelineWithRoot()
	rows, _ := ReadCorpus(s, filepath.Join(dir, "toy.jsonl"))
	scored, _ := ScorePreferences(s, spec, rows)
	if mutate != nil {
		scored = beam.ParDo(s, mutateFn{}, scored)
		mutation = mutate
	}
	shardio.WriteShards(s, filepath.Join(dir, "scored"), schemas.ScoredRows, r.Metadata(), scored, shardio.WithShards(2))
	ptest.RunAndValidate(t, p)
	return filepath.Join(dir, "scored") + schemas.ManifestSuffix, spec
}

// mutation alters scored rows in-process (prism runs in this process).
var mutation func(*schemas.Scored)

type mutateFn struct{}

func (mutateFn) ProcessElement(s schemas.Scored) schemas.Scored {
	mutation(&s)
	return s
}

func init() { beam.RegisterDoFn(mutateFn{}) }

func trainConfig(shards string, spec ReferenceSpec, out string) TrainConfig {
	return TrainConfig{Scored: shards, Model: spec.ModelDir, Tokenizer: "auto", Out: out,
		Loss:  model.LossConfig{Type: "sr-dpo", Beta: 0.1, Lambda: 0.5},
		Optim: optim.Config{Name: "adam", LR: 1e-3}, BatchSize: 8, Steps: 30, Seed: 3, LogEvery: 1, EvalFraction: 0.2}
}

func TestTrainLearnsToySetFromShards(t *testing.T) {
	shards, spec := scoredToySet(t, 24, nil)
	for _, loss := range []model.LossType{model.LossSrDPO, model.LossSrIPO} {
		cfg := trainConfig(shards, spec, t.TempDir())
		cfg.Loss.Type = loss
		var log bytes.Buffer
		res, err := Train(context.Background(), cfg, &log)
		if err != nil {
			t.Fatal(err)
		}
		last := res.Metrics[len(res.Metrics)-2] // the last train row; the eval row follows it
		if last.Split != "train" || last.RewardsAccuracies < 0.9 {
			t.Errorf("%s: last train metrics %+v", loss, last)
		}
		if ev := res.Metrics[len(res.Metrics)-1]; ev.Split != "eval" || ev.Step != 30 {
			t.Errorf("%s: no eval row at the end: %+v", loss, ev)
		}
		if !strings.Contains(log.String(), "step 30/30") {
			t.Errorf("no progress shown:\n%s", log.String())
		}
		// Metrics are beside the checkpoint, readable by the Arrow reader.
		data, err := os.ReadFile(filepath.Join(cfg.Out, "metrics.arrow"))
		if err != nil {
			t.Fatal(err)
		}
		if rows, _, err := schemas.ReadFile(data, schemas.FormatArrow, schemas.Metrics); err != nil || len(rows) != len(res.Metrics) {
			t.Errorf("metrics.arrow: %d rows, %v", len(rows), err)
		}
	}
}

// cancelAt is a progress writer that cancels training after a step, as a
// kill would stop it.
type cancelAt struct {
	step   int
	cancel context.CancelFunc
}

func (c cancelAt) Write(b []byte) (int, error) {
	if strings.HasPrefix(string(b), fmt.Sprintf("step %d/", c.step)) {
		c.cancel()
	}
	return len(b), nil
}

// A run stopped after step 6, resumed from its checkpoint at step 4, ends
// with the same metrics and weights as a run never stopped.
func TestTrainResumeEqualsUninterrupted(t *testing.T) {
	shards, spec := scoredToySet(t, 24, nil)
	strip := func(ms []schemas.Metric) []schemas.Metric {
		out := append([]schemas.Metric(nil), ms...)
		for i := range out {
			out[i].TokensPerSec = nil // wall-clock figure
		}
		return out
	}
	whole := trainConfig(shards, spec, t.TempDir())
	whole.Steps, whole.CheckpointEvery = 10, 4
	a, err := Train(context.Background(), whole, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	cut := whole
	cut.Out = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := Train(ctx, cut, cancelAt{step: 6, cancel: cancel}); err == nil || !strings.Contains(err.Error(), "interrupted before step 7") {
		t.Fatalf("cut run: %v", err)
	}
	cut.Resume = true
	// A kill between the two renames of a checkpoint swap leaves only the
	// previous checkpoint: resume from it.
	os.Rename(filepath.Join(cut.Out, CheckpointDir), filepath.Join(cut.Out, CheckpointDir+oldSuffix))
	var log bytes.Buffer
	b, err := Train(context.Background(), cut, &log)
	if err != nil {
		t.Fatal(err)
	}
	// The resumed run started at the checkpoint's step (4), not at 0: a
	// fresh seeded run would end the same, so the log must show it.
	if !strings.Contains(log.String(), "resuming at step 4 of 10") || !strings.Contains(log.String(), "checkpoint.old") {
		t.Errorf("resume log:\n%s", log.String())
	}
	if first := strings.SplitN(strings.SplitN(log.String(), "\nstep ", 2)[1], " ", 2)[0]; first != "5/10" {
		t.Errorf("the resumed run's first step is %s, want 5/10", first)
	}
	if !reflect.DeepEqual(strip(a.Metrics), strip(b.Metrics)) {
		t.Fatalf("metrics differ:\n%+v\n%+v", strip(a.Metrics), strip(b.Metrics))
	}
	wa, _ := a.Policy.Weights()
	wb, _ := b.Policy.Weights()
	if !reflect.DeepEqual(wa, wb) {
		t.Fatal("final weights differ")
	}
	// Another loss than the checkpoint's is not resumed.
	other := cut
	other.Loss.Lambda = 0.9
	if _, err := Train(context.Background(), other, io.Discard); err == nil || !strings.Contains(err.Error(), "not resuming it") {
		t.Errorf("resuming with another λ: %v", err)
	}
	// --resume with no checkpoint says so, then starts at step 0.
	fresh := whole
	fresh.Out, fresh.Resume, fresh.Steps = t.TempDir(), true, 1
	log.Reset()
	if _, err := Train(context.Background(), fresh, &log); err != nil || !strings.Contains(log.String(), "no checkpoint in") {
		t.Errorf("--resume without a checkpoint: %v\n%s", err, log.String())
	}
}

func TestTrainRefusesMismatchesAndNonFinite(t *testing.T) {
	shards, spec := scoredToySet(t, 8, nil)
	cfg := trainConfig(shards, spec, t.TempDir())
	// Another model than the one the shards were scored with.
	backend, _ := model.Backend()
	other, _ := model.New(model.Config{Vocab: 257, Context: 64, Layers: 2, Heads: 4, Width: 64, NormEps: 1e-5, TiedHead: true, DType: "float32"}, 99, backend)
	otherDir := filepath.Join(t.TempDir(), "other")
	other.Save(otherDir)
	bad := cfg
	bad.Model = otherDir
	if _, err := Train(context.Background(), bad, io.Discard); err == nil || !strings.Contains(err.Error(), "the shards were scored with model") {
		t.Errorf("model mismatch: %v", err)
	}
	p := "Another p."
	bad = cfg
	bad.AugPrompt = &p
	if _, err := Train(context.Background(), bad, io.Discard); err == nil || !strings.Contains(err.Error(), "differs from the shards' p") {
		t.Errorf("p mismatch: %v", err)
	}
	bad = cfg
	bad.Tokenizer = "testdata-nonexistent"
	if _, err := Train(context.Background(), bad, io.Discard); err == nil {
		t.Error("a missing tokenizer was accepted")
	}

	// A reference log-prob so large (in magnitude) that the float32 policy
	// overflows: the step is refused, with its ids, and no checkpoint written.
	shards, spec = scoredToySet(t, 8, func(s *schemas.Scored) {
		if s.ID == "toy-03" {
			s.RefLogpRejected = -1e300
		}
	})
	cfg = trainConfig(shards, spec, t.TempDir())
	cfg.Loss.Type, cfg.EvalFraction, cfg.CheckpointEvery = "ipo", 0, 1
	_, err := Train(context.Background(), cfg, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not finite") || !strings.Contains(err.Error(), "toy-03") || !strings.Contains(err.Error(), "step 1/") {
		t.Fatalf("got %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Out, "checkpoint")); err == nil {
		t.Error("a checkpoint was written from a non-finite state")
	}
}

// --delta-refresh: with K = 8 over 3 epochs of 3 steps, each pair's Δπ is
// reused once, so the run differs from the exact one, yet still learns.
func TestTrainDeltaRefresh(t *testing.T) {
	shards, spec := scoredToySet(t, 24, nil)
	exact := trainConfig(shards, spec, t.TempDir())
	exact.Steps, exact.EvalFraction = 9, 0
	approx := exact
	approx.Out, approx.DeltaRefresh = t.TempDir(), 8
	a, err := Train(context.Background(), exact, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Train(context.Background(), approx, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// The first epoch's Δπ are fresh in both, so its rows agree.
	if math.Abs(a.Metrics[0].DeltaMean-b.Metrics[0].DeltaMean) > 1e-6 {
		t.Errorf("step 1: Δπ %g exact, %g with refresh", a.Metrics[0].DeltaMean, b.Metrics[0].DeltaMean)
	}
	if a.Metrics[5].DeltaMean == b.Metrics[5].DeltaMean {
		t.Error("step 6: stale Δπ equals the exact one; the cache was not used")
	}
	if last := b.Metrics[len(b.Metrics)-1]; last.RewardsAccuracies < 0.9 {
		t.Errorf("with refresh: %+v", last)
	}
}

// Shards and model on gs:// (a fake GCS): training reads both.
func TestTrainFromGCS(t *testing.T) {
	shards, spec := scoredToySet(t, 8, nil)
	gcstest.Start(t, "runs")
	ctx := context.Background()
	upload := func(local, remote string) {
		filepath.WalkDir(local, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, _ := os.ReadFile(p)
			rel, _ := filepath.Rel(local, p)
			return shardio.WriteAtomically(ctx, remote+"/"+filepath.ToSlash(rel), func(buf *bytes.Buffer) error { _, err := buf.Write(b); return err })
		})
	}
	upload(filepath.Dir(shards), "gs://runs/scored")
	upload(spec.ModelDir, "gs://runs/ref")
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the remote model is copied to load
	cfg := trainConfig("gs://runs/scored/"+filepath.Base(shards), spec, t.TempDir())
	cfg.Model, cfg.Steps = "gs://runs/ref", 3
	res, err := Train(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 3 {
		t.Fatalf("%d steps", res.Steps)
	}
	// The same run from local files ends with the same weights: the model
	// and shards read from gs:// are the local ones.
	local := trainConfig(shards, spec, t.TempDir())
	local.Steps = 3
	want, err := Train(ctx, local, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := res.Policy.Weights()
	b, _ := want.Policy.Weights()
	if !reflect.DeepEqual(a, b) {
		t.Error("training from gs:// and from the same local files ended with different weights")
	}
	// The local copy of the remote model is gone once it is loaded.
	if left, _ := filepath.Glob(filepath.Join(tmp, "srdpo-shard-*")); len(left) > 0 {
		t.Errorf("local copies of the remote shards left behind: %v", left)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "srdpo-model-*")); len(left) > 0 {
		t.Errorf("temporary model copies left behind: %v", left)
	}
}
