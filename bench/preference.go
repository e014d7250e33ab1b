package bench

import (
	"fmt"
	"time"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/optim"
	"github.com/srdpo/srdpo/stages"
	"github.com/srdpo/srdpo/stats"
)

// benchPreferenceStep alternates a DPO step, an Sr-DPO step with exact Δπ
// and, as with --delta-refresh 8, a block of 8 Sr-DPO steps whose Δπ is
// computed once (a forward pass on p⊕x) and then reused, per step.
func benchPreferenceStep(runs int) ([]Figure, error) {
	const d = 128
	pairs := benchPreferencePairs()
	steps, err := newPreferenceSteps(d, pairs)
	if err != nil {
		return nil, err
	}
	// Warm-up (compilation) of each, then alternate.
	for _, f := range []func() error{steps.dpo, steps.srDPO, steps.refresh8} {
		if err := f(); err != nil {
			return nil, err
		}
	}
	var tD, tS, tC []float64
	for r := 0; r < runs; r++ {
		for _, c := range []struct {
			f   func() error
			out *[]float64
			div float64
		}{{steps.dpo, &tD, 1}, {steps.srDPO, &tS, 1}, {steps.refresh8, &tC, 8}} {
			start := time.Now()
			if err := c.f(); err != nil {
				return nil, err
			}
			*c.out = append(*c.out, time.Since(start).Seconds()*1000/c.div)
		}
	}
	base := Setting{"pairs": 16, "prompt_tokens": 32, "aug_prompt_tokens": 48, "response_tokens": 32, "d": d}
	return []Figure{
		Figure{Name: "dpo-step", Unit: "ms", Setting: base}.spread(tD),
		Figure{Name: "sr-dpo-step", Unit: "ms", Setting: base.with(Setting{"delta": "exact, every step"})}.spread(tS),
		Figure{Name: "sr-dpo-step-delta-refresh-8", Unit: "ms", Setting: base.with(Setting{"delta": "computed once per 8 steps (amortised)"})}.spread(tC),
		Figure{Name: "sr-dpo/dpo step time", Unit: "ratio", Setting: base}.spread(stats.Ratios(tS, tD)),
		Figure{Name: "sr-dpo (delta-refresh 8)/dpo step time", Unit: "ratio", Setting: base}.spread(stats.Ratios(tC, tD)),
	}, nil
}

// benchPreferencePairs are 16 fixed pairs: prompts and responses of 32
// tokens, p⊕x of 48.
func benchPreferencePairs() []model.PreferencePair {
	raw := fixedPairs(48, 32, 32, 3)
	pairs := make([]model.PreferencePair, 16)
	for i := range pairs {
		pairs[i] = model.PreferencePair{ID: fmt.Sprint(i), Prompt: raw[3*i].Prompt, AugPrompt: append(append([]int32{}, raw[3*i+1].Prompt...), raw[3*i+1].Response[:16]...),
			Chosen: raw[3*i].Response, Rejected: raw[3*i+2].Response, Ref: model.PairLogps{Chosen: -100, Rejected: -100, ChosenAug: -100, RejectedAug: -100}}
	}
	return pairs
}

// preferenceSteps are the three steps the figure alternates, each on its
// own model of width d: a DPO step, an Sr-DPO step with exact Δπ, and one
// refresh of Δπ followed by 8 Sr-DPO steps on the cached values.
type preferenceSteps struct {
	dpo, srDPO, refresh8 func() error
}

func newPreferenceSteps(d int, pairs []model.PreferencePair) (preferenceSteps, error) {
	trainer := func(loss model.LossType) (*model.Decoder, *model.PreferenceTrainer, error) {
		m, err := benchModel(d, 128, 256)
		if err != nil {
			return nil, nil, err
		}
		t, err := m.NewPreferenceTrainer(model.LossConfig{Type: loss, Beta: 0.1, Lambda: 0.5}, optim.Config{Name: "rmsprop", LR: 5e-7}, 1)
		return m, t, err
	}
	_, dpo, err := trainer(model.LossDPO)
	if err != nil {
		return preferenceSteps{}, err
	}
	_, sr, err := trainer(model.LossSrDPO)
	if err != nil {
		return preferenceSteps{}, err
	}
	cm, cached, err := trainer(model.LossSrDPO)
	if err != nil {
		return preferenceSteps{}, err
	}
	scorer, err := cm.NewScorer(stages.ScoreBudgetTokens)
	if err != nil {
		return preferenceSteps{}, err
	}
	var augPairs []model.Pair
	for _, p := range pairs {
		seq := model.PairSequences(p.Prompt, p.AugPrompt, p.Chosen, p.Rejected)
		augPairs = append(augPairs, seq[2], seq[3])
	}
	step := 0
	once := func(t *model.PreferenceTrainer) func() error {
		return func() error { _, err := t.Step(step, pairs); step++; return err }
	}
	refresh8 := func() error {
		lp, err := scorer.LogProbs(augPairs)
		if err != nil {
			return err
		}
		aug := make([]float64, len(lp))
		for i := range lp {
			aug[i] = lp[i].Sum
		}
		for k := 0; k < 8; k++ {
			if _, err := cached.StepWithAug(step, pairs, aug); err != nil {
				return err
			}
			step++
		}
		return nil
	}
	return preferenceSteps{dpo: once(dpo), srDPO: once(sr), refresh8: refresh8}, nil
}
