package pipelines

import (
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stats"
)

// PrintSummary writes the counters and the wall time of a run.
func PrintSummary(w io.Writer, counters map[string]int64, wall time.Duration) {
	names := make([]string, 0, len(counters))
	for n := range counters {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-28s %d\n", n, counters[n])
	}
	fmt.Fprintf(w, "  %-28s %s\n", "wall_time", wall.Round(time.Millisecond))
}

// figureKey identifies a figure across seeds; policy is a policyAt's label.
type figureKey struct{ policy, benchmark, metric string }

// policyAt is a policy at one step of its training, as the reports show
// it: by its name at its last step (the end of its training), as
// "name@step" at the points before.
type policyAt struct {
	name string
	step int64
	last bool
}

func (p policyAt) label() string {
	if p.last {
		return p.name
	}
	return fmt.Sprintf("%s@%d", p.name, p.step)
}

// overSeeds is a figure over seeds: their mean, smallest and largest value.
type overSeeds struct {
	Mean, Min, Max float64
	Seeds          int
	Stderr         float64 // the mean over seeds of the rows' standard errors
	N              int64   // items of the first seed's row
}

// summarise groups eval rows by figure, over seeds, and lists the
// policies at their steps.
func summarise(rows []schemas.Eval) (map[figureKey]overSeeds, []policyAt) {
	vals, stderrs := map[figureKey][]float64{}, map[figureKey][]float64{}
	items := map[figureKey]int64{}
	lastStep := map[string]int64{}
	for _, r := range rows {
		lastStep[r.Policy] = max(lastStep[r.Policy], r.Step)
	}
	policySet := map[string]policyAt{}
	for _, r := range rows {
		p := policyAt{r.Policy, r.Step, r.Step == lastStep[r.Policy]}
		k := figureKey{p.label(), r.Benchmark, r.Metric}
		vals[k] = append(vals[k], r.Value)
		stderrs[k] = append(stderrs[k], r.Stderr)
		if _, ok := items[k]; !ok {
			items[k] = r.N
		}
		policySet[p.label()] = p
	}
	out := map[figureKey]overSeeds{}
	for k, v := range vals {
		sp := stats.SpreadOf(v)
		out[k] = overSeeds{Mean: stats.Mean(v), Min: sp.Min, Max: sp.Max, Seeds: len(v), Stderr: stats.Mean(stderrs[k]), N: items[k]}
	}
	var policies []policyAt
	for _, p := range policySet {
		policies = append(policies, p)
	}
	sort.Slice(policies, func(i, j int) bool { return policyOrder(policies[i].label()) < policyOrder(policies[j].label()) })
	return out, policies
}

// policyOrder sorts policies: the reference, then the methods in their
// order, each method's cells ("sr-dpo λ=0.5") by name.
func policyOrder(p string) string {
	method := strings.FieldsFunc(p, func(r rune) bool { return r == ' ' || r == '@' })
	for i, known := range []string{"reference", "dpo", "ipo", "sr-dpo", "sr-ipo"} {
		if len(method) > 0 && method[0] == known {
			return fmt.Sprint(i) + p
		}
	}
	return "9" + p
}

// samplingCaption says what the gold reward, win and KL figures are.
const samplingCaption = "Gold reward, win rates and KL(π‖π_ref) are means over responses sampled from each policy, at temperature 1 " +
	"unless the evaluation says otherwise (`--samples` of srdpo eval, `--eval-samples` of srdpo run, per held-out prompt, seeded by prompt and sample, ± the standard error over prompts with one seed; " +
	"[min, max] over seeds with several). KL(π‖π_ref) is each response's sum over its positions of the exact KL between the " +
	"policy's and the reference's next-token distributions (results: `kl_to_reference`; the Monte-Carlo Σ log π/π_ref is " +
	"`kl_to_reference_mc`; standard errors in the rows' `stderr`). The greedy response's gold reward is under `gold_reward_greedy`."

