package pipelines

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/tasks"
)

// Grid is the run's list-valued settings: every combination of a label
// temperature, a β and a method is trained, Sr-DPO and Sr-IPO once per λ.
// Cells of a seed share its task, reference and data order, so any two
// are paired.
type Grid struct {
	Temperatures []float64 // Bradley–Terry temperatures of the labels (label noise)
	Betas        []float64
	Lambdas      []float64 // of Sr-DPO and Sr-IPO; 0 trains them as DPO and IPO, a check
	Methods      []model.LossType
}

// RegisterFlags binds the grid to list-valued flags.
func (g *Grid) RegisterFlags(fs *flag.FlagSet) {
	fs.Var(NewFloatList(&g.Temperatures), "temperature", tasks.TemperatureUsage+"; a list (0.05,0.1,0.3) sweeps label noise")
	fs.Var(NewFloatList(&g.Betas), "beta", "β; a list sweeps it")
	fs.Var(NewFloatList(&g.Lambdas), "lambda", "λ of Sr-DPO and Sr-IPO; a list (0,0.5,1,2) sweeps it (λ 0 must equal DPO and IPO)")
	fs.Var(methodList{&g.Methods}, "methods", "methods to train: dpo, ipo, sr-dpo, sr-ipo")
}

// Validate checks the grid: every list non-empty, without repeats, and
// in range.
func (g Grid) Validate() error {
	for _, l := range []struct {
		flag string
		vals []float64
		ok   func(float64) bool
		want string
	}{
		{"temperature", g.Temperatures, func(v float64) bool { return v > 0 }, "> 0"},
		{"beta", g.Betas, func(v float64) bool { return v > 0 }, "> 0"},
		{"lambda", g.Lambdas, func(v float64) bool { return v >= 0 }, "≥ 0"},
	} {
		if len(l.vals) == 0 {
			return fmt.Errorf("--%s: want at least one value", l.flag)
		}
		for i, v := range l.vals {
			if !l.ok(v) {
				return fmt.Errorf("--%s %g: want %s", l.flag, v, l.want)
			}
			if slices.Contains(l.vals[:i], v) {
				return fmt.Errorf("--%s: %g is listed twice", l.flag, v)
			}
		}
	}
	if len(g.Methods) == 0 {
		return fmt.Errorf("--methods: want at least one method")
	}
	for i, m := range g.Methods {
		if !slices.Contains(Methods(), m) {
			return fmt.Errorf("--methods: unknown method %q (want dpo, ipo, sr-dpo or sr-ipo)", m)
		}
		if slices.Contains(g.Methods[:i], m) {
			return fmt.Errorf("--methods: %s is listed twice", m)
		}
	}
	return nil
}

// methodList reads --methods.
type methodList struct{ p *[]model.LossType }

func (l methodList) String() string {
	if l.p == nil {
		return ""
	}
	s := make([]string, len(*l.p))
	for i, m := range *l.p {
		s[i] = string(m)
	}
	return strings.Join(s, ",")
}

func (l methodList) Set(v string) error {
	var names StringList
	if err := names.Set(v); err != nil {
		return err
	}
	*l.p = nil
	for _, n := range names {
		*l.p = append(*l.p, model.LossType(n))
	}
	return nil
}

// group is the cells evaluated together: one label temperature and β.
type group struct{ Temperature, Beta float64 }

// Cell is one training of the grid.
type Cell struct {
	Method            model.LossType
	Temperature, Beta float64
	Lambda            float64 // 0 for DPO and IPO
}

func (c Cell) group() group { return group{c.Temperature, c.Beta} }

