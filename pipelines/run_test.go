package pipelines

import (
	"context"
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/schemas"
)

// tinyRun is a run that takes seconds: a reference barely trained, a few
// pairs and steps; what it shows is that the parts fit and agree.
func tinyRun(t *testing.T) RunConfig {
	c := DefaultRunConfig()
	c.Out = t.TempDir()
	c.Task.SFTWords, c.Task.Pairs, c.Task.HeldoutPairs, c.Task.EvalPrompts = 60, 32, 12, 8
	c.SFT.Steps, c.Train.Steps, c.Train.BatchSize, c.Curve = 10, 4, 8, 2
	return c
}

// figure is a sweep row without its cell: what two runs of the same cell
// must agree on.
type figure struct {
	Seed, Step        int64
	Benchmark, Metric string
}

func figuresOf(rows []schemas.SweepRow, method string, lambda float64) map[figure]float64 {
	return figuresOfGroup(rows, group{}, method, lambda)
}

// figuresOfGroup are a cell's figures; the zero group takes every group.
func figuresOfGroup(rows []schemas.SweepRow, g group, method string, lambda float64) map[figure]float64 {
	out := map[figure]float64{}
	for _, r := range rows {
		if g != (group{}) && (r.LabelTemperature != g.Temperature || r.Beta != g.Beta) {
			continue
		}
		if r.Method == method && r.Lambda == lambda {
			out[figure{r.Seed, r.Step, r.Benchmark, r.Metric}] = r.Value
		}
	}
	return out
}

