package tasks

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestSFTCorpusTeachesThatPHelps(t *testing.T) {
	cfg := GenConfig{AugPrompt: "Answer perfectly.", AugSeparator: " "}
	corpus := func() []SFTExample { return sftExamples(cfg, Words(1, 200), rand.New(rand.NewPCG(1, 2))) }
	a := corpus()
	if !reflect.DeepEqual(a, corpus()) {
		t.Fatal("not seeded")
	}
	var plain, aug float64
	for _, e := range a {
		r, err := Reward(e.Prompt, e.Response)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(e.Prompt, "Answer perfectly. ") {
			aug += r
		} else {
			plain += r
		}
	}
	if aug != 200 || plain/200 > 0.8 || plain/200 < 0.3 {
		t.Errorf("mean r* on x %.3f, on p⊕x %.3f: want p⊕x perfect and x of mixed quality", plain/200, aug/200)
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
