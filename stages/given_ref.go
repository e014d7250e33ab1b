package stages

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/schemas"
)

// A dataset TRL precomputed carries the reference's x-side sums
// (ref_chosen_logps, ref_rejected_logps) and the ids they were summed over
// (prompt_ids, chosen_ids, rejected_ids). With --ref-from-corpus, srdpo
// score takes those sums as given and scores only the p⊕x side: p⊕x is
// formed from the record's prompt as always, and the given completion ids
// (cut to --max-length as TRL's collator cuts them) are scored after it,
// so that the same response tokens stand under both prompts. The given
// prompt ids must be this tokenizer's and template's encoding of the
// prompt, which is what can be checked of the columns' provenance; the
// model, dtype and max_length that made the sums cannot be, and the log
// says so.

// RefSourceCorpus is the KeyRefSource value of sets whose x-side sums
// the corpus gave.
const RefSourceCorpus = "corpus"

// Dead-letter reasons of given reference columns.
const (
	ReasonBadGivenRef      = "bad_given_ref"      // ref_*_logps or *_ids columns malformed or incomplete
	ReasonNoGivenRef       = "no_given_ref"       // --ref-from-corpus, and the record has no ref_*_logps
	ReasonGivenIDsMismatch = "given_ids_mismatch" // the given prompt_ids are not this tokenizer's encoding of the prompt
)

// parseGivenRef reads a record's precomputed reference columns: both sums
// or neither, and the three id lists or none.
func parseGivenRef(obj map[string]json.RawMessage, p *schemas.Preference) *recordError {
	present := func(k string) bool { v, ok := obj[k]; return ok && string(bytes.TrimSpace(v)) != "null" }
	sums := []string{"ref_chosen_logps", "ref_rejected_logps"}
	if present(sums[0]) != present(sums[1]) {
		return deadf(ReasonBadGivenRef, "ref_chosen_logps and ref_rejected_logps must be given together")
	}
	if !present(sums[0]) {
		return nil
	}
	var v [2]float64
	for i, k := range sums {
		f, err := finiteNumber(obj[k])
		if err != nil {
			return deadf(ReasonBadGivenRef, "%s: %v", k, err)
		}
		v[i] = f
	}
	p.GivenRefChosen, p.GivenRefRejected = &v[0], &v[1]
	idCols := []string{"prompt_ids", "chosen_ids", "rejected_ids"}
	n := 0
	for _, k := range idCols {
		if present(k) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if n != len(idCols) {
		return deadf(ReasonBadGivenRef, "prompt_ids, chosen_ids and rejected_ids must be given together")
	}
	dst := []*[]int32{&p.GivenPromptIDs, &p.GivenChosenIDs, &p.GivenRejectedIDs}
	for i, k := range idCols {
		var ids []int64
		if err := json.Unmarshal(obj[k], &ids); err != nil {
			return deadf(ReasonBadGivenRef, "%s is not a list of integer ids", k)
		}
		out := make([]int32, len(ids))
		for j, id := range ids {
			if id < 0 || id > 1<<31-1 {
				return deadf(ReasonBadGivenRef, "%s[%d] is %d, not a token id", k, j, id)
			}
			out[j] = int32(id)
		}
		if len(out) == 0 {
			return deadf(ReasonBadGivenRef, "%s is empty", k)
		}
		*dst[i] = out
	}
	return nil
}

// errGivenIDs is a given-ids mismatch, a dead letter of its own reason.
type errGivenIDs struct{ detail string }

func (e *errGivenIDs) Error() string { return e.detail }

// tokenizeGiven forms a row's sequences around given x-side sums: x and
// p⊕x encoded by TRL's rule, and the completions as given (or, without
// given ids, by TRL's rule from the text), cut to --max-length.
func (r *Reference) tokenizeGiven(p schemas.Preference) (schemas.Scored, error) {
	s, err := r.tokenizeTRL(p)
	if len(p.GivenPromptIDs) == 0 || err != nil {
		return s, err
	}
	if !slices.Equal(s.PromptIDs, p.GivenPromptIDs) {
		return s, &errGivenIDs{fmt.Sprintf("the given prompt_ids (%d ids, %s) are not this tokenizer's and chat template's encoding of the prompt (%d ids, %s): the dataset was made with other settings",
			len(p.GivenPromptIDs), idsHead(p.GivenPromptIDs), len(s.PromptIDs), idsHead(s.PromptIDs))}
	}
	t := r.Spec.Truncation
	c, rj := p.GivenChosenIDs, p.GivenRejectedIDs
	var cCut, rCut bool
	if limit := t.MaxLength; limit > 0 {
		if len(s.PromptIDs) >= limit {
			return s, fmt.Errorf("the prompt's %d tokens reach --max-length %d: TRL drops such rows", len(s.PromptIDs), limit)
		}
		c, cCut = model.Keep(c, limit-len(s.PromptIDs), model.KeepStart)
		rj, rCut = model.Keep(rj, limit-len(s.PromptIDs), model.KeepStart)
	}
	if n := len(s.AugPromptIDs) + max(len(c), len(rj)); r.Model != nil && n > r.Model.Config.Context {
		return s, fmt.Errorf("p⊕x and its response take %d tokens, more than the model's context of %d", n, r.Model.Config.Context)
	}
	s.ChosenIDs, s.RejectedIDs = c, rj
	s.ChosenTokens, s.RejectedTokens = int32(len(c)), int32(len(rj))
	s.ChosenTruncated, s.RejectedTruncated = cCut, rCut
	return s, nil
}

// idsHead is the start of an id list, for messages.
func idsHead(ids []int32) string {
	if len(ids) > 8 {
		return fmt.Sprintf("%v…", ids[:8])
	}
	return fmt.Sprint(ids)
}
