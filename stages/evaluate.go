package stages

import (
	"fmt"
	"math"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/schemas"
	"github.com/srdpo/srdpo/stats"
)

// The figures of the evaluation (docs/design.md §5), computed for one policy
// against the reference. The evaluation pipeline arranges them into rows.

// GoldEval is how a policy's greedy generations fare under the true
// reward.
type GoldEval struct {
	Rewards   []float64 // r*(x, y) per prompt
	Responses []string
	// LogRatio is the mean over generated tokens of log π − log π_ref
	// along the greedy outputs: not an estimate of KL(π‖π_ref) (it can be
	// negative); the sampled evaluation gives that. NaN when no token was
	// generated.
	LogRatio float64
	Tokens   int
}

// MeanReward is the mean gold reward.
func (g GoldEval) MeanReward() float64 {
	if len(g.Rewards) == 0 {
		return 0
	}
	return stats.Mean(g.Rewards)
}

// Gold decodes a response to each prompt greedily with the policy, ending
// it at the tokenizer's EOS or after the first stop string (kept in the
// text), scores it with reward, and measures log π − log π_ref along it.
func Gold(policy, ref *model.Decoder, tok tokenizer.Tokenizer, prompts []string, reward func(x, y string) (float64, error), maxNew int, stop []string) (GoldEval, error) {
	gen, err := policy.NewGenerator()
	if err != nil {
		return GoldEval{}, err
	}
	ids := make([][]int32, len(prompts))
	for i, p := range prompts {
		if ids[i], _, err = PromptIDs(tok, p, math.MaxInt32, model.KeepEnd); err != nil {
			return GoldEval{}, fmt.Errorf("prompt %d: %w", i, err)
		}
	}
	out, err := gen.Generate(ids, model.GenerateConfig{MaxNewTokens: maxNew, EOS: tok.EOS(), Stop: stopStrings(tok, stop)})
	if err != nil {
		return GoldEval{}, err
	}
	g := GoldEval{LogRatio: math.NaN()}
	var pairs []model.Pair
	for i, o := range out {
		y := responseText(tok, o, stop)
		r, err := reward(prompts[i], y)
		if err != nil {
			return g, fmt.Errorf("prompt %d: %w", i, err)
		}
		g.Rewards, g.Responses = append(g.Rewards, r), append(g.Responses, y)
		if len(o) > 0 {
			pairs = append(pairs, model.Pair{Prompt: ids[i], Response: o})
		}
	}
	if len(pairs) == 0 {
		return g, nil
	}
	lp, err := logProbs(policy, pairs)
	if err != nil {
		return g, err
	}
	lr, err := logProbs(ref, pairs)
	if err != nil {
		return g, err
	}
	var diff float64
	for i := range lp {
		diff += lp[i].Sum - lr[i].Sum
		g.Tokens += lp[i].Tokens
	}
	g.LogRatio = diff / float64(g.Tokens)
	return g, nil
}

func logProbs(m *model.Decoder, pairs []model.Pair) ([]model.SeqLogProb, error) {
	s, err := m.NewScorer(ScoreBudgetTokens)
	if err != nil {
		return nil, err
	}
	return s.LogProbs(pairs)
}

// WinRate is the share of prompts where a's reward beats b's, ties
// counting one half.
func WinRate(a, b []float64) (float64, error) {
	if len(a) != len(b) || len(a) == 0 {
		return 0, fmt.Errorf("win rate of %d rewards against %d", len(a), len(b))
	}
	var w float64
	for i := range a {
		w += win(a[i], b[i])
	}
	return w / float64(len(a)), nil
}

// PreferenceEval is a policy on held-out scored pairs: how often its
// implicit reward prefers the chosen response, and how well h and Δπ track
// the true quality gap r*(y+) − r*(y−) (the paper's Table 4).
type PreferenceEval struct {
	Accuracy      float64 // share with h > 0
	H, Delta, Gap []float64
	Pearson       [2]float64 // of the gap with h, with Δπ
	Spearman      [2]float64
	Kendall       [2]float64
	// PartialDelta is the partial correlation of the gap with Δπ given h:
	// whether Δπ tells about quality more than the margin the loss already
	// has — what λ·Δπ can add to it.
	PartialDelta float64
	N            int
}

