package pipelines

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/srdpo/srdpo/atomicfile"
	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/schemas"
)

// writeSweepRows writes a run's rows, sorted by cell, seed and step, as
// one Arrow file.
func writeSweepRows(path string, rows []schemas.SweepRow) error {
	sorted := append([]schemas.SweepRow(nil), rows...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Key() < sorted[j].Key() })
	out := make([]schemas.Row, len(sorted))
	for i, r := range sorted {
		out[i] = r
	}
	var buf bytes.Buffer
	if err := schemas.WriteFile(&buf, schemas.FormatArrow, schemas.Sweeps, schemas.NewMetadata(), out); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return atomicfile.Write(path, buf.Bytes())
}

// ReadSweepRows reads a run's results.arrow.
func ReadSweepRows(path string) ([]schemas.SweepRow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rows, _, err := schemas.ReadRows[schemas.SweepRow](data, schemas.FormatArrow, schemas.Sweeps)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rows, nil
}

// groupEvals are a group's rows as evaluation rows, each policy named as
// in its group's evaluation ("sr-dpo λ=0.5") at its step.
func groupEvals(c RunConfig, g group, rows []schemas.SweepRow) []schemas.Eval {
	var out []schemas.Eval
	for _, r := range rows {
		if r.LabelTemperature != g.Temperature || r.Beta != g.Beta {
			continue
		}
		name := "reference"
		if r.Method != "reference" {
			cell := Cell{Method: model.LossType(r.Method), Temperature: r.LabelTemperature, Beta: r.Beta, Lambda: r.Lambda}
			name = c.Grid.policyName(cell)
		}
		out = append(out, schemas.Eval{Policy: name, Step: r.Step, Benchmark: r.Benchmark, Metric: r.Metric, Value: r.Value, N: r.N, Seed: r.Seed, Stderr: r.Stderr})
	}
	return out
}

// WriteSweepReport writes dir/report.md and its plots from a run's rows
// and training metrics: across the grid, each self-refining cell's paired
// difference with its baseline at matched KL; then for each (label
// temperature, β) the main table, the matched-KL table, the figures along
// training and the plots. It returns the tables as text.
func WriteSweepReport(dir string, c RunConfig, rows []schemas.SweepRow, metrics cellMetrics) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	seeds := countSeeds(rows, func(r schemas.SweepRow) int64 { return r.Seed })
	groups := c.Grid.groups()
	var md, text strings.Builder
	seedRange := ""
	if c.FirstSeed > 1 {
		seedRange = fmt.Sprintf(" (%d to %d)", c.FirstSeed, c.FirstSeed+c.Seeds-1)
	}
	fmt.Fprintf(&md, "# srdpo report\n\n%d seed(s)%s; label temperatures %s; β %s; λ %s; %d steps of %d pairs, evaluated at %d points. %s ",
		seeds, seedRange, floats(c.Grid.Temperatures), floats(c.Grid.Betas), floats(c.Grid.Lambdas), c.Train.Steps, c.Train.BatchSize, min(c.Curve, c.Train.Steps),
		cellsCaption(seeds))
	fmt.Fprintf(&md, "Every figure of every policy and step is a row of `%s` (schemas.Sweeps).\n\n", ResultsFile)
	if len(groups) > 1 || len(c.Grid.Lambdas) > 1 {
		if t := gridTable(c, groups, rows); t != "" {
			md.WriteString("## Across the grid: self-refinement minus its baseline at matched KL\n\n")
			md.WriteString(gridTableCaption + "\n\n" + t)
			text.WriteString(t + "\n")
		}
	}
	for _, g := range groups {
		suffix, heading := "", "##"
		if len(groups) > 1 {
			suffix = fmt.Sprintf("-t%s-b%s", num(g.Temperature), num(g.Beta))
			fmt.Fprintf(&md, "\n## %s\n\n", c.Grid.groupTitle(g))
			heading = "###"
		}
		evals := groupEvals(c, g, rows)
		figs, all := summarise(evals)
		policies := endPolicies(all)
		table := mainTable(figs, policies)
		md.WriteString(table)
		text.WriteString(table)
		if f := frontierTable(evals); f != "" {
			fmt.Fprintf(&md, "\n%s Gold reward at matched KL\n\n%s\n\n%s", heading, frontierCaption, f)
			text.WriteString("\n" + f)
		}
		if a := alongTable(evals); a != "" {
			fmt.Fprintf(&md, "\n%s Along training\n\n%s\n\n%s", heading, alongCaption, a)
		}
		named := map[string][]schemas.Metric{}
		for _, cell := range c.Grid.cells(g) {
			named[c.Grid.policyName(cell)] = meanOverSeeds(metrics[cell])
		}
		plots, err := writeGroupPlots(dir, suffix, figs, policies, named, curves(evals))
		if err != nil {
			return "", err
		}
		md.WriteString(strings.Replace(plots, "## Plots", heading+" Plots", 1))
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()), 0o644); err != nil {
		return "", err
	}
	return text.String(), nil
}

