package benchmarks

import (
	"fmt"
	"unicode/utf8"
)

// ChoiceFile is the task of one of srdpo's own multiple-choice files
// (srdpo eval --mc): JSON Lines of {"context", "choices", "gold"[,
// "fewshot"]}, scored as the harness scores its multiple-choice tasks (acc
// and acc_norm from each choice's loglikelihood after the context), with
// each choice following its context as written and, as few-shot examples,
// the first k items marked fewshot, each followed by its gold choice and a
// blank line. name is the benchmark's name in the rows.
func ChoiceFile(name string) *Task {
	return &Task{Name: name, Kind: MultipleChoice, FirstN: true, BareTargets: true,
		Metrics: []string{"acc", "acc_norm"}, Parse: parseChoiceItem}
}

// choiceItem is one line of a choice file.
type choiceItem struct {
	Context string   `json:"context"`
	Choices []string `json:"choices"`
	Gold    int      `json:"gold"`
	Fewshot bool     `json:"fewshot"`
}

func parseChoiceItem(record []byte) (Doc, error) {
	var it choiceItem
	if err := decode(record, &it, "context", "choices", "gold"); err != nil {
		return Doc{}, err
	}
	if len(it.Choices) < 2 {
		return Doc{}, fmt.Errorf("%d choices, want at least 2", len(it.Choices))
	}
	if it.Gold < 0 || it.Gold >= len(it.Choices) {
		return Doc{}, fmt.Errorf("gold %d is not one of the %d choices", it.Gold, len(it.Choices))
	}
	for i, c := range it.Choices {
		if utf8.RuneCountInString(c) == 0 {
			return Doc{}, fmt.Errorf("choice %d is empty (acc_norm divides by its length)", i)
		}
	}
	return Doc{Text: it.Context, Choices: it.Choices, Gold: it.Gold, Fewshot: it.Fewshot}, nil
}