// cells lists a group's cells in the order they are trained and reported.
func (g Grid) cells(gr group) []Cell {
	var out []Cell
	for _, m := range g.Methods {
		if !m.SelfRefined() {
			out = append(out, Cell{Method: m, Temperature: gr.Temperature, Beta: gr.Beta})
			continue
		}
		for _, l := range g.Lambdas {
			out = append(out, Cell{Method: m, Temperature: gr.Temperature, Beta: gr.Beta, Lambda: l})
		}
	}
	return out
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// namesLambda says whether a cell's name carries its λ: a self-refining
// method's, when the grid has several. Single-valued grids name policies
// as plain methods, as srdpo eval does.
func (g Grid) namesLambda(c Cell) bool { return c.Method.SelfRefined() && len(g.Lambdas) > 1 }

// policyName names a cell within its group: "dpo", "sr-dpo λ=0.5".
func (g Grid) policyName(c Cell) string {
	if g.namesLambda(c) {
		return fmt.Sprintf("%s λ=%s", c.Method, num(c.Lambda))
	}
	return string(c.Method)
}

// cellDir is the cell's folder within its group's: "dpo", "sr-dpo-lambda-0.5".
func (g Grid) cellDir(c Cell) string {
	if g.namesLambda(c) {
		return fmt.Sprintf("%s-lambda-%s", c.Method, num(c.Lambda))
	}
	return string(c.Method)
}

// temperatureDir and betaDir are the folders of a grid's axes with more
// than one value ("" for one).
func (g Grid) temperatureDir(t float64) string {
	if len(g.Temperatures) > 1 {
		return "temperature-" + num(t)
	}
	return ""
}

func (g Grid) betaDir(b float64) string {
	if len(g.Betas) > 1 {
		return "beta-" + num(b)
	}
	return ""
}

// groupTitle names a group by its settings.
func (g Grid) groupTitle(gr group) string {
	return fmt.Sprintf("label temperature %s, β %s", num(gr.Temperature), num(gr.Beta))
}

// groupPrefix is the group's title for progress lines of grids with
// several groups.
func (g Grid) groupPrefix(gr group) string {
	if len(g.Temperatures)*len(g.Betas) == 1 {
		return ""
	}
	return g.groupTitle(gr) + ": "
}

// groups lists the grid's groups in order.
func (g Grid) groups() []group {
	var out []group
	for _, t := range g.Temperatures {
		for _, b := range g.Betas {
			out = append(out, group{t, b})
		}
	}
	return out
}

// cellStep is a policy of the sweep: a cell at a step of its training.
type cellStep struct {
	Cell
	Step int
}

// row is an evaluation row of the policy as a sweep row.
func (cs cellStep) row(e schemas.Eval) schemas.SweepRow {
	return schemas.SweepRow{Seed: e.Seed, LabelTemperature: cs.Temperature, Beta: cs.Beta, Lambda: cs.Lambda,
		Method: string(cs.Method), Step: int64(cs.Step), Benchmark: e.Benchmark, Metric: e.Metric, Value: e.Value, N: e.N, Stderr: e.Stderr}
}

// cellMetrics are each cell's training metrics, of every seed.
type cellMetrics map[Cell][]schemas.Metric

func (m cellMetrics) add(o cellMetrics) {
	for c, rows := range o {
		m[c] = append(m[c], rows...)
	}
}

// doParallel runs jobs, at most n at a time, and returns the first error
// (in job order).
func doParallel(n int, jobs []func() error) error {
	errs := make([]error, len(jobs))
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, job := range jobs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = job()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// The run's units of work and their cost on this project's reference
// machine (2 cores) at width 64, batch 32: what the estimate before a run
// multiplies, scaled by width² and batch. Measured on 2026-12-05 with
// `srdpo run --seeds 1` on an idle machine (3m26s in all): the SFT 65 s,
// 200 training steps 7–9 s, scoring 1,000 + 200 pairs 7 s, 21 sampled
// evaluations (200 prompts × 8 samples and the greedy response, 200 pairs)
// 103 s. The greedy-only constant (0.5) made the sampled grids' estimates
// half their time.
type work int

const (
	workSFT       work = iota // the SFT of one reference
	workScore                 // scoring one label temperature's pairs
	workTrainStep             // one step of preference training
	workEval                  // one policy evaluated
)

var workSeconds = map[work]float64{workSFT: 72, workScore: 7, workTrainStep: 0.04, workEval: 0.98}

// runClock estimates a run's time before it starts and reports progress
// with the time left, from the rates measured so far.
type runClock struct {
	mu       sync.Mutex
	w        io.Writer
	began    time.Time
	total    map[work]float64 // units in the run
	finished map[work]float64
	scale    map[work]float64
}

func newRunClock(c RunConfig, w io.Writer) *runClock {
	cells := 0
	for _, g := range c.Grid.groups() {
		cells += len(c.Grid.cells(g))
	}
	points := min(c.Curve, c.Train.Steps)
	width := float64(c.Reference.Width*c.Reference.Width) / (64 * 64)
	seeds := float64(c.Seeds)
	return &runClock{w: w, began: time.Now(),
		total: map[work]float64{workSFT: seeds, workScore: seeds * float64(len(c.Grid.Temperatures)), workTrainStep: seeds * float64(cells*c.Train.Steps),
			workEval: seeds * float64(len(c.Grid.groups())+cells*points)},
		finished: map[work]float64{},
		scale: map[work]float64{workSFT: width * float64(c.SFT.Steps) / 2000, workTrainStep: width * float64(c.Train.BatchSize) / 32,
			workScore: width * float64(c.Task.Pairs+c.Task.HeldoutPairs) / 1200,
			// A sampled response (with the reference along it) costs about
			// what the greedy one does.
			workEval: width * (float64(c.Task.EvalPrompts*(1+c.Samples)) + float64(c.Task.HeldoutPairs)) / 400},
	}
}

// seconds is the estimated time of the run's work not yet done (all of
// it before the start).
func (k *runClock) seconds(left bool) float64 {
	var s float64
	for w, n := range k.total {
		if left {
			n -= k.finished[w]
		}
		s += n * workSeconds[w] * k.scale[w]
	}
	return s
}

func (k *runClock) estimate() {
	fmt.Fprintf(k.w, "srdpo run: %.0f SFT runs, %.0f scorings, %.0f training steps, %.0f policy evaluations; estimated %s on 2 cores\n",
		k.total[workSFT], k.total[workScore], k.total[workTrainStep], k.total[workEval], (time.Duration(k.seconds(false)) * time.Second).Round(time.Second))
}

// done records finished work and prints the progress: the share done,
// the time so far and the time left at the pace so far.
func (k *runClock) done(w work, units int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.finished[w] += float64(units)
	all, left := k.seconds(false), k.seconds(true)
	frac := 1 - left/all
	elapsed := time.Since(k.began)
	eta := time.Duration(float64(elapsed) * (1 - frac) / max(frac, 1e-9))
	fmt.Fprintf(k.w, "srdpo run: %3.0f%% done, %s so far, about %s left\n", 100*frac, elapsed.Round(time.Second), eta.Round(time.Second))
}
