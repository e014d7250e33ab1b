package schemas

import "math"

// Scored is one preference pair after tokenisation and reference scoring:
// the four π_ref log-prob sums the training stage needs, and the exact token
// ids they were computed on, so training never tokenises differently.
type Scored struct {
	ID string `arrow:"id"`

	// The pair as ingested, for exports: the text (a conversation's as its
	// chat template rendered it), its messages as given (JSON, "" for text
	// records) and the corpus format.
	Prompt       string `arrow:"prompt"`
	Chosen       string `arrow:"chosen"`
	Rejected     string `arrow:"rejected"`
	Messages     string `arrow:"messages"`
	SourceFormat string `arrow:"source_format"`

	PromptIDs    []int32 `arrow:"prompt_ids"`     // x, after truncation
	AugPromptIDs []int32 `arrow:"aug_prompt_ids"` // p⊕x, after truncation
	ChosenIDs    []int32 `arrow:"chosen_ids"`     // y+, after truncation
	RejectedIDs  []int32 `arrow:"rejected_ids"`   // y−, after truncation

	PromptTokens    int32 `arrow:"prompt_tokens"`
	AugPromptTokens int32 `arrow:"aug_prompt_tokens"`
	ChosenTokens    int32 `arrow:"chosen_tokens"`
	RejectedTokens  int32 `arrow:"rejected_tokens"`

	PromptTruncated    bool `arrow:"prompt_truncated"`
	AugPromptTruncated bool `arrow:"aug_prompt_truncated"`
	ChosenTruncated    bool `arrow:"chosen_truncated"`
	RejectedTruncated  bool `arrow:"rejected_truncated"`

	RefLogpChosen      float64 `arrow:"ref_logp_chosen"`       // log π_ref(y+|x), summed over response tokens
	RefLogpRejected    float64 `arrow:"ref_logp_rejected"`     // log π_ref(y−|x)
	RefLogpChosenAug   float64 `arrow:"ref_logp_chosen_aug"`   // log π_ref(y+|p⊕x)
	RefLogpRejectedAug float64 `arrow:"ref_logp_rejected_aug"` // log π_ref(y−|p⊕x)

	ScoreChosen   *float64 `arrow:"score_chosen"`
	ScoreRejected *float64 `arrow:"score_rejected"`
	Offset        *float64 `arrow:"offset"`
}

// ScoredRows is the Arrow contract of scored shards.
var ScoredRows = newTable("scored", "2", Scored{})

func (s Scored) Key() string { return s.ID }

func (s Scored) Validate() error {
	if s.ID == "" {
		return invalid("id", "empty")
	}
	for _, c := range []struct {
		col   string
		ids   []int32
		count int32
	}{
		{"prompt_tokens", s.PromptIDs, s.PromptTokens},
		{"aug_prompt_tokens", s.AugPromptIDs, s.AugPromptTokens},
		{"chosen_tokens", s.ChosenIDs, s.ChosenTokens},
		{"rejected_tokens", s.RejectedIDs, s.RejectedTokens},
	} {
		if int(c.count) != len(c.ids) {
			return invalid(c.col, "is %d but the token id list has %d", c.count, len(c.ids))
		}
		if c.count == 0 {
			return invalid(c.col, "no tokens")
		}
	}
	for _, c := range []struct {
		col string
		v   float64
	}{
		{"ref_logp_chosen", s.RefLogpChosen}, {"ref_logp_rejected", s.RefLogpRejected},
		{"ref_logp_chosen_aug", s.RefLogpChosenAug}, {"ref_logp_rejected_aug", s.RefLogpRejectedAug},
	} {
		if math.IsNaN(c.v) || math.IsInf(c.v, 0) {
			return invalid(c.col, "not finite")
		}
		if c.v > 0 {
			return invalid(c.col, "log-prob sum %g is positive", c.v)
		}
	}
	return nil
}
