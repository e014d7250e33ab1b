package stages

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages/shardio"
	"github.com/srdpo/srdpo/tasks"
)

// The evaluation pipeline's rows equal the figures computed directly, for
// the reference and a trained policy at two steps of its training (one
// name, two steps), win rates included: the policy at step 2 is compared
// with the same method at its last step, 5.
func TestEvaluatePoliciesEqualsDirect(t *testing.T) {
	ctx := context.Background()
	shards, spec := scoredToySet(t, 12, func(s *schemas.Scored) {
		c, r := 1.0, float64(s.ID[len(s.ID)-1]%3)/4
		s.ScoreChosen, s.ScoreRejected = &c, &r
	})
	dir := t.TempDir()
	var prompts strings.Builder
	var xs, ids []string
	for i, w := range tasks.Words(5, 8) {
		id := fmt.Sprintf("e%d", i)
		fmt.Fprintf(&prompts, `{"id": %q, "prompt": %q}`+"\n", id, tasks.Prompt(w))
		xs, ids = append(xs, tasks.Prompt(w)), append(ids, id)
	}
	os.WriteFile(filepath.Join(dir, "prompts.jsonl"), []byte(prompts.String()), 0o644)
	// A second policy: the reference after a few training steps.
	cfg := trainConfig(shards, spec, filepath.Join(dir, "dpo"))
	cfg.Loss.Type, cfg.Steps, cfg.EvalFraction, cfg.KeepAt = "dpo", 5, 0, []int{2}
	if _, err := Train(ctx, cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	es := EvalSpec{Reference: spec.ModelDir, Tokenizer: "auto", Prompts: filepath.Join(dir, "prompts.jsonl"), Heldout: shards,
		Beta: 0.1, Seed: 3, MaxNew: 12,
		Samples: 3, Temperature: 1, Stop: tasks.Stop, SampleBatch: 4, GoldReward: tasks.RewardName}
	policies := []PolicyRef{{Name: "reference", Dir: spec.ModelDir}, {Name: "dpo", Step: 2, Dir: StepDir(filepath.Join(dir, "dpo"), 2)},
		{Name: "dpo", Step: 5, Dir: filepath.Join(dir, "dpo", "checkpoint")}}
	label := func(p PolicyRef) string { return fmt.Sprintf("%s@%d", p.Name, p.Step) }

	// The same figures, computed directly.
	ref, _, _ := loadModel(ctx, spec.ModelDir, "", "auto")
	rows, _, _ := shardio.ReadScored(ctx, shards)
	var want []schemas.Eval
	greedy, sampled := map[string][]float64{}, map[string][][]float64{}
	for _, p := range policies {
		m, tok, err := loadModel(ctx, p.Dir, "", "auto")
		if err != nil {
			t.Fatal(err)
		}
		g, err := Gold(m, ref, tok, xs, tasks.Reward, 12, tasks.Stop)
		if err != nil {
			t.Fatal(err)
		}
		// Batches of 5 here, of 4 in the pipeline: the samples are the same.
		se, err := Sampled(m, ref, tok, ids, xs, tasks.Reward, SampleSpec{Samples: 3, Temperature: 1, MaxNew: 12, Seed: 3, Stop: tasks.Stop, BatchRows: 5})
		if err != nil {
			t.Fatal(err)
		}
		greedy[label(p)], sampled[label(p)] = g.Rewards, se.Rewards
		e, _ := Preferences(m, rows, 0.1, false)
		add := func(bench, metric string, v float64, n int) {
			if math.IsNaN(v) {
				return
			}
			want = append(want, schemas.Eval{Policy: p.Name, Step: p.Step, Benchmark: bench, Metric: metric, Value: v, N: int64(n), Seed: 3})
		}
		add("gold_reward_greedy", "mean", g.MeanReward(), len(xs))
		add("gold_reward_greedy", "log_ratio_per_token", g.LogRatio, g.Tokens)
		for _, f := range []struct {
			metric string
			values [][]float64
		}{{"mean", se.Rewards}, {"kl_to_reference", se.KL}, {"kl_to_reference_mc", se.KLMC}} {
			m, s := MeanSE(f.values)
			want = append(want, schemas.Eval{Policy: p.Name, Step: p.Step, Benchmark: "gold_reward", Metric: f.metric, Value: m, N: 24, Seed: 3, Stderr: s})
		}
		add("preferences", "accuracy", e.Accuracy, e.N)
		if p.Name == "reference" {
			c, err := RefPromptCorrelation(rows)
			if err != nil {
				t.Fatal(err)
			}
			add("quality_correlation", "pearson_ref_p_margin", c, len(rows))
		}
		for j, what := range []string{"h", "delta"} {
			add("quality_correlation", "pearson_"+what, e.Pearson[j], e.N)
			add("quality_correlation", "spearman_"+what, e.Spearman[j], e.N)
			add("quality_correlation", "kendall_"+what, e.Kendall[j], e.N)
		}
		add("quality_correlation", "partial_delta_given_h", e.PartialDelta, e.N)
	}
	// Win rates by hand: per prompt, the share of pairs (greedy with
	// greedy, sample j with sample j) won, ties half; the mean over prompts
	// and its standard error (sd over prompts / √8).
	winRows := func(bench string, p, o PolicyRef, perPrompt []float64) {
		sort.Float64s(perPrompt) // summed in ascending order, as the pipeline does
		var m, ss float64
		for _, w := range perPrompt {
			m += w
		}
		m /= float64(len(perPrompt))
		for _, w := range perPrompt {
			ss += (w - m) * (w - m)
		}
		want = append(want, schemas.Eval{Policy: p.Name, Step: p.Step, Benchmark: bench, Metric: "win_rate_vs_" + o.Name, Value: m, N: 8, Seed: 3, Stderr: math.Sqrt(ss/7) / math.Sqrt(8)})
	}
	ref0, dpo2, dpo5 := policies[0], policies[1], policies[2]
	for _, po := range [][2]PolicyRef{{dpo5, ref0}, {ref0, dpo5}, {dpo2, ref0}, {dpo2, dpo5}} {
		p, o := po[0], po[1]
		var g, s []float64
		for i := range xs {
			g = append(g, winScore(greedy[label(p)][i], greedy[label(o)][i]))
			var w float64
			for j := 0; j < 3; j++ {
				w += winScore(sampled[label(p)][i][j], sampled[label(o)][i][j])
			}
			s = append(s, w/3)
		}
		winRows("gold_reward_greedy", p, o, g)
		winRows("gold_reward", p, o, s)
	}
	wDR, _ := WinRate(greedy["dpo@5"], greedy["reference@0"])
	wRD, _ := WinRate(greedy["reference@0"], greedy["dpo@5"])
	if wDR+wRD != 1 {
		t.Fatalf("win rates %g and %g do not add up to 1", wDR, wRD)
	}
	// Values known without the functions above: the reference against
	// itself has KL 0 and no pair with h > 0 (h = 0 at π = π_ref).
	for _, w := range want {
		if w.Policy == "reference" && (strings.HasPrefix(w.Metric, "kl_to_reference") || w.Metric == "log_ratio_per_token" || w.Metric == "accuracy") && w.Value != 0 {
			t.Errorf("%s %s = %g, want 0", w.Policy, w.Metric, w.Value)
		}
	}

	p, s := beam.NewPipelineWithRoot()
	got := EvaluatePolicies(s, es, beam.CreateList(s, policies))
	passert.Equals(s, got, beam.CreateList(s, want))
	// The rows are valid eval rows: they go through the Arrow sink.
	shardio.WriteShards(s, filepath.Join(dir, "eval"), schemas.Evals, schemas.NewMetadata(), got, shardio.WithShards(1))
	ptest.RunAndValidate(t, p)
}

// A prompt longer than 64 KiB is read, not silently the end of the file.
func TestReadPromptsLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prompts.jsonl")
	long := strings.Repeat("w", 100_000)
	os.WriteFile(path, []byte(`{"id":"a","prompt":"`+long+`"}`+"\n"+`{"id":"b","prompt":"short"}`+"\n"), 0o644)
	ids, prompts, err := readPrompts(context.Background(), path)
	if err != nil || len(prompts) != 2 || prompts[0] != long || ids[1] != "b" {
		t.Errorf("%d prompts, %v", len(prompts), err)
	}
}

// winScore is one comparison of a win rate, by hand: 1 won, ½ tied, 0 lost.
func winScore(a, b float64) float64 {
	if a > b {
		return 1
	} else if a == b {
		return 0.5
	}
	return 0
}
