package stages

import (
	"github.com/srdpo/srdpo/model"
)

// augCache holds the policy's log-probs on p⊕x per pair for --delta-refresh.
type augCache struct {
	k      int
	scorer *model.Scorer
	policy *model.Decoder
	at     map[string]cachedAug
}

type cachedAug struct {
	chosen, rejected float64
	step             int
}

func newAugCache(policy *model.Decoder, k int) *augCache {
	return &augCache{k: k, policy: policy, at: map[string]cachedAug{}}
}

// values returns nil when K = 1 (the step computes them, exactly), else the
// cached values, refreshing those K or more steps old with the current
// policy. The cache is not checkpointed: a resumed run recomputes, which
// for K > 1 can differ from an uninterrupted one.
func (c *augCache) values(step int, batch []model.PreferencePair) ([]float64, error) {
	if c.k == 1 {
		return nil, nil
	}
	if c.scorer == nil {
		s, err := c.policy.NewScorer(ScoreBudgetTokens)
		if err != nil {
			return nil, err
		}
		c.scorer = s
	}
	var stale []model.Pair
	var staleIdx []int
	for i, p := range batch {
		if e, ok := c.at[p.ID]; !ok || step-e.step >= c.k {
			stale = append(stale, model.Pair{Prompt: p.AugPrompt, Response: p.Chosen}, model.Pair{Prompt: p.AugPrompt, Response: p.Rejected})
			staleIdx = append(staleIdx, i)
		}
	}
	if len(stale) > 0 {
		lp, err := c.scorer.LogProbs(stale)
		if err != nil {
			return nil, err
		}
		for j, i := range staleIdx {
			c.at[batch[i].ID] = cachedAug{chosen: lp[2*j].Sum, rejected: lp[2*j+1].Sum, step: step}
		}
	}
	out := make([]float64, 0, 2*len(batch))
	for _, p := range batch {
		e := c.at[p.ID]
		out = append(out, e.chosen, e.rejected)
	}
	return out, nil
}
