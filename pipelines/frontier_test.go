package pipelines

import (
	"strings"
	"testing"

	"github.com/srdpo/srdpo/schemas"
)

// The matched-KL table on hand-made curves. Reference reward 1 at KL 0;
// seed 1: dpo at step 10 (KL 0.2, 1.2) and 20 (0.4, 1.3); sr-dpo at 10
// (0.2, 1.4) and 20 (0.4, 1.5). Seed 2: dpo (0.4, 1.1); sr-dpo (0.8, 1.8). Every
// curve reaches KL 0.4. At KL 0.2: dpo 1.2 and 1.05, sr-dpo 1.4 and 1.2
// (1 + 0.8·0.2/0.8): differences 0.2 and 0.15, mean 0.175, s = 0.035355,
// t(0.975, 1) = 12.7062: half-width 0.3177 → [−0.143, +0.493].
func TestFrontierTable(t *testing.T) {
	var rows []schemas.Eval
	add := func(seed int64, policy string, step int64, kl, reward float64) {
		rows = append(rows, schemas.Eval{Seed: seed, Policy: policy, Step: step, Benchmark: "gold_reward", Metric: "mean", Value: reward},
			schemas.Eval{Seed: seed, Policy: policy, Step: step, Benchmark: "gold_reward", Metric: "kl_to_reference", Value: kl})
	}
	for _, s := range []int64{1, 2} {
		add(s, "reference", 0, 0, 1)
	}
	add(1, "dpo", 10, 0.2, 1.2)
	add(1, "dpo", 20, 0.4, 1.3)
	add(1, "sr-dpo", 10, 0.2, 1.4)
	add(1, "sr-dpo", 20, 0.4, 1.5)
	add(2, "dpo", 20, 0.4, 1.1)
	add(2, "sr-dpo", 20, 0.8, 1.8)
	got := frontierTable(rows)
	for _, want := range []string{
		"| KL(π‖π_ref) | dpo | sr-dpo | sr-dpo − dpo |",
		"| 0.2000 | 1.125 | 1.300 | +0.175 [-0.143, +0.493] |",
		"| 0.4000 | 1.200 | 1.450 |",
		"at KL 0.2000, sr-dpo − dpo = +0.175 [-0.143, +0.493] over 2 seeds: not distinguishable from zero",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}
