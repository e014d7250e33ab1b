package stages

import (
	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
)

// How special tokens enter the sequences srdpo scores and trains on, in
// one place (as TRL's DPO trainer forms them):
//   - a prompt (x, p⊕x, an evaluation prompt) starts with the tokenizer's
//     BOS when its post-processor adds one (Llama 2, Mistral; none for
//     GPT-2, Qwen or the byte tokenizer);
//   - a response follows the prompt with no BOS between them, and ends with
//     EOS only when asked (--response-eos), as TRL appends it for
//     non-conversational rows;
//   - prompt and response are encoded separately, so their ids are the
//     concatenation of two encodings, not the encoding of the joined text.

// PromptIDs is BOS then the prompt's ids, the latter cut to what is left
// of max beside BOS from the given side; BOS is never cut.
func PromptIDs(tok tokenizer.Tokenizer, text string, max int, side model.Side) ([]int32, bool, error) {
	ids, err := tok.Encode(text)
	if err != nil {
		return nil, false, err
	}
	bos := tok.BOS()
	ids, cut := model.Keep(ids, max-len(bos), side)
	return append(append(make([]int32, 0, len(bos)+len(ids)), bos...), ids...), cut, nil
}

// ResponseIDs is the response's ids, then EOS when eos is set, cut to max
// from the given side.
func ResponseIDs(tok tokenizer.Tokenizer, text string, eos bool, max int, side model.Side) ([]int32, bool, error) {
	ids, err := tok.Encode(text)
	if err != nil {
		return nil, false, err
	}
	if eos {
		ids = append(ids, tok.EOS())
	}
	ids, cut := model.Keep(ids, max, side)
	return ids, cut, nil
}