// RefPromptCorrelation asks whether p carries quality information to the
// reference at all: the Pearson correlation, over scored rows with gold
// scores, of the true gap r*(y+) − r*(y−) with the reference's margin on
// p⊕x minus its margin on x, (log π_ref(y+|p⊕x) − log π_ref(y−|p⊕x)) −
// (log π_ref(y+|x) − log π_ref(y−|x)), both from the shards alone.
func RefPromptCorrelation(rows []schemas.Scored) (float64, error) {
	var gap, margin []float64
	for _, r := range rows {
		if r.ScoreChosen == nil || r.ScoreRejected == nil {
			return 0, fmt.Errorf("row %s has no gold scores", r.ID)
		}
		lp := RefLogps(r)
		gap = append(gap, *r.ScoreChosen-*r.ScoreRejected)
		margin = append(margin, (lp.ChosenAug-lp.RejectedAug)-(lp.Chosen-lp.Rejected))
	}
	return stats.Pearson(gap, margin)
}

// Preferences evaluates a policy on scored rows that carry gold scores,
// against the true gap r*(y+) − r*(y−).
func Preferences(policy *model.Decoder, rows []schemas.Scored, beta float64, perToken bool) (PreferenceEval, error) {
	gaps, missing := goldGaps(rows)
	if missing != "" {
		return PreferenceEval{}, fmt.Errorf("row %s has no gold scores", missing)
	}
	return PreferencesAgainst(policy, rows, gaps, beta, perToken)
}

// goldGaps are the rows' true gaps r*(y+) − r*(y−); missing names the
// first row without gold scores (then gaps is nil).
func goldGaps(rows []schemas.Scored) (gaps []float64, missing string) {
	gaps = make([]float64, len(rows))
	for i, r := range rows {
		if r.ScoreChosen == nil {
			return nil, r.ID
		}
		gaps[i] = *r.ScoreChosen - *r.ScoreRejected
	}
	return gaps, ""
}

// PreferencesAgainst evaluates a policy on scored rows: its accuracy, and,
// when gaps are given (a judge's quality gap of each row), the
// correlations of h and Δπ with them. h and Δπ = β·h_p are taken as the
// policy's loss took them: on sums, or on per-token means when perToken
// (IPO with --ipo-norm mean).
func PreferencesAgainst(policy *model.Decoder, rows []schemas.Scored, gaps []float64, beta float64, perToken bool) (PreferenceEval, error) {
	var e PreferenceEval
	pairs := make([]model.Preference, len(rows))
	for i, r := range rows {
		pairs[i] = preferenceOf(r)
	}
	// Scored as the reference's sums were (shared prompts, the same
	// budget), so that at π = π_ref every margin is exactly zero.
	s, err := policy.NewSharedScorer(ScoreBudgetTokens)
	if err != nil {
		return e, err
	}
	lp, err := s.PairLogps(pairs)
	if err != nil {
		return e, err
	}
	for i, r := range rows {
		h, hp := model.HostMargins(lp[i], RefLogps(r), int(r.ChosenTokens), int(r.RejectedTokens), perToken)
		e.H, e.Delta = append(e.H, h), append(e.Delta, beta*hp)
		if h > 0 {
			e.Accuracy++
		}
	}
	e.N = len(rows)
	e.Accuracy /= float64(e.N)
	return e.Against(gaps)
}

// Against is e with the correlations of its h and Δπ with gaps, another
// judge's quality gap of the same rows (NaN for none): the policy's
// margins are not computed again.
func (e PreferenceEval) Against(gaps []float64) (PreferenceEval, error) {
	if gaps != nil && len(gaps) != len(e.H) {
		return e, fmt.Errorf("%d gaps for %d rows", len(gaps), len(e.H))
	}
	e.Gap = gaps
	if gaps == nil {
		for j := range e.Pearson {
			e.Pearson[j], e.Spearman[j], e.Kendall[j] = math.NaN(), math.NaN(), math.NaN()
		}
		e.PartialDelta = math.NaN()
		return e, nil
	}
	for j, xs := range [][]float64{e.H, e.Delta} {
		var err error
		if e.Pearson[j], err = stats.Pearson(e.Gap, xs); err != nil {
			return e, err
		}
		e.Spearman[j], _ = stats.Spearman(e.Gap, xs)
		e.Kendall[j], _ = stats.KendallTauB(e.Gap, xs)
	}
	e.PartialDelta, _ = stats.PartialPearson(e.Gap, e.Delta, e.H)
	return e, nil
}