const frontierCaption = "Each method evaluated along its training (`--curve-points`) and at its end, a curve from the reference (KL 0) " +
	"in sampled gold reward against KL(π‖π_ref) (sequence-level, on samples: see above); " +
	"its gold reward at each KL interpolated linearly between evaluations (the first segment to reach it), the mean over seeds; " +
	"the KL values are fractions of the KL every curve of every seed reaches. Differences are paired by seed (same task, reference " +
	"and data order): the mean and a 95% paired Student-t interval over seeds."

const gridTableCaption = "For each label temperature, β and λ: the self-refining method's gold reward minus its baseline's (Sr-DPO − DPO, " +
	"Sr-IPO − IPO) at half and at all of the KL every curve of the cell's group reaches, paired by seed, with a 95% paired Student-t " +
	"interval over seeds; * marks an interval that excludes zero."

const alongCaption = "Each method at each evaluated step, the mean over seeds: gold reward, KL to the reference, held-out preference " +
	"accuracy, and the correlations of h and of Δπ with the true gap on held-out pairs — whether Δπ carries quality information " +
	"as training goes on — and the partial correlation of Δπ with the gap given h: whether Δπ tells about quality more than the " +
	"margin h the loss already has (what λ·Δπ can add)."

func floats(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = num(x)
	}
	return strings.Join(s, ", ")
}

