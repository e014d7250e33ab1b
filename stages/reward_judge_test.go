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

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages/shardio"
)

// srdpo eval --reward-model: a *ForSequenceClassification directory (a
// tiny Llama-family one with the byte tokenizer, written as transformers
// lays it out) judges prompts that are not the known-reward task's. The
// pipeline's reward_model rows — mean, KL, win rates, and the held-out
// pairs' correlations of h and Δπ with the reward model's gap — equal the
// figures computed directly; the reference's KL to itself is exactly 0
// and its greedy and sampled rewards are the judge's scores of its
// responses.
func TestEvaluateWithRewardModel(t *testing.T) {
	ctx := context.Background()
	shards, spec := scoredToySet(t, 12, func(s *schemas.Scored) {
		c, r := 1.0, float64(s.ID[len(s.ID)-1]%3)/4
		s.ScoreChosen, s.ScoreRejected = &c, &r
	})
	dir := t.TempDir()
	backend, _ := model.Backend()
	cfg := model.Config{Family: model.FamilyLlama, Vocab: 257, Context: 64, Layers: 1, Heads: 2, KVHeads: 1, Width: 16, Inner: 24,
		NormEps: 1e-6, RopeTheta: 10000, TiedHead: true, DType: model.Float32}
	net, err := model.New(cfg, 11, backend)
	if err != nil {
		t.Fatal(err)
	}
	score := make([]float64, cfg.Width)
	for i := range score {
		score[i] = float64(i%3) - 1
	}
	rmDir := filepath.Join(dir, "rm")
	if err := model.ExportReward(net, score, -1, rmDir); err != nil {
		t.Fatal(err)
	}
	var prompts strings.Builder
	var xs, ids []string
	for i, q := range []string{"Name a colour.", "What is 2+2?", "Say hello.", "Pick a fruit."} {
		ids, xs = append(ids, fmt.Sprintf("q%d", i)), append(xs, q+"\nA:")
		fmt.Fprintf(&prompts, `{"id": %q, "prompt": %q}`+"\n", ids[i], xs[i])
	}
	os.WriteFile(filepath.Join(dir, "prompts.jsonl"), []byte(prompts.String()), 0o644)
	trained := trainConfig(shards, spec, filepath.Join(dir, "dpo"))
	trained.Loss.Type, trained.Steps, trained.EvalFraction = "dpo", 5, 0
	if _, err := Train(ctx, trained, io.Discard); err != nil {
		t.Fatal(err)
	}
	es := EvalSpec{Reference: spec.ModelDir, Tokenizer: "auto", Prompts: filepath.Join(dir, "prompts.jsonl"), Heldout: shards,
		Beta: 0.1, Seed: 5, MaxNew: 8, Samples: 2, Temperature: 1, SampleBatch: 3, RewardModel: rmDir}
	policies := []PolicyRef{{Name: "reference", Dir: spec.ModelDir}, {Name: "dpo", Dir: filepath.Join(dir, "dpo", "checkpoint")}}

	judge, err := LoadRewardJudge(ctx, rmDir)
	if err != nil {
		t.Fatal(err)
	}
	ref, _, _ := loadModel(ctx, spec.ModelDir, "", "auto")
	rows, _, _ := shardio.ReadScored(ctx, shards)
	gaps, err := judge.Gaps(rows)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows { // r(x, y+) − r(x, y−), by the judge's tokenizer and model
		c, _ := judge.Tok.EncodeSpecial(r.Prompt + r.Chosen)
		rj, _ := judge.Tok.EncodeSpecial(r.Prompt + r.Rejected)
		v, _ := judge.RM.Rewards([][]int32{c, rj})
		if gaps[i] != v[0]-v[1] || r.Prompt == "" {
			t.Errorf("row %s: gap %v, want %v", r.ID, gaps[i], v[0]-v[1])
		}
	}
	var want []schemas.Eval
	sampled := map[string][][]float64{}
	greedy := map[string][]float64{}
	for _, p := range policies {
		m, tok, _ := loadModel(ctx, p.Dir, "", "auto")
		add := func(bench, metric string, v, se float64, n int) {
			if !math.IsNaN(v) {
				want = append(want, schemas.Eval{Policy: p.Name, Benchmark: bench, Metric: metric, Value: v, N: int64(n), Seed: 5, Stderr: se})
			}
		}
		g, err := Gold(m, ref, tok, xs, judge.Reward, 8, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, y := range g.Responses { // the judge's score of the text, by its own tokenizer and model
			seq, _ := judge.Tok.EncodeSpecial(xs[i] + y)
			r, _ := judge.RM.Rewards([][]int32{seq})
			if r[0] != g.Rewards[i] {
				t.Errorf("%s prompt %d: reward %v, the judge scores %v", p.Name, i, g.Rewards[i], r[0])
			}
		}
		add("reward_model_greedy", "mean", g.MeanReward(), 0, len(xs))
		add("reward_model_greedy", "log_ratio_per_token", g.LogRatio, 0, g.Tokens)
		e, err := Sampled(m, ref, tok, ids, xs, judge.Reward, SampleSpec{Samples: 2, Temperature: 1, MaxNew: 8, Seed: 5, BatchRows: 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct {
			metric string
			v      [][]float64
		}{{"mean", e.Rewards}, {"kl_to_reference", e.KL}, {"kl_to_reference_mc", e.KLMC}} {
			m, se := MeanSE(f.v)
			add("reward_model", f.metric, m, se, 8)
		}
		sampled[p.Name], greedy[p.Name] = e.Rewards, g.Rewards
		pe, _ := PreferencesAgainst(m, rows, nil, 0.1, false)
		add("preferences", "accuracy", pe.Accuracy, 0, pe.N)
		gold, _ := Preferences(m, rows, 0.1, false)
		je, _ := PreferencesAgainst(m, rows, gaps, 0.1, false)
		for bench, ev := range map[string]PreferenceEval{"quality_correlation": gold, "reward_model_correlation": je} {
			for j, what := range []string{"h", "delta"} {
				add(bench, "pearson_"+what, ev.Pearson[j], 0, ev.N)
				add(bench, "spearman_"+what, ev.Spearman[j], 0, ev.N)
				add(bench, "kendall_"+what, ev.Kendall[j], 0, ev.N)
			}
			add(bench, "partial_delta_given_h", ev.PartialDelta, 0, ev.N)
		}
		if p.Name == "reference" {
			c, _ := RefPromptCorrelation(rows)
			add("quality_correlation", "pearson_ref_p_margin", c, 0, len(rows))
			if e.KL[0][0] != 0 || e.KLMC[1][1] != 0 {
				t.Errorf("the reference's KL to itself: %v, %v", e.KL, e.KLMC)
			}
		}
	}
	for _, po := range [][2]string{{"dpo", "reference"}, {"reference", "dpo"}} {
		for _, bench := range []string{"reward_model", "reward_model_greedy"} {
			var ws []float64
			for i := range xs {
				if bench == "reward_model" {
					ws = append(ws, (winScore(sampled[po[0]][i][0], sampled[po[1]][i][0])+winScore(sampled[po[0]][i][1], sampled[po[1]][i][1]))/2)
				} else {
					ws = append(ws, winScore(greedy[po[0]][i], greedy[po[1]][i]))
				}
			}
			sort.Float64s(ws)
			per := make([][]float64, len(ws))
			for i, w := range ws {
				per[i] = []float64{w}
			}
			m, se := MeanSE(per)
			want = append(want, schemas.Eval{Policy: po[0], Benchmark: bench, Metric: "win_rate_vs_" + po[1], Value: m, N: 4, Seed: 5, Stderr: se})
		}
	}

	p, s := beam.NewPipelineWithRoot()
	got := EvaluatePolicies(s, es, beam.CreateList(s, policies))
	passert.Equals(s, got, beam.CreateList(s, want))
	ptest.RunAndValidate(t, p)
}
