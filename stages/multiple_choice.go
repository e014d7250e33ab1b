package stages

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/srdpo/srdpo/benchmarks"
	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
)

// MCItem is one multiple-choice question in the lm-eval-harness manner: the
// answer is the choice the model gives the highest log-likelihood after the
// context. Items marked fewshot are not evaluated; they are the examples
// put in front of the others' contexts.
type MCItem struct {
	Context string   `json:"context"`
	Choices []string `json:"choices"`
	Gold    int      `json:"gold"`
	Fewshot bool     `json:"fewshot,omitempty"`
}

// ReadMCTask reads a task file: JSONL, one MCItem a line.
func ReadMCTask(r io.Reader) ([]MCItem, error) {
	var out []MCItem
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		var it MCItem
		if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		if len(it.Choices) < 2 || it.Gold < 0 || it.Gold >= len(it.Choices) {
			return nil, fmt.Errorf("line %d: %d choices, gold %d", line, len(it.Choices), it.Gold)
		}
		out = append(out, it)
	}
	return out, sc.Err()
}

// MCResult is accuracy by the summed log-likelihood (acc) and by the
// log-likelihood per character of the choice (acc_norm), over N items.
type MCResult struct {
	Acc, AccNorm float64
	N            int
}

// MultipleChoice evaluates items with the first k few-shot items (context
// followed by their gold choice, separated by a blank line) in front of
// each context.
func MultipleChoice(m *model.Decoder, tok tokenizer.Tokenizer, items []MCItem, k int) (MCResult, error) {
	var prefix strings.Builder
	var eval []MCItem
	for _, it := range items {
		if it.Fewshot {
			if k > 0 {
				prefix.WriteString(it.Context + it.Choices[it.Gold] + "\n\n")
				k--
			}
			continue
		}
		eval = append(eval, it)
	}
	if len(eval) == 0 {
		return MCResult{}, fmt.Errorf("no items to evaluate")
	}
	scorer, err := m.NewScorer(ScoreBudgetTokens)
	if err != nil {
		return MCResult{}, err
	}
	var pairs []model.Pair
	for _, it := range eval {
		ps, err := choicePairs(tok, prefix.String()+it.Context, it.Choices, m.Config.Context)
		if err != nil {
			return MCResult{}, err
		}
		pairs = append(pairs, ps...)
	}
	lp, err := scorer.LogProbs(pairs)
	if err != nil {
		return MCResult{}, err
	}
	res := MCResult{N: len(eval)}
	i := 0
	for _, it := range eval {
		lls := make([]float64, len(it.Choices))
		for c := range lls {
			lls[c] = lp[i+c].Sum
		}
		acc, accNorm := benchmarks.ChoiceAccuracy(it.Choices, lls, it.Gold)
		res.Acc += acc
		res.AccNorm += accNorm
		i += len(it.Choices)
	}
	res.Acc /= float64(res.N)
	res.AccNorm /= float64(res.N)
	return res, nil
}

// choicePairs are an item's sequences, one per choice: each choice gets
// the end of the context that fits beside it in the model's context (BOS
// kept, as truncation does), whatever the other choices needed. A choice
// that alone fills the context is an error.
func choicePairs(tok tokenizer.Tokenizer, context string, choices []string, size int) ([]model.Pair, error) {
	var pairs []model.Pair
	for _, c := range choices {
		resp, _, err := ResponseIDs(tok, c, false, math.MaxInt32, model.KeepStart)
		if err != nil {
			return nil, err
		}
		if len(resp) >= size {
			return nil, fmt.Errorf("choice %q is %d tokens, no shorter than the model's context of %d", c, len(resp), size)
		}
		ctx, _, err := PromptIDs(tok, context, size-len(resp), model.KeepEnd)
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, model.Pair{Prompt: ctx, Response: resp})
	}
	return pairs, nil
}