// reportColumns are the figures of the report's main table.
var reportColumns = []struct{ title, benchmark, metric string }{
	{"gold reward", schemas.BenchGoldReward, schemas.MetricMean},
	{"win vs reference", schemas.BenchGoldReward, schemas.MetricWinRateVs + "reference"},
	{"win vs DPO", schemas.BenchGoldReward, schemas.MetricWinRateVs + "dpo"},
	{"KL(π‖π_ref)", schemas.BenchGoldReward, schemas.MetricKL},
	{"greedy gold reward", schemas.BenchGoldReward + schemas.GreedySuffix, schemas.MetricMean},
	{"RM reward", schemas.BenchRewardModel, schemas.MetricMean},
	{"RM win vs reference", schemas.BenchRewardModel, schemas.MetricWinRateVs + "reference"},
	{"RM KL(π‖π_ref)", schemas.BenchRewardModel, schemas.MetricKL},
	{"Pearson(RM gap, Δπ)", schemas.BenchRewardModelCorrelation, schemas.CorrelationMetric("pearson", "delta")},
	{"partial r(RM gap, Δπ \\| h)", schemas.BenchRewardModelCorrelation, schemas.MetricPartialDeltaGivenH},
	{"pref. accuracy", schemas.BenchPreferences, schemas.MetricAccuracy},
	{"Pearson(gap, ref p-margin)", schemas.BenchQualityCorrelation, schemas.MetricPearsonRefPMargin},
	{"Pearson(gap, h)", schemas.BenchQualityCorrelation, schemas.CorrelationMetric("pearson", "h")},
	{"Pearson(gap, Δπ)", schemas.BenchQualityCorrelation, schemas.CorrelationMetric("pearson", "delta")},
	{"Spearman(gap, Δπ)", schemas.BenchQualityCorrelation, schemas.CorrelationMetric("spearman", "delta")},
	{"Kendall(gap, Δπ)", schemas.BenchQualityCorrelation, schemas.CorrelationMetric("kendall", "delta")},
	{"partial r(gap, Δπ \\| h)", schemas.BenchQualityCorrelation, schemas.MetricPartialDeltaGivenH},
}

// WriteReport writes dir/report.md from eval rows (any number of seeds) and
// training metrics per method, with PNG plots: training curves, gold reward
// against KL, and win rates. It returns the main table as text.
func WriteReport(dir string, rows []schemas.Eval, metrics map[string][]schemas.Metric) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	figs, all := summarise(rows)
	policies := endPolicies(all)
	seeds := countSeeds(rows, func(r schemas.Eval) int64 { return r.Seed })
	table := mainTable(figs, policies)
	var md strings.Builder
	fmt.Fprintf(&md, "# srdpo report\n\n%d policies, %d seed(s). %s\n\n", len(policies), seeds, cellsCaption(seeds))
	md.WriteString(table)
	if table != "" {
		md.WriteString("\n" + samplingCaption + "\n")
	}
	if frontier := frontierTable(rows); frontier != "" {
		md.WriteString("\n## Gold reward at matched KL\n\n" + frontierCaption + "\n\n")
		md.WriteString(frontier)
		table += "\n" + frontier
	}
	leaderboard := leaderboardTable(figs, policies)
	if leaderboard != "" {
		md.WriteString("\n## Open LLM Leaderboard tasks (the paper's Table 3)\n\n")
		md.WriteString("Percent, ± the standard error as lm-evaluation-harness reports it; metrics: ")
		for i, c := range leaderboardColumns {
			if i > 0 {
				md.WriteString(", ")
			}
			fmt.Fprintf(&md, "%s %s %s", c.title, c.benchmark, c.metric)
		}
		md.WriteString("; the average is over the columns present, for policies with all of them.\n\n")
		md.WriteString(leaderboard)
		table += "\n" + leaderboard
	}
	md.WriteString(benchmarkTable(figs))
	plots, err := writeGroupPlots(dir, "", figs, policies, metrics, curves(rows))
	if err != nil {
		return "", err
	}
	md.WriteString(plots)
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md.String()), 0o644); err != nil {
		return "", err
	}
	return table, nil
}

// endPolicies are the policies at the end of their training: the tables
// show those, not the points along it.
func endPolicies(all []policyAt) []string {
	var out []string
	for _, p := range all {
		if p.last {
			out = append(out, p.name)
		}
	}
	return out
}

// countSeeds is how many seeds rows are of.
func countSeeds[R any](rows []R, seed func(R) int64) int {
	seen := map[int64]bool{}
	for _, r := range rows {
		seen[seed(r)] = true
	}
	return len(seen)
}

// cellsCaption says what a table cell of a report holds.
func cellsCaption(seeds int) string {
	spread := ""
	if seeds > 1 {
		spread = ", [min, max] over seeds"
	}
	return "Each cell: the mean over seeds" + spread + ". Win rates count ties as one half; gold reward, win rates and " +
		"KL(π‖π_ref) are on sampled responses (below the table); the correlations are with the true quality gap r*(y+) − r*(y−) on held-out pairs " +
		"(the paper's Table 4); partial r(gap, Δπ | h) is the correlation of Δπ with the gap once h is taken out of both, " +
		"what Δπ tells about quality beyond the margin the loss already has."
}

// anyPolicyHas tells whether some policy has the figure: a table shows
// the columns that are not empty.
func anyPolicyHas(figs map[figureKey]overSeeds, policies []string, benchmark, metric string) bool {
	for _, p := range policies {
		if _, ok := figs[figureKey{p, benchmark, metric}]; ok {
			return true
		}
	}
	return false
}