// gridTable is the across-the-grid table: a row per self-refining cell.
func gridTable(c RunConfig, groups []group, rows []schemas.SweepRow) string {
	var b strings.Builder
	for _, g := range groups {
		f := computeFrontier(groupEvals(c, g, rows))
		if f == nil {
			continue
		}
		half, all := f.diffsAt(1), f.diffsAt(len(f.KL)-1)
		for i, d := range half {
			mark := func(d pairedDiff) string {
				if d.distinguishable() {
					return d.String() + " *"
				}
				return d.String()
			}
			fmt.Fprintf(&b, "| %s | %s | %s − %s | %.4f | %s | %.4f | %s |\n", num(g.Temperature), num(g.Beta), d.Policy, d.Baseline,
				d.KL, mark(d), all[i].KL, mark(all[i]))
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "| label temperature | β | difference | KL (half) | at half | KL (all) | at all |\n|---|---|---|---|---|---|---|\n" + b.String()
}

// alongTable lists every policy of a group at every evaluated step.
func alongTable(evals []schemas.Eval) string {
	figs, all := summarise(evals)
	type pol struct {
		name, method string
		step         int
	}
	var ps []pol
	for _, p := range all {
		if p.name == "reference" {
			continue
		}
		ps = append(ps, pol{p.label(), p.name, int(p.step)})
	}
	if len(ps) == 0 {
		return ""
	}
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].method != ps[j].method {
			return policyOrder(ps[i].method) < policyOrder(ps[j].method)
		}
		return ps[i].step < ps[j].step
	})
	q := schemas.BenchQualityCorrelation
	cols := []struct{ benchmark, metric string }{{schemas.BenchGoldReward, schemas.MetricMean}, {schemas.BenchGoldReward, schemas.MetricKL},
		{schemas.BenchPreferences, schemas.MetricAccuracy}, {q, schemas.CorrelationMetric("pearson", "h")}, {q, schemas.CorrelationMetric("pearson", "delta")},
		{q, schemas.MetricPartialDeltaGivenH}}
	var b strings.Builder
	b.WriteString("| policy | step | gold reward | KL(π‖π_ref) | pref. accuracy | Pearson(gap, h) | Pearson(gap, Δπ) | partial r(gap, Δπ \\| h) |\n|---|---|---|---|---|---|---|---|\n")
	for _, p := range ps {
		fmt.Fprintf(&b, "| %s | %d |", p.method, p.step)
		for _, c := range cols {
			if s, ok := figs[figureKey{p.name, c.benchmark, c.metric}]; ok {
				fmt.Fprintf(&b, " %.3f |", s.Mean)
			} else {
				b.WriteString(" – |")
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// meanOverSeeds averages training-metric rows of the same split and step
// (one per seed).
func meanOverSeeds(rows []schemas.Metric) []schemas.Metric {
	type key struct {
		split string
		step  int64
	}
	sums, counts := map[key]schemas.Metric{}, map[key]float64{}
	var order []key
	for _, r := range rows {
		k := key{r.Split, r.Step}
		s, seen := sums[k]
		if !seen {
			order = append(order, k)
			s = schemas.Metric{Split: r.Split, Step: r.Step, Epoch: r.Epoch}
		}
		s.Loss += r.Loss
		s.RewardsAccuracies += r.RewardsAccuracies
		s.RewardsMargins += r.RewardsMargins
		s.DeltaMean += r.DeltaMean
		sums[k], counts[k] = s, counts[k]+1
	}
	sort.Slice(order, func(i, j int) bool { return order[i].step < order[j].step })
	out := make([]schemas.Metric, len(order))
	for i, k := range order {
		s, n := sums[k], counts[k]
		s.Loss, s.RewardsAccuracies, s.RewardsMargins, s.DeltaMean = s.Loss/n, s.RewardsAccuracies/n, s.RewardsMargins/n, s.DeltaMean/n
		out[i] = s
	}
	return out
}

// writeGroupPlots draws a group's plots with the file-name suffix and
// returns the report's section showing them: the training curves, Δπ
// against β·h, gold reward against KL and the win rates.
func writeGroupPlots(dir, suffix string, figs map[figureKey]overSeeds, policies []string, metrics map[string][]schemas.Metric,
	cs map[int64]map[string][]CurvePoint) (string, error) {
	var md strings.Builder
	md.WriteString("\n## Plots\n\n")
	for _, m := range []struct{ file, metric string }{{"loss", "loss"}, {"accuracies", "rewards/accuracies"}, {"margins", "rewards/margins"}} {
		file := m.file + suffix + ".png"
		if err := curvePlot(filepath.Join(dir, file), m.metric, metrics); err != nil {
			return "", err
		}
		fmt.Fprintf(&md, "![%s](%s)\n", m.metric, file)
	}
	file := "delta" + suffix + ".png"
	if err := deltaPlot(filepath.Join(dir, file), metrics); err != nil {
		return "", err
	}
	fmt.Fprintf(&md, "![Δπ and β·h over training](%s)\n", file)
	file = "reward_vs_kl" + suffix + ".png"
	if err := rewardKLPlot(filepath.Join(dir, file), figs, policies, cs); err != nil {
		return "", err
	}
	fmt.Fprintf(&md, "![gold reward against KL](%s)\n", file)
	file = "win_rates" + suffix + ".png"
	if err := winPlot(filepath.Join(dir, file), figs, policies); err != nil {
		return "", err
	}
	fmt.Fprintf(&md, "![win rates](%s)\n", file)
	return md.String(), nil
}

// deltaPlot draws, for each self-refining policy, the batch means of Δπ
// (solid) and β·h (dashed) over training: the self-refinement term is
// λ·Δπ beside β·h inside the loss, so this shows when it starts to matter.
func deltaPlot(path string, metrics map[string][]schemas.Metric) error {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = "Δπ (solid) and β·h (dashed), batch means", "step", "nats"
	var names []string
	for n := range metrics {
		if baselineOf(n) != "" {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool { return policyOrder(names[i]) < policyOrder(names[j]) })
	for i, n := range names {
		var delta, margin plotter.XYs
		for _, r := range metrics[n] {
			if r.Split != "train" || math.IsNaN(r.DeltaMean) {
				continue
			}
			delta = append(delta, plotter.XY{X: float64(r.Step), Y: r.DeltaMean})
			margin = append(margin, plotter.XY{X: float64(r.Step), Y: r.RewardsMargins})
		}
		if len(delta) == 0 {
			continue
		}
		for k, xy := range []plotter.XYs{delta, margin} {
			l, err := plotter.NewLine(xy)
			if err != nil {
				return err
			}
			l.LineStyle.Color = plotutil.Color(i)
			l.LineStyle.Width = vg.Points(1.2)
			if k == 1 {
				l.LineStyle.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
			} else {
				p.Legend.Add(n, l)
			}
			p.Add(l)
		}
	}
	p.Legend.Top, p.Legend.Left = true, true
	return p.Save(6*vg.Inch, 4*vg.Inch, path)
}
