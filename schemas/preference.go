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
}

// Preferences is the Arrow contract of normalised preference rows.
var Preferences = newTable("preference", "2", Preference{})

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
	if (p.ScoreChosen == nil) != (p.ScoreRejected == nil) {
		return invalid("score_rejected", "gold scores must be given for both responses or neither")
	}
	for _, c := range []struct {
		col string
		v   *float64
	}{{"score_chosen", p.ScoreChosen}, {"score_rejected", p.ScoreRejected}, {"offset", p.Offset}} {
		if c.v != nil && (math.IsNaN(*c.v) || math.IsInf(*c.v, 0)) {
			return invalid(c.col, "not finite")
		}
	}
	return nil
}