// A sweep's rows are those of single runs of its cells, bit for bit, also
// with cells trained side by side, with two label temperatures and two βs,
// and with a run that starts at a later seed; λ = 0 gives DPO's figures
// exactly; every cell of a seed sees the same data order (the pairing the
// report's differences rest on); each policy is evaluated at every K steps
// and at the end.
func TestSweepRowsEqualSingleRuns(t *testing.T) {
	ctx := context.Background()
	grid := tinyRun(t)
	grid.Grid.Lambdas, grid.Grid.Methods, grid.Parallel = []float64{0, 1}, []model.LossType{model.LossDPO, model.LossSrDPO}, 2
	grid.Grid.Temperatures, grid.Grid.Betas = []float64{0.1, 0.3}, []float64{0.1, 0.2}
	grid.Seeds = 2
	if _, err := Run(ctx, grid, io.Discard); err != nil {
		t.Fatal(err)
	}
	single := tinyRun(t)
	single.Grid.Lambdas, single.Grid.Methods = []float64{1}, []model.LossType{model.LossSrDPO}
	single.Grid.Temperatures, single.Grid.Betas = []float64{0.3}, []float64{0.2}
	single.FirstSeed = 2 // seed 2 alone: the grid's second seed
	if _, err := Run(ctx, single, io.Discard); err != nil {
		t.Fatal(err)
	}
	gridRows, err := ReadSweepRows(filepath.Join(grid.Out, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	singleRows, err := ReadSweepRows(filepath.Join(single.Out, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	checkSameDataOrder(t, grid)

	cell := group{Temperature: 0.3, Beta: 0.2}
	want, got := figuresOf(singleRows, "sr-dpo", 1), figuresOfGroup(gridRows, cell, "sr-dpo", 1)
	if len(want) < 20 {
		t.Fatalf("the single run has %d figures of sr-dpo", len(want))
	}
	for f := range want {
		if f.Seed != 2 {
			t.Fatalf("the run from --first-seed 2 has a figure of seed %d", f.Seed)
		}
	}
	if seeds := countSeeds(gridRows, func(r schemas.SweepRow) int64 { return r.Seed }); seeds != 2 {
		t.Errorf("the grid has rows of %d seeds, want 2", seeds)
	}
	for f, v := range want {
		if g, ok := got[f]; !ok || g != v {
			t.Errorf("sr-dpo λ=1 (temperature 0.3, β 0.2) %+v: sweep %v (present %v), single run %v", f, g, ok, v)
		}
	}
	for f, v := range figuresOf(singleRows, "reference", 0) {
		if g := figuresOfGroup(gridRows, cell, "reference", 0)[f]; g != v {
			t.Errorf("reference %+v: sweep %v, single run %v", f, g, v)
		}
	}

	for _, g := range grid.Grid.groups() {
		dpo, lambda0 := figuresOfGroup(gridRows, g, "dpo", 0), figuresOfGroup(gridRows, g, "sr-dpo", 0)
		if len(dpo) < 20 {
			t.Fatalf("group %+v has %d figures of dpo", g, len(dpo))
		}
		for f, v := range dpo {
			if got, ok := lambda0[f]; !ok || got != v {
				t.Errorf("group %+v: sr-dpo λ=0 %+v = %v (present %v), dpo %v", g, f, got, ok, v)
			}
		}
	}
	dpo := figuresOfGroup(gridRows, cell, "dpo", 0)
	if md, err := os.ReadFile(filepath.Join(single.Out, "report.md")); err != nil || !strings.Contains(string(md), "1 seed(s) (2 to 2);") {
		t.Errorf("the report of a run from seed 2 does not name its seed (%v):\n%.300s", err, md)
	}
	md, err := os.ReadFile(filepath.Join(grid.Out, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Across the grid", "| 0.3 | 0.2 | sr-dpo λ=0 − dpo |", "| sr-dpo λ=1 |", "## Along training",
		"| sr-dpo λ=1 | 2 |", "![Δπ and β·h over training](delta-t0.3-b0.2.png)"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	var steps []int64
	for f := range dpo {
		if !slices.Contains(steps, f.Step) {
			steps = append(steps, f.Step)
		}
	}
	slices.Sort(steps)
	if !slices.Equal(steps, []int64{2, 4}) {
		t.Errorf("dpo evaluated at steps %v, want [2 4] (every 4/2 steps and the end)", steps)
	}
}

// checkSameDataOrder checks that every cell of each seed and label
// temperature (the cells trained on the same scored pairs, whatever their
// β, method and λ) trained on the same first batch: at step 1 the policy
// is still the reference, so the batch's mean log-probabilities of the
// chosen and rejected responses depend on nothing but which pairs it
// holds. The two seeds' first batches differ, so the check can fail.
func checkSameDataOrder(t *testing.T, c RunConfig) {
	t.Helper()
	type first struct{ chosen, rejected float64 }
	type key struct {
		seed        int
		temperature float64
	}
	firsts := map[key]first{}
	cells := 0
	for seed := c.FirstSeed; seed < c.FirstSeed+c.Seeds; seed++ {
		r := newSeedRun(c, seed, io.Discard, nil)
		for _, g := range c.Grid.groups() {
			if err := r.readMetrics(g); err != nil {
				t.Fatal(err)
			}
		}
		for cell, ms := range r.metrics {
			i := slices.IndexFunc(ms, func(m schemas.Metric) bool { return m.Split == "train" && m.Step == 1 })
			if i < 0 {
				t.Fatalf("seed %d: %+v has no step-1 metrics", seed, cell)
			}
			f, k := first{ms[i].LogpsChosen, ms[i].LogpsRejected}, key{seed, cell.Temperature}
			if seen, ok := firsts[k]; ok && f != seen {
				t.Errorf("seed %d: %+v's first batch has log-probs %+v, another cell's %+v: cells of a seed are not paired", seed, cell, f, seen)
			}
			firsts[k] = f
			cells++
		}
	}
	if want := c.Seeds * len(c.Grid.groups()) * len(c.Grid.cells(c.Grid.groups()[0])); cells != want {
		t.Fatalf("metrics of %d cells, want %d", cells, want)
	}
	for _, temp := range c.Grid.Temperatures {
		if c.Seeds > 1 && firsts[key{c.FirstSeed, temp}] == firsts[key{c.FirstSeed + 1, temp}] {
			t.Errorf("seeds %d and %d train on the same first batch", c.FirstSeed, c.FirstSeed+1)
		}
	}
}

// The flags of the grid: lists replace the defaults, and bad lists are
// refused with the flag's name.
func TestGridFlags(t *testing.T) {
	parse := func(args ...string) (RunConfig, error) {
		c := DefaultRunConfig()
		fs := flag.NewFlagSet("run", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		c.RegisterFlags(fs)
		if err := fs.Parse(args); err != nil {
			return c, err
		}
		return c, c.Validate()
	}
	c, err := parse("--lambda", "0,0.5", "--lambda", "2", "--temperature", "0.05, 0.3", "--methods", "dpo,sr-dpo")
	if err != nil {
		t.Fatal(err)
	}
	if c.Task.AugCorruptions != 1 {
		t.Errorf("the default task design gives p⊕x %d corruptions at most, want 1", c.Task.AugCorruptions)
	}
	if !slices.Equal(c.Grid.Lambdas, []float64{0, 0.5, 2}) || !slices.Equal(c.Grid.Temperatures, []float64{0.05, 0.3}) ||
		!slices.Equal(c.Grid.Betas, []float64{0.1}) || !slices.Equal(c.Grid.Methods, []model.LossType{"dpo", "sr-dpo"}) {
		t.Errorf("grid %+v", c.Grid)
	}
	cells := c.Grid.cells(group{0.05, 0.1})
	var names []string
	for _, cell := range cells {
		names = append(names, c.Grid.policyName(cell))
	}
	if want := []string{"dpo", "sr-dpo λ=0", "sr-dpo λ=0.5", "sr-dpo λ=2"}; !slices.Equal(names, want) {
		t.Errorf("cells %v, want %v", names, want)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--lambda", "x"}, `"x" is not a number`},
		{[]string{"--lambda", "-1"}, "--lambda -1: want ≥ 0"},
		{[]string{"--beta", "0.1,0.1"}, "--beta: 0.1 is listed twice"},
		{[]string{"--temperature", "0"}, "--temperature 0: want > 0"},
		{[]string{"--methods", "kto"}, `unknown method "kto"`},
		{[]string{"--parallel", "0"}, "--parallel 0"},
		{[]string{"--aug-corruptions", "4"}, "--aug-corruptions 4: want 0 to 2"},
		{[]string{"--aug-corruptions", "3"}, "--aug-corruptions 3: want 0 to 2 (x's responses have up to 3, and p⊕x must teach better ones)"},
		{[]string{"--first-seed", "0"}, "--first-seed 0: want at least 1"},
	} {
		if _, err := parse(bad.args...); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: error %v, want %q", bad.args, err, bad.want)
		}
	}
}

// Training metrics of two seeds average step by step.
func TestMeanOverSeeds(t *testing.T) {
	rows := []schemas.Metric{
		{Split: "train", Step: 2, Loss: 1, DeltaMean: 0.1, RewardsMargins: 1},
		{Split: "train", Step: 1, Loss: 3, DeltaMean: 0.2, RewardsMargins: 2},
		{Split: "train", Step: 2, Loss: 2, DeltaMean: 0.3, RewardsMargins: 4},
	}
	got := meanOverSeeds(rows)
	if len(got) != 2 || got[0].Step != 1 || got[0].Loss != 3 || got[1].Step != 2 || got[1].Loss != 1.5 ||
		math.Abs(got[1].DeltaMean-0.2) > 1e-15 || got[1].RewardsMargins != 2.5 {
		t.Errorf("got %+v", got)
	}
}
