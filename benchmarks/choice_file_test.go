package benchmarks

import (
	"reflect"
	"strings"
	"testing"
)

// A choice file's items: context, choices and gold required; fewshot
// optional; fewer than two choices, a gold outside them or an empty choice
// refused with what is wrong.
func TestChoiceFileItems(t *testing.T) {
	task := ChoiceFile("animals")
	d, err := task.Parse([]byte(`{"context": "The cow says", "choices": [" moo", " woof"], "gold": 0, "fewshot": true}`))
	want := Doc{Text: "The cow says", Choices: []string{" moo", " woof"}, Gold: 0, Fewshot: true}
	if err != nil || !reflect.DeepEqual(d, want) {
		t.Fatalf("%+v, %v; want %+v", d, err, want)
	}
	// The few-shot example and the request, as the old --mc path wrote
	// them: context, gold choice, blank line; then the choice as written.
	if got := task.Context(Doc{Text: "The cat says"}, []Doc{d}); got != "The cow says moo\n\nThe cat says" {
		t.Errorf("context %q", got)
	}
	for record, msg := range map[string]string{
		`{"context": "x", "choices": ["a"], "gold": 0}`:      "1 choices, want at least 2",
		`{"context": "x", "choices": ["a", "b"], "gold": 2}`: "gold 2 is not one of the 2 choices",
		`{"context": "x", "choices": ["a", ""], "gold": 0}`:  "choice 1 is empty",
		`{"context": "x", "choices": ["a", "b"]}`:            `no field "gold"`,
	} {
		if _, err := task.Parse([]byte(record)); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", record, err, msg)
		}
	}
}
