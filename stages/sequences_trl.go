package stages

import (
	"fmt"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/schemas"
)

// The rules that turn a row's text into the token ids it is scored on.
const (
	// TokenizationSrdpo is srdpo's rule (sequences.go): prompt and
	// responses encoded apart.
	TokenizationSrdpo = "srdpo"
	// TokenizationTRL is TRL 1.x DPOTrainer's rule (stages/testdata/trl
	// README.md cites the code): prompt and prompt+completion encoded
	// together and split at the prompt's token count, so the x-side ids and
	// sums are those a TRL run computes.
	TokenizationTRL = "trl"
)

// CheckTokenization checks --tokenization.
func CheckTokenization(s string) error {
	if s != TokenizationSrdpo && s != TokenizationTRL {
		return fmt.Errorf("--tokenization %q: want srdpo or trl", s)
	}
	return nil
}

func (r *Reference) tokenization() string {
	if r.Spec.Tokenization == "" {
		return TokenizationSrdpo
	}
	return r.Spec.Tokenization
}

// conversational tells the rows whose text a chat template rendered.
func conversational(sourceFormat string) bool {
	switch CorpusFormat(sourceFormat) {
	case FormatTRLConversational, FormatUltraFeedback, FormatShareGPT:
		return true
	}
	return false
}

// tokenizeTRL forms a row's sequences as TRL 1.x's DPOTrainer does:
//  1. a text row's completions end with the EOS text unless they already do;
//  2. the prompt and prompt+completion are each encoded whole — text rows
//     with the tokenizer's special tokens (add_special_tokens=True),
//     conversations without (apply_chat_template(tokenize=True) encodes
//     with add_special_tokens=False) — and a completion's ids are those
//     after the prompt's token count (even where the joint encoding merged
//     across the boundary, as TRL takes them);
//  3. with keep_start (TRL's default), a row whose prompt alone reaches
//     max_length is dropped (a dead letter here), else each completion is
//     cut to what is left; keep_end cuts a sequence's start, which would
//     give chosen and rejected different prompts, so such rows are dead
//     letters (srdpo scores one prompt per pair).
//
// p⊕x is encoded as the prompt is, before the same completion ids: the
// same response tokens are scored under both prompts.
func (r *Reference) tokenizeTRL(p schemas.Preference) (schemas.Scored, error) {
	tok, t := r.Tokenizer, r.Spec.Truncation
	conv := conversational(p.SourceFormat)
	encode := tok.EncodeSpecial
	if conv {
		encode = tok.Encode
	}
	chosen, rejected := p.Chosen, p.Rejected
	if !conv {
		if tok.EOS() < 0 {
			return schemas.Scored{}, fmt.Errorf("the tokenizer has no EOS token, which TRL appends to text completions")
		}
		eos := tok.Decode([]int32{tok.EOS()})
		chosen, rejected = withSuffix(chosen, eos), withSuffix(rejected, eos)
	}
	x, err := encode(p.Prompt)
	if err != nil {
		return schemas.Scored{}, fmt.Errorf("prompt: %w", err)
	}
	ax, err := encode(r.augmented(p))
	if err != nil {
		return schemas.Scored{}, fmt.Errorf("augmented prompt: %w", err)
	}
	var parts [2][]int32
	for i, completion := range []string{chosen, rejected} {
		whole, err := encode(p.Prompt + completion)
		if err != nil {
			return schemas.Scored{}, fmt.Errorf("%s: %w", [2]string{"chosen", "rejected"}[i], err)
		}
		if len(whole) <= len(x) {
			return schemas.Scored{}, fmt.Errorf("%s: prompt and completion encode to %d ids, no more than the prompt's %d", [2]string{"chosen", "rejected"}[i], len(whole), len(x))
		}
		parts[i] = whole[len(x):]
	}
	c, rj := parts[0], parts[1]
	var cCut, rCut bool
	if limit := t.MaxLength; limit > 0 {
		switch t.Response {
		case model.KeepEnd:
			if len(x)+max(len(c), len(rj)) > limit {
				return schemas.Scored{}, fmt.Errorf("TRL's keep_end would cut the start of a sequence of %d tokens to --max-length %d, giving chosen and rejected different prompts; srdpo scores one prompt per pair (use keep_start, TRL's default)", len(x)+max(len(c), len(rj)), limit)
			}
		default:
			if len(x) >= limit {
				return schemas.Scored{}, fmt.Errorf("the prompt's %d tokens reach --max-length %d: TRL drops such rows", len(x), limit)
			}
			c, cCut = model.Keep(c, limit-len(x), model.KeepStart)
			rj, rCut = model.Keep(rj, limit-len(x), model.KeepStart)
		}
	}
	if n := len(ax) + max(len(c), len(rj)); r.Model != nil && n > r.Model.Config.Context {
		return schemas.Scored{}, fmt.Errorf("p⊕x and its response take %d tokens, more than the model's context of %d", n, r.Model.Config.Context)
	}
	return schemas.Scored{ID: p.ID, Prompt: p.Prompt, Chosen: p.Chosen, Rejected: p.Rejected, Messages: p.Messages, SourceFormat: p.SourceFormat,
		PromptIDs: x, AugPromptIDs: ax, ChosenIDs: c, RejectedIDs: rj,
		PromptTokens: int32(len(x)), AugPromptTokens: int32(len(ax)), ChosenTokens: int32(len(c)), RejectedTokens: int32(len(rj)),
		ChosenTruncated: cCut, RejectedTruncated: rCut,
		ScoreChosen: p.ScoreChosen, ScoreRejected: p.ScoreRejected, Offset: p.Offset}, nil
}

func withSuffix(s, suffix string) string {
	if len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix {
		return s
	}
	return s + suffix
}
