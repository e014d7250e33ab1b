package stages

import (
	"context"
	"io"
	"math"
	"testing"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stages/shardio"
	"github.com/srdpo/srdpo/tasks"
)

func TestWinRateByHand(t *testing.T) {
	w, err := WinRate([]float64{1, 0.5, 0}, []float64{0.5, 0.5, 1}) // win, tie, loss
	if err != nil || w != 0.5 {
		t.Fatalf("%g %v", w, err)
	}
	if _, err := WinRate([]float64{1}, nil); err == nil {
		t.Error("unpaired accepted")
	}
}

// A policy equal to the reference: KL exactly 0, win rate 0.5 against it.
func TestGoldAgainstItself(t *testing.T) {
	backend, _ := model.Backend()
	cfg := model.Tiny(257)
	cfg.Context = 48
	a, _ := model.New(cfg, 4, backend)
	b, _ := model.New(cfg, 4, backend)
	var prompts []string
	for _, w := range tasks.Words(1, 6) {
		prompts = append(prompts, tasks.Prompt(w))
	}
	ga, err := Gold(a, b, tokenizer.Byte{}, prompts, tasks.Reward, 10, tasks.Stop)
	if err != nil {
		t.Fatal(err)
	}
	gb, _ := Gold(b, a, tokenizer.Byte{}, prompts, tasks.Reward, 10, tasks.Stop)
	w, _ := WinRate(ga.Rewards, gb.Rewards)
	if ga.LogRatio != 0 || ga.Tokens == 0 || w != 0.5 || len(ga.Responses) != 6 {
		t.Errorf("log ratio %g over %d tokens, win rate %g", ga.LogRatio, ga.Tokens, w)
	}
}

// At π = π_ref every margin is 0 (no accuracy, no correlation); after
// training on a set where the chosen response is always better, the
// implicit reward prefers it on held-out pairs.
func TestPreferencesBeforeAndAfterTraining(t *testing.T) {
	shards, spec := scoredToySet(t, 24, func(s *schemas.Scored) {
		c, r := 1.0, float64(s.ID[len(s.ID)-1]%3)/4 // gaps of 1, 0.75 and 0.5
		s.ScoreChosen, s.ScoreRejected = &c, &r
	})
	rows, _, err := shardio.ReadScored(context.Background(), shards)
	if err != nil {
		t.Fatal(err)
	}
	ref, _, err := loadModel(context.Background(), spec.ModelDir, "", "auto")
	if err != nil {
		t.Fatal(err)
	}
	before, err := Preferences(ref, rows, 0.1, false)
	if err != nil {
		t.Fatal(err)
	}
	if before.Accuracy != 0 || !math.IsNaN(before.Pearson[0]) || before.N != 24 {
		t.Errorf("at π = π_ref: %+v", before)
	}
	cfg := trainConfig(shards, spec, t.TempDir())
	cfg.EvalFraction = 0
	res, err := Train(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := Preferences(res.Policy, rows, 0.1, false)
	if after.Accuracy < 0.9 || math.IsNaN(after.Pearson[0]) || math.IsNaN(after.Kendall[1]) {
		t.Errorf("after training: accuracy %g, correlations %v %v", after.Accuracy, after.Pearson, after.Kendall)
	}
}
