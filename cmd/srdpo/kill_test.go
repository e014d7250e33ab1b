package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages"
)

// longKills runs the kill tests with many more kill points (make bench's
// companion: go test ./cmd/srdpo -run Kill -long-kills).
var longKills = flag.Bool("long-kills", false, "kill tests with 60 kill points instead of 20")

// SIGKILL `srdpo train` at seeded random moments — while it starts, during
// a step, during a checkpoint write — and start it again with --resume
// until it finishes: the final weights are bit-identical to an
// uninterrupted run's, and so are the metrics but for the wall-clock
// tokens_per_sec.
func TestTrainSurvivesKills(t *testing.T) {
	kills := 20
	if *longKills {
		kills = 60
	}
	steps := 3 * kills // about 1.5 steps of progress a kill: the run outlasts the kills
	bin := srdpoBinary(t)
	dir := t.TempDir()
	ref := saveTinyModel(t)
	must := func(args ...string) {
		t.Helper()
		if code, stdout, stderr := run(args...); code != 0 {
			t.Fatalf("%v: exit %d\n%s\n%s", args, code, stdout, stderr)
		}
	}
	must("gen", "--out", dir, "--sft-words", "4", "--pairs", "64", "--eval-prompts", "2")
	must("score", "--model", ref, "--aug-prompt", "Answer perfectly.", "--corpus", filepath.Join(dir, "prefs.jsonl"), "--out", filepath.Join(dir, "scored"))
	args := func(out string) []string {
		return []string{"train", "--shards", filepath.Join(dir, "scored") + schemas.ManifestSuffix, "--model", ref, "--out", out,
			"--optimizer", "adam", "--lr", "1e-3", "--batch-size", "8", "--steps", fmt.Sprint(steps), "--checkpoint-every", "1", "--log-every", "1", "--resume"}
	}
	// The uninterrupted run, timed: start-up (to the first step line) and
	// the time a step takes set where the kills fall.
	whole := filepath.Join(dir, "whole")
	cmd := exec.Command(bin, args(whole)...)
	stderr, _ := cmd.StderrPipe()
	began := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var startup time.Duration
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if startup == 0 && strings.HasPrefix(sc.Text(), "step 1/") {
			startup = time.Since(began)
		}
	}
	if err := cmd.Wait(); err != nil || startup == 0 {
		t.Fatalf("uninterrupted run: %v (start-up %v)", err, startup)
	}
	perStep := (time.Since(began) - startup) / time.Duration(steps)

	killed := filepath.Join(dir, "killed")
	rng := rand.New(rand.NewPCG(2026, 12))
	done, killedAt, restarts := false, 0, 0
	var reached []int // the checkpoint's step after each kill
	segment := 0      // the checkpoint's step after the last kill since the run last finished
	base := startup * 4 / 5
	for attempt := 0; !done && attempt < 4*kills; attempt++ {
		cmd := exec.Command(bin, args(killed)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if killedAt < kills {
			// From late in start-up to a few steps in: while loading, during
			// a step, during a checkpoint write (one a step). The machine
			// may run slower or faster than when measured: a kill that found
			// no progress moves the next one later, one that found much
			// moves it earlier.
			delay := base + time.Duration(rng.Int64N(int64(startup/5+3*perStep)))
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("attempt %d failed by itself: %v", attempt, err)
				}
				// It finished before the kills were all made: that result
				// must already be the uninterrupted one; then start over.
				if !sameWeights(t, whole, killed) {
					t.Fatalf("after %d kills the finished run's weights differ from an uninterrupted run's", killedAt)
				}
				os.RemoveAll(killed)
				restarts++
				segment = 0
			case <-time.After(delay):
				cmd.Process.Signal(syscall.SIGKILL)
				<-exited
				killedAt++
				step := checkpointStep(killed)
				// Each restart resumes from the checkpoint's step, so the
				// checkpoint never goes back (a restart from step 0, without
				// --resume, would overwrite it with an earlier one — and still
				// end bit-identical, which is why the end alone proves nothing).
				if step < segment {
					t.Fatalf("kill %d: the checkpoint went back from step %d to %d: the restart did not resume", killedAt, segment, step)
				}
				segment = step
				switch {
				case len(reached) > 0 && step == reached[len(reached)-1]:
					base += startup / 10
				case len(reached) > 0 && step > reached[len(reached)-1]+4 && base > startup/2:
					base -= startup / 10
				}
				reached = append(reached, step)
			}
			continue
		}
		if err := <-exited; err != nil {
			t.Fatalf("the run after %d kills failed: %v", killedAt, err)
		}
		done = true
	}
	if !done || killedAt < kills {
		t.Fatalf("%d kills, finished %v", killedAt, done)
	}
	if !sameWeights(t, whole, killed) {
		t.Errorf("after %d kills the final weights differ from an uninterrupted run's", killedAt)
	}
	ma, mb := readMetrics(t, whole), readMetrics(t, killed)
	if !reflect.DeepEqual(ma, mb) {
		t.Errorf("after %d kills the metrics differ:\n%+v\n%+v", killedAt, ma, mb)
	}
	if left, _ := filepath.Glob(filepath.Join(killed, ".checkpoint-*")); len(left) > 0 {
		t.Errorf("half-written checkpoints left behind: %v", left)
	}
	// The kills fell through the run, not only in start-up: the checkpoint
	// moved on between them.
	distinct := map[int]bool{}
	for _, st := range reached {
		distinct[st] = true
	}
	if len(distinct) < 5 {
		t.Errorf("the checkpoint's step after each kill: %v; the kills did not spread over the run", reached)
	}
	t.Logf("%d kills survived (%d runs finished between them); the checkpoint's step after each: %v", killedAt, restarts, reached)
}

