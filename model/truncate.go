package model

import "fmt"

// Side says which part of a too-long sequence is kept.
type Side string

const (
	KeepEnd   Side = "keep_end"
	KeepStart Side = "keep_start"
)

// Truncation is the one truncation policy of srdpo: scoring, training and
// evaluation all cut sequences here. A prompt longer than MaxPromptLength
// loses its start (by default: the question at its end is what the
// response answers); then a response that does not fit in MaxLength loses
// its end (by default). The policy is recorded in file metadata.
type Truncation struct {
	MaxPromptLength int
	MaxLength       int
	Prompt          Side // default KeepEnd
	Response        Side // default KeepStart
}

// DefaultTruncation is the paper's maximum length, 512, with half for the
// prompt.
var DefaultTruncation = Truncation{MaxPromptLength: 256, MaxLength: 512, Prompt: KeepEnd, Response: KeepStart}

// ForContext fills lengths left at 0 ("follow the model") for a model of
// the given context: the paper's 512, or the context when it is shorter,
// with half for the prompt.
func (t Truncation) ForContext(context int) Truncation {
	if t.MaxLength == 0 {
		t.MaxLength = min(DefaultTruncation.MaxLength, context)
	}
	if t.MaxPromptLength == 0 {
		t.MaxPromptLength = t.MaxLength / 2
	}
	return t
}

// Validate checks the policy leaves room for a response.
func (t Truncation) Validate() error {
	if t.MaxPromptLength < 1 || t.MaxLength <= t.MaxPromptLength {
		return fmt.Errorf("truncation: max length %d must exceed max prompt length %d, which must be positive", t.MaxLength, t.MaxPromptLength)
	}
	for _, s := range []Side{t.Prompt, t.Response} {
		if s != KeepEnd && s != KeepStart {
			return fmt.Errorf("truncation: side %q: want keep_end or keep_start", s)
		}
	}
	return nil
}

// Mode names the policy for file metadata, e.g. "prompt=keep_end,response=keep_start".
func (t Truncation) Mode() string {
	return fmt.Sprintf("prompt=%s,response=%s", t.Prompt, t.Response)
}

// Keep cuts ids to at most n tokens from the given side; the flag tells
// whether anything was cut.
func Keep(ids []int32, n int, side Side) ([]int32, bool) {
	if len(ids) <= n {
		return ids, false
	}
	if side == KeepEnd {
		return ids[len(ids)-n:], true
	}
	return ids[:n], true
}

// Apply cuts a prompt and a response; the flags tell which were cut.
func (t Truncation) Apply(prompt, response []int32) (p, r []int32, promptCut, responseCut bool) {
	p, promptCut = Keep(prompt, t.MaxPromptLength, t.Prompt)
	r, responseCut = Keep(response, t.MaxLength-len(p), t.Response)
	return p, r, promptCut, responseCut
}
