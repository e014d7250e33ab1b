package pipelines

import (
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/srdpo/srdpo/schemas"
)

func TestWriteReport(t *testing.T) {
	var rows []schemas.Eval
	for seed, v := range map[int64]float64{1: 0.5, 2: 0.7} {
		for _, p := range []string{"reference", "dpo", "sr-dpo"} {
			bonus := map[string]float64{"reference": 0, "dpo": 0.1, "sr-dpo": 0.2}[p]
			rows = append(rows,
				schemas.Eval{Policy: p, Benchmark: "gold_reward", Metric: "mean", Value: v + bonus, N: 10, Seed: seed},
				schemas.Eval{Policy: p, Benchmark: "gold_reward", Metric: "kl_to_reference", Value: bonus, N: 50, Seed: seed})
			if p != "reference" {
				rows = append(rows, schemas.Eval{Policy: p, Benchmark: "gold_reward", Metric: "win_rate_vs_reference", Value: 0.5 + bonus, N: 10, Seed: seed})
			}
		}
		rows = append(rows, schemas.Eval{Policy: "sr-dpo", Benchmark: "arc_easy", Metric: "acc", Value: 0.25, N: 4, Seed: seed})
	}
	metrics := map[string][]schemas.Metric{
		"dpo":    {{Split: "train", Step: 1, Loss: 0.69}, {Split: "train", Step: 2, Loss: 0.6}},
		"sr-dpo": {{Split: "train", Step: 1, Loss: 0.69, DeltaMean: 0.1}, {Split: "train", Step: 2, Loss: 0.5, DeltaMean: 0.2}},
	}
	dir := t.TempDir()
	table, err := WriteReport(dir, rows, metrics)
	if err != nil {
		t.Fatal(err)
	}
	// Mean over the two seeds, with min and max; policies in a fixed order.
	for _, want := range []string{
		"| reference | 0.600 [0.500, 0.700] | – |",
		"| dpo | 0.700 [0.600, 0.800] | 0.600 [0.600, 0.600] |",
		"| sr-dpo | 0.800 [0.700, 0.900] | 0.700 [0.700, 0.700] |",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if strings.Index(table, "| reference") > strings.Index(table, "| dpo") || strings.Index(table, "| dpo") > strings.Index(table, "| sr-dpo") {
		t.Errorf("policy order:\n%s", table)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, want := range []string{"2 seed(s)", "| arc_easy | acc | sr-dpo | 0.2500 | 0.0000 | 4 |", "![loss](loss.png)", "reward_vs_kl.png", "win_rates.png"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, f := range []string{"loss.png", "accuracies.png", "margins.png", "delta.png", "reward_vs_kl.png", "win_rates.png"} {
		fh, err := os.Open(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(fh)
		fh.Close()
		if err != nil || img.Bounds().Dx() < 300 {
			t.Errorf("%s: not a plot (%v)", f, err)
		}
	}
}

// Benchmark rows alone: no main table, the paper's Table-3 layout in
// percent with the standard errors, the average over the columns present
// (for policies with all of them), and every row with its items.
func TestLeaderboardTable(t *testing.T) {
	rows := []schemas.Eval{
		{Policy: "reference", Benchmark: "arc_challenge", Metric: "acc_norm", Value: 0.5, Stderr: 0.01, N: 1172},
		{Policy: "reference", Benchmark: "mmlu", Metric: "acc", Value: 0.25, Stderr: 0.004, N: 14042},
		{Policy: "reference", Benchmark: "mmlu_anatomy", Metric: "acc", Value: 0.3, Stderr: 0.04, N: 135},
		{Policy: "dpo", Benchmark: "arc_challenge", Metric: "acc_norm", Value: 0.625, Stderr: 0.0125, N: 1172},
		{Policy: "dpo", Benchmark: "arc_challenge", Metric: "acc", Value: 0.6, Stderr: 0.0125, N: 1172},
		{Policy: "sr-dpo", Benchmark: "gsm8k", Metric: "exact_match,strict-match", Value: 0.1, Stderr: 0.008, N: 1319},
	}
	dir := t.TempDir()
	table, err := WriteReport(dir, rows, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := "| policy | ARC | MMLU | GSM8K | Average |\n|---|---|---|---|---|\n" +
		"| reference | 50.00 ± 1.00 | 25.00 ± 0.40 | – | – |\n" +
		"| dpo | 62.50 ± 1.25 | – | – | – |\n" +
		"| sr-dpo | – | – | 10.00 ± 0.80 | – |\n"
	if strings.TrimSpace(table) != strings.TrimSpace(want) {
		t.Errorf("table:\n%s\nwant:\n%s", table, want)
	}
	md, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, w := range []string{"## Open LLM Leaderboard tasks (the paper's Table 3)", "| mmlu_anatomy | acc | reference | 0.3000 | 0.0400 | 135 |", "| arc_challenge | acc | dpo | 0.6000 | 0.0125 | 1172 |"} {
		if !strings.Contains(string(md), w) {
			t.Errorf("report lacks %q:\n%s", w, md)
		}
	}
	// With every column, the average.
	rows = []schemas.Eval{
		{Policy: "dpo", Benchmark: "arc_challenge", Metric: "acc_norm", Value: 0.6},
		{Policy: "dpo", Benchmark: "winogrande", Metric: "acc", Value: 0.7},
	}
	if table, _ = WriteReport(t.TempDir(), rows, nil); !strings.Contains(table, "| dpo | 60.00 ± 0.00 | 70.00 ± 0.00 | 65.00 |") {
		t.Errorf("average:\n%s", table)
	}
}
