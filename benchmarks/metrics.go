package benchmarks

import (
	"math"
	"regexp"
	"strings"
	"unicode/utf8"
)

// ScoreChoices is a multiple-choice document's metrics, in the order of
// t.Metrics, from its choices' loglikelihoods: acc (the argmax of the
// loglikelihoods is gold), acc_norm (the argmax of the loglikelihood per
// character of the choice), and for truthfulqa_mc2 the normalised
// probability mass on the true answers (named acc, as the harness does).
// Ties go to the first choice, as numpy's argmax.
func (t *Task) ScoreChoices(d Doc, lls []float64) []float64 {
	if t == truthfulQAMC2 {
		return []float64{mc2(d.Labels, lls)}
	}
	acc, accNorm := ChoiceAccuracy(d.Choices, lls, d.Gold)
	out := make([]float64, 0, len(t.Metrics))
	for _, m := range t.Metrics {
		switch m {
		case "acc":
			out = append(out, acc)
		case "acc_norm":
			out = append(out, accNorm)
		}
	}
	return out
}

// ChoiceAccuracy is one item's acc and acc_norm as the harness computes
// them: 1 where the argmax of the choices' loglikelihoods (acc), or of
// their loglikelihoods over the choice's length in characters (acc_norm),
// is gold; ties go to the first, as numpy's argmax.
func ChoiceAccuracy(choices []string, lls []float64, gold int) (acc, accNorm float64) {
	best, bestNorm := 0, 0
	norm := func(i int) float64 { return lls[i] / float64(utf8.RuneCountInString(choices[i])) }
	for i := range lls {
		if lls[i] > lls[best] {
			best = i
		}
		if norm(i) > norm(bestNorm) {
			bestNorm = i
		}
	}
	return hit(best == gold), hit(bestNorm == gold)
}

func hit(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// mc2 is utils.process_results_mc2: exp of the loglikelihoods, the mass of
// the answers before the first false label over the mass of all. The
// largest loglikelihood is taken out first, which changes nothing but
// keeps long answers from underflowing to 0/0.
func mc2(labels []int, lls []float64) float64 {
	split := 0
	for split < len(labels) && labels[split] != 0 {
		split++
	}
	top := math.Inf(-1)
	for _, l := range lls {
		top = math.Max(top, l)
	}
	var all, truth float64
	for i, l := range lls {
		p := math.Exp(l - top)
		all += p
		if i < split {
			truth += p
		}
	}
	return truth / all
}

// CutAtStop is the generation cut as the harness cuts it: at the first of
// the stop strings, each split in turn.
func CutAtStop(text string, until []string) string {
	for _, u := range until {
		if u != "" {
			text, _, _ = strings.Cut(text, u)
		}
	}
	return text
}

// ScoreGeneration is a generation document's metrics, in the order of
// t.Metrics: GSM8K's exact match of the strict and of the flexible
// extraction against the reference answer.
func (t *Task) ScoreGeneration(d Doc, text string) []float64 {
	return []float64{
		hit(ExactMatch(StrictAnswer(text), d.Target)),
		hit(ExactMatch(FlexibleAnswer(text), d.Target)),
	}
}

var (
	strictRe   = regexp.MustCompile(`#### (\-?[0-9\.\,]+)`)
	flexibleRe = regexp.MustCompile(`(-?[$0-9.,]{2,})|(-?[0-9]+)`)
)

// invalid is the harness's regex filter fallback.
const invalid = "[invalid]"

// StrictAnswer is the "strict-match" filter: the first "#### n".
func StrictAnswer(text string) string {
	m := strictRe.FindAllStringSubmatch(text, -1)
	if len(m) == 0 {
		return invalid
	}
	return pyStrip(m[0][1])
}

// FlexibleAnswer is the "flexible-extract" filter: the last number (or
// run of digits, $, commas and points) in the text; of the match's groups
// the first that is not empty.
func FlexibleAnswer(text string) string {
	m := flexibleRe.FindAllStringSubmatch(text, -1)
	if len(m) == 0 {
		return invalid
	}
	for _, g := range m[len(m)-1][1:] {
		if g != "" {
			return pyStrip(g)
		}
	}
	return invalid
}

// The exact_match settings of gsm8k.yaml: regexes_to_ignore [",", "\$",
// "(?s).*#### ", "\.$"] on both sides, then ignore_case. Python's "$"
// also matches before a final newline, which the last pattern keeps.
var ignored = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`,`), ""},
	{regexp.MustCompile(`\$`), ""},
	{regexp.MustCompile(`(?s).*#### `), ""},
	{regexp.MustCompile(`\.(\n?)\z`), "$1"},
}

// ExactMatch compares a prediction with the reference answer as the
// harness's exact_match does with GSM8K's settings.
func ExactMatch(pred, ref string) bool {
	for _, ig := range ignored {
		pred, ref = ig.re.ReplaceAllString(pred, ig.with), ig.re.ReplaceAllString(ref, ig.with)
	}
	//lint:ignore SA6005 the harness compares pred.lower() == ref.lower(); EqualFold's simple folding differs (K, Kelvin sign)
	return strings.ToLower(pred) == strings.ToLower(ref)
}

// MeanStderr is the harness's mean_stderr: the sample standard deviation
// (n−1) over √n; NaN for fewer than two values.
func MeanStderr(xs []float64) float64 {
	n := float64(len(xs))
	if len(xs) < 2 {
		return math.NaN()
	}
	var mean float64
	for _, x := range xs {
		mean += x
	}
	mean /= n
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss/(n-1)) / math.Sqrt(n)
}

// PooledStderr is the harness's pooled_sample_stderr, the standard error
// of a group (MMLU) from its subtasks' standard errors and sizes.
func PooledStderr(stderrs []float64, sizes []int) float64 {
	var v float64
	total := 0
	for i, s := range stderrs {
		v += float64(sizes[i]-1) * s * s * float64(sizes[i])
		total += sizes[i]
	}
	return math.Sqrt(v / float64(total-len(sizes)) / float64(total))
}