// sameWeights compares the final checkpoints of two training runs.
func sameWeights(t *testing.T, a, b string) bool {
	t.Helper()
	backend, _ := model.Backend()
	ma, err := model.LoadDir(filepath.Join(a, stages.CheckpointDir), backend, model.Float32)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := model.LoadDir(filepath.Join(b, stages.CheckpointDir), backend, model.Float32)
	if err != nil {
		t.Fatal(err)
	}
	wa, _ := ma.Weights()
	wb, _ := mb.Weights()
	return reflect.DeepEqual(wa, wb)
}

// checkpointStep is the step of a run's checkpoint (or of the previous one
// a killed swap left), 0 without one.
func checkpointStep(out string) int {
	for _, d := range []string{stages.CheckpointDir, stages.CheckpointDir + ".old"} {
		b, err := os.ReadFile(filepath.Join(out, d, "state.json"))
		if err != nil {
			continue
		}
		var st struct{ Step int }
		if json.Unmarshal(b, &st) == nil {
			return st.Step
		}
	}
	return 0
}

// readMetrics reads a run's metrics without the wall-clock tokens_per_sec.
func readMetrics(t *testing.T, out string) []schemas.Metric {
	b, err := os.ReadFile(filepath.Join(out, stages.MetricsFile))
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := schemas.ReadRows[schemas.Metric](b, schemas.FormatArrow, schemas.Metrics)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		rows[i].TokensPerSec = nil
	}
	return rows
}

// SIGKILL `srdpo score` at seeded moments while it rewrites a prefix that
// holds an earlier complete set: after every kill the prefix holds a
// manifest only beside the complete set it lists (the earlier one or the
// new one, never a mixture), and a rerun completes it, byte-identical to a
// run into a fresh prefix.
func TestScoreSurvivesKills(t *testing.T) {
	kills := 20
	if *longKills {
		kills = 60
	}
	bin := srdpoBinary(t)
	dir := t.TempDir()
	ref := saveTinyModel(t)
	if code, stdout, stderr := run("gen", "--out", dir, "--sft-words", "4", "--pairs", "40", "--eval-prompts", "2"); code != 0 {
		t.Fatalf("gen: %d\n%s\n%s", code, stdout, stderr)
	}
	args := func(prefix, p string) []string {
		return []string{"score", "--model", ref, "--aug-prompt", p, "--corpus", filepath.Join(dir, "prefs.jsonl"), "--out", prefix, "--shards", "3"}
	}
	prefix := filepath.Join(dir, "out", "scored")
	began := time.Now()
	if out, err := exec.Command(bin, args(prefix, "Earlier p.")...).CombinedOutput(); err != nil {
		t.Fatalf("earlier run: %v\n%s", err, out)
	}
	full := time.Since(began)
	fresh := filepath.Join(dir, "fresh", "scored")
	if out, err := exec.Command(bin, args(fresh, "Answer perfectly.")...).CombinedOutput(); err != nil {
		t.Fatalf("fresh run: %v\n%s", err, out)
	}
	rng := rand.New(rand.NewPCG(12, 2026))
	states := map[string]int{}
	base := full / 3
	for k := 0; k < kills; k++ {
		cmd := exec.Command(bin, args(prefix, "Answer perfectly.")...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if err != nil {
				t.Fatalf("kill point %d: the run failed by itself: %v", k, err)
			}
		case <-time.After(base + time.Duration(rng.Int64N(int64(full*3/4)))):
			cmd.Process.Signal(syscall.SIGKILL)
			<-exited
		}
		state := checkCompleteSet(t, prefix, k)
		if state == "earlier" { // killed before it wrote: a slower machine than measured
			base += full / 10
		}
		states[state]++
	}
	// The kills fell in the writing too: some left no manifest, or the new
	// set, not only the earlier one.
	if states["earlier"] == kills {
		t.Errorf("every kill left the earlier set untouched: %v", states)
	}
	t.Logf("%d kills; what each left: %v", kills, states)
	if out, err := exec.Command(bin, args(prefix, "Answer perfectly.")...).CombinedOutput(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, out)
	}
	for _, f := range []string{"-00000-of-00003.arrow", "-00001-of-00003.arrow", "-00002-of-00003.arrow", schemas.ManifestSuffix} {
		a, errA := os.ReadFile(prefix + f)
		b, errB := os.ReadFile(fresh + f)
		if errA != nil || errB != nil || !bytes.Equal(a, b) {
			t.Errorf("%s after the kills and a rerun differs from a fresh run's (%v, %v)", f, errA, errB)
		}
	}
}

