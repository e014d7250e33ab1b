package stages

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/srdpo/srdpo/benchmarks"
	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/optim"
	"github.com/srdpo/srdpo/model/tokenizer"
)

// A choice file goes through the benchmark path: its one item marked
// fewshot is the pool, put in front of the three others with its gold
// choice and a blank line, each choice following the context as written
// (requests by hand below). A tiny model taught, by SFT, the animal sounds
// answers every question, with and without length normalisation: acc =
// acc_norm = 1 for each of the three.
func TestChoiceFileAfterTeaching(t *testing.T) {
	b, err := loadBenchmark(context.Background(), BenchmarkSpec{Name: "animals", Path: "testdata/mc/animals.jsonl", Shots: 1, ChoiceFile: true}, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Docs) != 3 || len(b.Pool) != 1 {
		t.Fatalf("%d documents and %d few-shot items, want 3 and 1", len(b.Docs), len(b.Pool))
	}
	want := []benchmarks.Request{{Context: "The cow says moo\n\nThe cat says", Continuation: " woof"}, {Context: "The cow says moo\n\nThe cat says", Continuation: " meow"}}
	if got := b.Task.Requests(b.Docs[0], []benchmarks.Doc{b.Pool[b.Shots[0][0]]}); !reflect.DeepEqual(got, want) {
		t.Fatalf("requests %q, want %q", got, want)
	}
	backend, _ := model.Backend()
	cfg := model.Tiny(257)
	cfg.Context = 64
	m, _ := model.New(cfg, 1, backend)
	var pairs []model.Pair
	for _, d := range b.Docs {
		pairs = append(pairs, model.Pair{Prompt: tokenizer.Bytes("The cow says moo\n\n" + d.Text), Response: tokenizer.Bytes(d.Choices[d.Gold])})
	}
	if err := m.SFT(pairs, model.SFTConfig{Optim: optim.Config{Name: "adam", LR: 3e-3}, BatchSize: 3, Steps: 150, Seed: 1}, nil); err != nil {
		t.Fatal(err)
	}
	s := benchScorer{m: m, encode: tokenizer.Byte{}.Encode}
	res, err := s.score(b, 0, len(b.Docs))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if !reflect.DeepEqual(r.Values, []float64{1, 1}) {
			t.Errorf("after teaching, item %d: acc, acc_norm %v", r.Doc, r.Values)
		}
	}
}

// A choice file asking for more few-shot examples than it marks, or with
// no item to evaluate, is refused by name.
func TestChoiceFileFewshotCount(t *testing.T) {
	_, err := loadBenchmark(context.Background(), BenchmarkSpec{Name: "animals", Path: "testdata/mc/animals.jsonl", Shots: 2, ChoiceFile: true}, 0, 0)
	if err == nil || !strings.Contains(err.Error(), "benchmark animals") || !strings.Contains(err.Error(), "2-shot needs 2 items marked fewshot, the file has 1") {
		t.Errorf("got %v", err)
	}
}
