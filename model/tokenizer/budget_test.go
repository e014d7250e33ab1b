package tokenizer

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// A tokenizer.json regex that backtracks catastrophically ((a+)+$ takes
// 2^n steps on n a's followed by a b) fails the text that triggers it
// within its budget, with an error naming the pattern; other texts still
// encode, each with a budget of its own.
func TestRegexBudgetStopsBacktracking(t *testing.T) {
	dir := withParts(t, map[string]any{"pre_tokenizer": map[string]any{"type": "Split",
		"pattern": map[string]any{"Regex": "(a+)+$"}, "behavior": "Isolated"}}, "")
	tok, err := LoadHF(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok.EncodeBudget = 300 * time.Millisecond
	start := time.Now()
	_, err = tok.Encode(strings.Repeat("a", 40) + "b")
	took := time.Since(start)
	if !errors.Is(err, ErrBudget) || !strings.Contains(err.Error(), `regex "(a+)+$"`) {
		t.Fatalf("err = %v, want the budget error naming the pattern", err)
	}
	// regexp2 checks its clock every ~100 ms.
	if took > 2*time.Second {
		t.Errorf("the budget of 300 ms stopped the match after %v", took)
	}
	if len(err.Error()) > 200 {
		t.Errorf("the error holds the whole input (%d bytes): %.100s…", len(err.Error()), err)
	}
	for i := 0; i < 3; i++ {
		if ids, err := tok.Encode("hello"); err != nil || len(ids) == 0 {
			t.Fatalf("a harmless text after the budget ran out: %v, %v", ids, err)
		}
	}
}
