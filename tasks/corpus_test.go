package tasks

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// The SFT corpus teaches that p⊕x leads to better responses: exact answers
// with --aug-corruptions 0 (the first design), at most one corruption with
// 1 (the default), against 0 to 3 on x.
func TestSFTCorpusTeachesThatPHelps(t *testing.T) {
	for _, tc := range []struct {
		aug              int
		exactLo, exactHi float64 // share of p⊕x responses that are the exact answer
	}{{0, 1, 1}, {1, 0.4, 0.65}} {
		cfg := GenConfig{AugPrompt: "Answer perfectly.", AugSeparator: " ", AugCorruptions: tc.aug}
		corpus := func() []SFTExample { return sftExamples(cfg, Words(1, 400), rand.New(rand.NewPCG(1, 2))) }
		a := corpus()
		if !reflect.DeepEqual(a, corpus()) {
			t.Fatal("not seeded")
		}
		var plain, aug, exact float64
		for i, e := range a {
			r, err := Reward(e.Prompt, e.Response)
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 0 {
				plain += r
				continue
			}
			if !strings.HasPrefix(e.Prompt, "Answer perfectly. ") || e.Prompt[len("Answer perfectly. "):] != a[i-1].Prompt {
				t.Fatalf("example %d: prompt %q does not follow x %q", i, e.Prompt, a[i-1].Prompt)
			}
			aug += r
			w, _ := WordOf(e.Prompt)
			if e.Response == Target(w) {
				exact++
			} else if d := len(e.Response) - len(Target(w)); d < -1 || d > 1 {
				t.Errorf("p⊕x response %q to %q: more than one corruption", e.Response, w)
			}
		}
		plain, aug, exact = plain/400, aug/400, exact/400
		if plain > 0.8 || plain < 0.3 || aug < plain+0.15 || exact < tc.exactLo || exact > tc.exactHi {
			t.Errorf("--aug-corruptions %d: mean r* on x %.3f, on p⊕x %.3f, %.0f%% exact on p⊕x: want p⊕x better, x of mixed quality",
				tc.aug, plain, aug, 100*exact)
		}
	}
}

func TestLabelAndWrite(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := Prompt("abcd")
	p, err := Label("p1", x, " dcba\n", " abcd\n", 0.01, rng) // a large gap at a low temperature: never flipped
	if err != nil || p.Chosen != " dcba\n" || p.ScoreChosen != 1 || p.ScoreRejected != 0 {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := Label("p2", x, " dcba\n", " dcba\n", 1, rng); err == nil {
		t.Error("identical responses labelled")
	}
	var buf bytes.Buffer
	if err := WriteTRL(&buf, []LabeledPair{p}); err != nil {
		t.Fatal(err)
	}
	want := `{"chosen":" dcba\n","id":"p1","prompt":"Reverse: abcd\nA:","rejected":" abcd\n","score_chosen":1,"score_rejected":0}` + "\n"
	if buf.String() != want {
		t.Errorf("got  %s\nwant %s", buf.String(), want)
	}
}
