package stages

import (
	"os"
	"strings"
	"testing"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/optim"
	"github.com/srdpo/srdpo/model/tokenizer"
)

// A tiny model taught, by SFT, the animal sounds of the fixture answers
// every question, with and without length normalisation: acc = acc_norm =
// 1, the hand-checked answer.
func TestMultipleChoiceAfterTeaching(t *testing.T) {
	f, err := os.Open("testdata/mc/animals.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	items, err := ReadMCTask(f)
	f.Close()
	if err != nil || len(items) != 4 {
		t.Fatalf("%d items, %v", len(items), err)
	}
	backend, _ := model.Backend()
	cfg := model.Tiny(257)
	cfg.Context = 64
	m, _ := model.New(cfg, 1, backend)
	var pairs []model.Pair
	shot := "The cow says moo\n\n" // the one few-shot example, as evaluation puts it in front
	for _, it := range items[1:] {
		pairs = append(pairs, model.Pair{Prompt: tokenizer.Bytes(shot + it.Context), Response: tokenizer.Bytes(it.Choices[it.Gold])})
	}
	if err := m.SFT(pairs, model.SFTConfig{Optim: optim.Config{Name: "adam", LR: 3e-3}, BatchSize: 3, Steps: 150, Seed: 1}, nil); err != nil {
		t.Fatal(err)
	}
	res, err := MultipleChoice(m, tokenizer.Byte{}, items, 1)
	if err != nil {
		t.Fatal(err)
	}
	if res.N != 3 || res.Acc != 1 || res.AccNorm != 1 {
		t.Errorf("after teaching: %+v", res)
	}
	if _, err := ReadMCTask(strings.NewReader(`{"context": "x", "choices": ["a"], "gold": 0}`)); err == nil {
		t.Error("a one-choice item was accepted")
	}
}

// Each choice gets the end of the context that fits beside it: a long
// choice cuts the context for itself only; a choice that fills the model's
// context is an error, not a panic.
func TestChoicePairs(t *testing.T) {
	ps, err := choicePairs(tokenizer.Byte{}, "0123456789", []string{"abcdefgh", "x"}, 12)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(tokenizer.Byte{}.Decode(ps[0].Prompt)); got != "6789" {
		t.Errorf("the long choice's context %q, want %q", got, "6789")
	}
	if got := string(tokenizer.Byte{}.Decode(ps[1].Prompt)); got != "0123456789" {
		t.Errorf("the short choice's context %q, want the whole %q", got, "0123456789")
	}
	if _, err := choicePairs(tokenizer.Byte{}, "ctx", []string{"a", strings.Repeat("z", 12)}, 12); err == nil || !strings.Contains(err.Error(), "no shorter than the model's context of 12") {
		t.Errorf("a choice filling the context: %v", err)
	}
}