// checkCompleteSet: where a manifest exists, every shard it lists is there,
// readable, with the rows and the metadata the manifest says. It tells what
// the prefix holds: "none" (no manifest), "earlier" or "new" (by p).
func checkCompleteSet(t *testing.T, prefix string, k int) string {
	t.Helper()
	b, err := os.ReadFile(prefix + schemas.ManifestSuffix)
	if os.IsNotExist(err) {
		return "none" // no manifest: no claim
	}
	m, err := schemas.ParseManifest(b)
	if err != nil {
		t.Fatalf("kill point %d: manifest: %v", k, err)
	}
	for _, sh := range m.Shards {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(prefix), sh.Name))
		if err != nil {
			t.Fatalf("kill point %d: the manifest lists %s: %v", k, sh.Name, err)
		}
		rows, md, err := schemas.ReadFile(data, m.Format, schemas.ScoredRows)
		if err != nil || int64(len(rows)) != sh.Rows || md.Expect(m.Metadata) != nil {
			t.Fatalf("kill point %d: %s does not belong to the manifest's set (%d rows, want %d; %v; %v)", k, sh.Name, len(rows), sh.Rows, err, md.Expect(m.Metadata))
		}
	}
	if m.Metadata.Get(schemas.KeyAugPrompt) == "Earlier p." {
		return "earlier"
	}
	return "new"
}

// A bundle that fails is not retried by Beam's runners here: the job fails
// naming the element, and leaves the earlier complete set or nothing —
// never part of a set.
func TestFailedScoringLeavesNoPartialOutput(t *testing.T) {
	dir := t.TempDir()
	ref := saveTinyModel(t)
	var corpus bytes.Buffer
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&corpus, `{"id": "row-%d", "prompt": "Question %d?", "chosen": " yes %d", "rejected": " no"}`+"\n", i, i, i)
	}
	in := filepath.Join(dir, "prefs.jsonl")
	os.WriteFile(in, corpus.Bytes(), 0o644)
	score := func(prefix string) (int, string) {
		code, _, stderr := run("score", "--model", ref, "--corpus", in, "--out", prefix, "--shards", "3")
		return code, stderr
	}
	t.Setenv(stages.FaultScoreIDEnv, "row-17")
	fresh := filepath.Join(dir, "fresh", "scored")
	code, stderr := score(fresh)
	if code != 1 || !strings.Contains(stderr, "row-17") || !strings.Contains(stderr, "injected failure") {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	if left, _ := filepath.Glob(fresh + "*"); len(left) > 0 {
		t.Errorf("a failed job into a fresh prefix left %v", left)
	}
	// Over an earlier complete set: that set stands, complete, or nothing.
	t.Setenv(stages.FaultScoreIDEnv, "")
	earlier := filepath.Join(dir, "earlier", "scored")
	if code, stderr := score(earlier); code != 0 {
		t.Fatalf("earlier run: %s", stderr)
	}
	before, _ := filepath.Glob(earlier + "*")
	t.Setenv(stages.FaultScoreIDEnv, "row-3")
	if code, _ := score(earlier); code != 1 {
		t.Fatalf("exit %d", code)
	}
	after, _ := filepath.Glob(earlier + "*")
	if state := checkCompleteSet(t, earlier, 0); state == "none" && len(after) > 0 {
		t.Errorf("no manifest but files left: %v", after)
	} else if state != "none" && !reflect.DeepEqual(before, after) {
		t.Errorf("the earlier set changed: %v, now %v", before, after)
	}
}
