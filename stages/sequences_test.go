package stages

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/model/tokenizer/tokenizertest"
)

func mistralTokenizer(t *testing.T) tokenizer.Tokenizer {
	t.Helper()
	tok, err := tokenizer.Load("auto", tokenizertest.Dir(t, "mistral"))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// The documented rule: a prompt is BOS then its own encoding (BOS kept
// when cut), a response its own encoding then EOS when asked; the two are
// encoded apart, so a pair's ids are not those of the joined text.
func TestSequenceRule(t *testing.T) {
	tok := mistralTokenizer(t)
	if !reflect.DeepEqual(tok.BOS(), []int32{1}) || tok.EOS() != 2 {
		t.Fatalf("BOS %v EOS %d", tok.BOS(), tok.EOS())
	}
	rng := rand.New(rand.NewPCG(5, 6))
	words := []string{"Hello", "world", "猫", "12", "o'clock", "🐱", "\n", "  ", "the"}
	text := func() string {
		s := ""
		for n := 1 + rng.IntN(8); n > 0; n-- {
			s += " " + words[rng.IntN(len(words))]
		}
		return s
	}
	for i := 0; i < 200; i++ {
		x, y := text(), text()
		ex, _ := tok.Encode(x)
		ey, _ := tok.Encode(y)
		p, cut, err := PromptIDs(tok, x, 1000, model.KeepEnd)
		if err != nil || cut || !reflect.DeepEqual(p, append([]int32{1}, ex...)) {
			t.Fatalf("%q: prompt %v, want BOS + %v", x, p, ex)
		}
		r, _, _ := ResponseIDs(tok, y, true, 1000, model.KeepStart)
		if !reflect.DeepEqual(r, append(append([]int32{}, ey...), 2)) {
			t.Fatalf("%q: response %v, want %v + EOS", y, r, ey)
		}
		if len(ex) > 3 {
			short, cut, _ := PromptIDs(tok, x, 3, model.KeepEnd)
			if !cut || !reflect.DeepEqual(short, append([]int32{1}, ex[len(ex)-2:]...)) {
				t.Fatalf("%q cut to 3: %v", x, short)
			}
		}
	}
	// Apart vs joined: Mistral's normalizer puts ▁ before each piece.
	joined, _ := tok.Encode("Hello world")
	a, _ := tok.Encode("Hello")
	b, _ := tok.Encode(" world")
	if reflect.DeepEqual(append(a, b...), joined) {
		t.Errorf("apart %v %v = joined %v: the example no longer shows the difference", a, b, joined)
	}
}