// mainTable is the report's table: a row per policy, a column per figure
// of reportColumns, each the mean over seeds with [min, max] when there
// are several.
func mainTable(figs map[figureKey]overSeeds, policies []string) string {
	var columns []struct{ title, benchmark, metric string } // those some policy has
	for _, c := range reportColumns {
		if anyPolicyHas(figs, policies, c.benchmark, c.metric) {
			columns = append(columns, c)
		}
	}
	if len(columns) == 0 {
		return "" // a benchmark-only evaluation
	}
	var table strings.Builder
	table.WriteString("| policy |")
	for _, c := range columns {
		table.WriteString(" " + c.title + " |")
	}
	table.WriteString("\n|---|")
	for range columns {
		table.WriteString("---|")
	}
	table.WriteString("\n")
	for _, p := range policies {
		table.WriteString("| " + p + " |")
		for _, c := range columns {
			s, ok := figs[figureKey{p, c.benchmark, c.metric}]
			switch {
			case !ok:
				table.WriteString(" – |")
			case s.Seeds > 1:
				fmt.Fprintf(&table, " %.3f [%.3f, %.3f] |", s.Mean, s.Min, s.Max)
			default:
				if s.Stderr > 0 {
					fmt.Fprintf(&table, " %.3f ± %.3f |", s.Mean, s.Stderr)
				} else {
					fmt.Fprintf(&table, " %.3f |", s.Mean)
				}
			}
		}
		table.WriteString("\n")
	}
	return table.String()
}

// leaderboardColumns are the paper's Table 3: each task with the metric
// the Open LLM Leaderboard reports for it.
var leaderboardColumns = []struct{ title, benchmark, metric string }{
	{"ARC", "arc_challenge", "acc_norm"},
	{"HellaSwag", "hellaswag", "acc_norm"},
	{"MMLU", "mmlu", "acc"},
	{"TruthfulQA", "truthfulqa_mc2", "acc"},
	{"Winogrande", "winogrande", "acc"},
	{"GSM8K", "gsm8k", "exact_match,strict-match"},
}

// leaderboardTable is Table 3's layout: a row per policy, a column per
// task evaluated, and their average; "" when no task was.
func leaderboardTable(figs map[figureKey]overSeeds, policies []string) string {
	var cols []int
	for i, c := range leaderboardColumns {
		if anyPolicyHas(figs, policies, c.benchmark, c.metric) {
			cols = append(cols, i)
		}
	}
	if len(cols) == 0 {
		return ""
	}
	var t strings.Builder
	t.WriteString("| policy |")
	for _, i := range cols {
		t.WriteString(" " + leaderboardColumns[i].title + " |")
	}
	t.WriteString(" Average |\n|---|")
	for range cols {
		t.WriteString("---|")
	}
	t.WriteString("---|\n")
	for _, p := range policies {
		var sum float64
		n := 0
		var cells strings.Builder
		for _, i := range cols {
			c := leaderboardColumns[i]
			s, ok := figs[figureKey{p, c.benchmark, c.metric}]
			if !ok {
				cells.WriteString(" – |")
				continue
			}
			fmt.Fprintf(&cells, " %.2f ± %.2f |", 100*s.Mean, 100*s.Stderr)
			sum += s.Mean
			n++
		}
		if n == 0 {
			continue
		}
		avg := " – |"
		if n == len(cols) {
			avg = fmt.Sprintf(" %.2f |", 100*sum/float64(n))
		}
		t.WriteString("| " + p + " |" + cells.String() + avg + "\n")
	}
	return t.String()
}

// benchmarkTable lists the figures beyond the main table (multiple
// choice and benchmarks, with their standard errors and item counts), or
// nothing.
func benchmarkTable(figs map[figureKey]overSeeds) string {
	var extra []figureKey
	for k := range figs {
		// The evaluation's own figures are the main table's and
		// results' (greedy ones, the Monte-Carlo KL, a reward model's).
		own := false
		for _, prefix := range []string{schemas.BenchGoldReward, schemas.BenchRewardModel, schemas.BenchPreferences, schemas.BenchQualityCorrelation} {
			own = own || strings.HasPrefix(k.benchmark, prefix)
		}
		if !own {
			extra = append(extra, k)
		}
	}
	if len(extra) == 0 {
		return ""
	}
	sort.Slice(extra, func(i, j int) bool {
		a, b := extra[i], extra[j]
		return a.benchmark+a.metric+policyOrder(a.policy) < b.benchmark+b.metric+policyOrder(b.policy)
	})
	var md strings.Builder
	md.WriteString("\n## Benchmarks\n\n| benchmark | metric | policy | value | stderr | items |\n|---|---|---|---|---|---|\n")
	for _, k := range extra {
		f := figs[k]
		fmt.Fprintf(&md, "| %s | %s | %s | %.4f | %.4f | %d |\n", k.benchmark, k.metric, k.policy, f.Mean, f.Stderr, f.N)
	}
	return md.String()
}

