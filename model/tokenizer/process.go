package tokenizer

import (
	"encoding/json"
	"fmt"
)

// template is what a post-processor does to a single sequence: special
// ids before and after it. TemplateProcessing gives them; ByteLevel adds
// none; a Sequence concatenates its members' effects.
type template struct{ before, after []int32 }

func (t template) apply(ids []int32) []int32 {
	out := make([]int32, 0, len(t.before)+len(ids)+len(t.after))
	out = append(out, t.before...)
	out = append(out, ids...)
	return append(out, t.after...)
}

func parsePostProcessor(raw json.RawMessage) (template, error) {
	if isNull(raw) {
		return template{}, nil
	}
	var p struct {
		Type       string            `json:"type"`
		Processors []json.RawMessage `json:"processors"`
		Single     []struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
			Sequence *struct {
				ID string `json:"id"`
			} `json:"Sequence"`
		} `json:"single"`
		SpecialTokens map[string]struct {
			IDs []int32 `json:"ids"`
		} `json:"special_tokens"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return template{}, fmt.Errorf("post_processor: %w", err)
	}
	switch p.Type {
	case "ByteLevel":
		return template{}, nil // it only trims offsets
	case "TemplateProcessing":
		var t template
		seen := false
		for i, item := range p.Single {
			switch {
			case item.Sequence != nil:
				if item.Sequence.ID != "A" || seen {
					return template{}, fmt.Errorf("post_processor TemplateProcessing: single[%d] is sequence %q; want $A once", i, item.Sequence.ID)
				}
				seen = true
			case item.SpecialToken != nil:
				st, ok := p.SpecialTokens[item.SpecialToken.ID]
				if !ok {
					return template{}, fmt.Errorf("post_processor TemplateProcessing: special token %q is not in special_tokens", item.SpecialToken.ID)
				}
				if seen {
					t.after = append(t.after, st.IDs...)
				} else {
					t.before = append(t.before, st.IDs...)
				}
			default:
				return template{}, fmt.Errorf("post_processor TemplateProcessing: single[%d] is neither SpecialToken nor Sequence", i)
			}
		}
		if !seen {
			return template{}, fmt.Errorf("post_processor TemplateProcessing: single has no $A")
		}
		return t, nil
	case "Sequence":
		var t template
		for i, r := range p.Processors {
			sub, err := parsePostProcessor(r)
			if err != nil {
				return template{}, fmt.Errorf("post_processor Sequence[%d]: %w", i, err)
			}
			t.before = append(sub.before, t.before...)
			t.after = append(t.after, sub.after...)
		}
		return t, nil
	}
	return template{}, fmt.Errorf("unsupported post_processor %q", p.Type)
}
