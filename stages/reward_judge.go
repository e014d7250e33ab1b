package stages

import (
	"context"
	"fmt"
	"os"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/schemas"
)

// A reward model as the judge, for corpora without a gold reward (the
// paper judged with GPT-4; offline, the field uses reward models): it
// scores the text x + y — the prompt as the corpus renders it, then the
// response — tokenised with the reward model's own tokenizer as
// transformers' tokenizer(text) does (its special tokens added), keeping
// the last context-many tokens of a longer text.

// RewardJudge is a loaded reward model and its tokenizer.
type RewardJudge struct {
	RM  *model.RewardModel
	Tok tokenizer.Tokenizer
}

// rewardJudges holds each reward model once per worker process.
var rewardJudges onceCache[string, *RewardJudge]

// LoadRewardJudge loads a *ForSequenceClassification directory (local or
// gs://) with the tokenizer beside it.
func LoadRewardJudge(ctx context.Context, dir string) (*RewardJudge, error) {
	return rewardJudges.get(dir, func() (*RewardJudge, error) {
		local, err := LocalDir(ctx, dir)
		if err != nil {
			return nil, err
		}
		if local != dir {
			defer os.RemoveAll(local)
		}
		backend, err := model.Backend()
		if err != nil {
			return nil, err
		}
		rm, err := model.ImportReward(local, backend, model.Float32)
		if err != nil {
			return nil, fmt.Errorf("reward model %s: %w", dir, err)
		}
		tok, err := tokenizer.Load(tokenizer.SpecAuto, local)
		if err != nil {
			return nil, fmt.Errorf("reward model %s: %w", dir, err)
		}
		if tok.VocabSize() > rm.Net.Config.Vocab {
			return nil, fmt.Errorf("reward model %s: its tokenizer has %d tokens, its embedding %d", dir, tok.VocabSize(), rm.Net.Config.Vocab)
		}
		return &RewardJudge{RM: rm, Tok: tok}, nil
	})
}

// ids is the token sequence the judge scores for (x, y).
func (j *RewardJudge) ids(x, y string) ([]int32, error) {
	ids, err := j.Tok.EncodeSpecial(x + y)
	if err != nil {
		return nil, err
	}
	if c := j.RM.Net.Config.Context; len(ids) > c {
		ids = ids[len(ids)-c:]
	}
	return ids, nil
}

// Score is the reward of each (x, y).
func (j *RewardJudge) Score(xs, ys []string) ([]float64, error) {
	seqs := make([][]int32, len(xs))
	for i := range xs {
		var err error
		if seqs[i], err = j.ids(xs[i], ys[i]); err != nil {
			return nil, fmt.Errorf("response %d: %w", i, err)
		}
	}
	return j.RM.Rewards(seqs)
}

// Reward is Score of one (x, y), as Sampled and Gold take a judge.
func (j *RewardJudge) Reward(x, y string) (float64, error) {
	r, err := j.Score([]string{x}, []string{y})
	if err != nil {
		return 0, err
	}
	return r[0], nil
}

// Gaps are the judge's r(x, y+) − r(x, y−) of scored rows, from their
// text: the quality gap the paper's Table 4 correlates h and Δπ with.
func (j *RewardJudge) Gaps(rows []schemas.Scored) ([]float64, error) {
	var xs, ys []string
	for _, r := range rows {
		if r.Prompt == "" {
			return nil, fmt.Errorf("row %s carries no text (scored before schema 2): the reward model needs it", r.ID)
		}
		xs, ys = append(xs, r.Prompt, r.Prompt), append(ys, r.Chosen, r.Rejected)
	}
	s, err := j.Score(xs, ys)
	if err != nil {
		return nil, err
	}
	gaps := make([]float64, len(rows))
	for i := range gaps {
		gaps[i] = s[2*i] - s[2*i+1]
	}
	return gaps, nil
}