// curvePlot draws one training metric against the step, a line per method.
func curvePlot(path, metric string, metrics map[string][]schemas.Metric) error {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = metric, "step", metric
	var methods []string
	for m := range metrics {
		methods = append(methods, m)
	}
	sort.Slice(methods, func(i, j int) bool { return policyOrder(methods[i]) < policyOrder(methods[j]) })
	var lines []any
	for _, m := range methods {
		var xy plotter.XYs
		for _, r := range metrics[m] {
			v := map[string]float64{"loss": r.Loss, "rewards/accuracies": r.RewardsAccuracies,
				"rewards/margins": r.RewardsMargins, "delta/mean": r.DeltaMean}[metric]
			if r.Split == "train" && !math.IsNaN(v) {
				xy = append(xy, plotter.XY{X: float64(r.Step), Y: v})
			}
		}
		if len(xy) > 0 {
			lines = append(lines, m, xy)
		}
	}
	if len(lines) > 0 {
		if err := plotutil.AddLinePoints(p, lines...); err != nil {
			return err
		}
	}
	p.Legend.Top = true
	return p.Save(6*vg.Inch, 4*vg.Inch, path)
}

// rewardKLPlot places each policy at (KL to reference, gold reward).
func rewardKLPlot(path string, figs map[figureKey]overSeeds, policies []string, cs map[int64]map[string][]CurvePoint) error {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = "gold reward against KL", "KL to reference (per token)", "gold reward"
	// Each seed's curve per method, a line from the reference through the
	// evaluations along training to the end, in the method's colour; seeds
	// in order, so that the same figures draw the same image.
	for _, seed := range slices.Sorted(maps.Keys(cs)) {
		ms := cs[seed]
		for i, pol := range policies {
			pts := ms[pol]
			if len(pts) < 2 {
				continue
			}
			xys := make(plotter.XYs, len(pts))
			for k, c := range pts {
				xys[k] = plotter.XY{X: c.KL, Y: c.Reward}
			}
			l, err := plotter.NewLine(xys)
			if err != nil {
				return err
			}
			l.LineStyle.Color = plotutil.Color(i)
			l.LineStyle.Width = vg.Points(1)
			p.Add(l)
		}
	}
	for i, pol := range policies {
		r, ok1 := figs[figureKey{pol, schemas.BenchGoldReward, schemas.MetricMean}]
		kl, ok2 := figs[figureKey{pol, schemas.BenchGoldReward, schemas.MetricKL}]
		if !ok1 || !ok2 {
			continue
		}
		s, err := plotter.NewScatter(plotter.XYs{{X: kl.Mean, Y: r.Mean}})
		if err != nil {
			return err
		}
		s.GlyphStyle.Color = plotutil.Color(i)
		s.GlyphStyle.Shape = plotutil.Shape(i)
		s.GlyphStyle.Radius = vg.Points(4)
		p.Add(s)
		p.Legend.Add(pol, s)
	}
	return p.Save(6*vg.Inch, 4*vg.Inch, path)
}

// winPlot draws each policy's win rates against the reference and DPO.
func winPlot(path string, figs map[figureKey]overSeeds, policies []string) error {
	p := plot.New()
	p.Title.Text, p.Y.Label.Text = "win rates (ties count half)", "win rate"
	p.Y.Min, p.Y.Max = 0, 1
	w := vg.Points(12)
	var shown []string // the reference is the baseline, not a bar
	for _, pol := range policies {
		if pol != "reference" {
			shown = append(shown, pol)
		}
	}
	for i, against := range []string{"reference", "dpo"} {
		var vals plotter.Values
		for _, pol := range shown {
			s, ok := figs[figureKey{pol, schemas.BenchGoldReward, schemas.MetricWinRateVs + against}]
			switch {
			case ok:
				vals = append(vals, s.Mean)
			case pol == against:
				vals = append(vals, 0.5) // against itself every prompt is a tie
			default:
				vals = append(vals, 0)
			}
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return err
		}
		bars.Color = plotutil.Color(i)
		bars.Offset = w * vg.Length(2*i-1) / 2
		p.Add(bars)
		p.Legend.Add("vs "+against, bars)
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.NominalX(shown...)
	return p.Save(6*vg.Inch, 4*vg.Inch, path)
}
