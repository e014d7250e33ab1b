package schemas

import (
	"math"
	"unicode/utf8"
)

// Preference is one normalised preference pair, whatever corpus format it
// came from. Prompt is the text x the responses continue; multi-turn
// histories have already been rendered into it by the chat template.
type Preference struct {
	ID            string   `arrow:"id"`         // given by the corpus, or a hash of the content
	Prompt        string   `arrow:"prompt"`     // x
	Chosen        string   `arrow:"chosen"`     // y+
	Rejected      string   `arrow:"rejected"`   // y−
	Messages      string   `arrow:"messages"`   // a conversation's messages as given, JSON {"prompt": […], "chosen": […], "rejected": […]}; "" for text records
	AugPrompt     string   `arrow:"aug_prompt"` // p⊕x rendered from a conversation with p in its messages; "" for text records (p + sep + x)
	SourceFormat  string   `arrow:"source_format"`
	ScoreChosen   *float64 `arrow:"score_chosen"`   // gold score, when the corpus ships one
	ScoreRejected *float64 `arrow:"score_rejected"` // gold score, when the corpus ships one
	Offset        *float64 `arrow:"offset"`         // ODPO margin offset, when the corpus ships one

	// A reference computed elsewhere (a dataset TRL precomputed), kept only
	// when scoring is asked to take it (srdpo score --ref-from-corpus): the
	// x-side sums, and TRL's ids they were summed over when given.
	GivenRefChosen   *float64 `arrow:"given_ref_chosen_logps"`
	GivenRefRejected *float64 `arrow:"given_ref_rejected_logps"`
	GivenPromptIDs   []int32  `arrow:"given_prompt_ids"`
	GivenChosenIDs   []int32  `arrow:"given_chosen_ids"`
	GivenRejectedIDs []int32  `arrow:"given_rejected_ids"`
}

// Preferences is the Arrow contract of normalised preference rows.
var Preferences = newTable("preference", "3", Preference{})

func (p Preference) Key() string { return p.ID }

// Validate checks what every later stage relies on.
func (p Preference) Validate() error {
	for _, c := range []struct{ col, v string }{
		{"id", p.ID}, {"prompt", p.Prompt}, {"chosen", p.Chosen}, {"rejected", p.Rejected},
	} {
		if c.v == "" {
			return invalid(c.col, "empty")
		}
		if !utf8.ValidString(c.v) {
			return invalid(c.col, "not valid UTF-8")
		}
	}
	if !utf8.ValidString(p.AugPrompt) || !utf8.ValidString(p.Messages) {
		return invalid("aug_prompt", "aug_prompt or messages is not valid UTF-8")
	}
	if p.Chosen == p.Rejected {
		return invalid("rejected", "identical to chosen")
	}
	if (p.GivenRefChosen == nil) != (p.GivenRefRejected == nil) {
		return invalid("given_ref_rejected_logps", "given reference sums must come for both responses or neither")
	}
	// An empty list is no list: Arrow reads a nil list back as empty.
	if (len(p.GivenPromptIDs) == 0) != (len(p.GivenChosenIDs) == 0) || (len(p.GivenPromptIDs) == 0) != (len(p.GivenRejectedIDs) == 0) {
		return invalid("given_prompt_ids", "given ids must come for prompt, chosen and rejected or none")
	}
	if len(p.GivenPromptIDs) > 0 && p.GivenRefChosen == nil {
		return invalid("given_ref_chosen_logps", "given ids without given sums")
	}
	if (p.ScoreChosen == nil) != (p.ScoreRejected == nil) {
		return invalid("score_rejected", "gold scores must be given for both responses or neither")
	}
	for _, c := range []struct {
		col string
		v   *float64
	}{{"score_chosen", p.ScoreChosen}, {"score_rejected", p.ScoreRejected}, {"offset", p.Offset},
		{"given_ref_chosen_logps", p.GivenRefChosen}, {"given_ref_rejected_logps", p.GivenRefRejected}} {
		if c.v != nil && (math.IsNaN(*c.v) || math.IsInf(*c.v, 0)) {
			return invalid(c.col, "not finite")
		}
	}
	return nil
}
