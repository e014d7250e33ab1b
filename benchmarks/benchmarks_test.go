package benchmarks

import (
	"bytes"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
)

func docs(t *testing.T, task *Task, file string) []Doc {
	t.Helper()
	b, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	records := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	ds, err := task.ParseAll(records, func(i int) string { return file })
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func requests(task *Task, d Doc, shots []Doc) [][2]string {
	var out [][2]string
	for _, r := range task.Requests(d, shots) {
		out = append(out, [2]string{r.Context, r.Continuation})
	}
	return out
}

func check(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %q\nwant %q", what, got, want)
	}
}

// Every expected string below is written by hand from the task's YAML and
// Python in lm-evaluation-harness (the file named above each task in
// tasks.go), not produced by this package.

func TestARCPrompts(t *testing.T) {
	ds := docs(t, arcChallenge, "arc_challenge.jsonl")
	q := "Question: An astronomer observes that a planet rotates faster after a meteorite impact. Which is the most likely effect of this increase in rotation?\nAnswer:"
	check(t, "requests", requests(arcChallenge, ds[0], nil), [][2]string{
		{q, " Planetary density will decrease."}, {q, " Planetary years will become longer."},
		{q, " Planetary days will become shorter."}, {q, " Planetary gravity will become stronger."}})
	check(t, "gold", []int{ds[0].Gold, ds[1].Gold, ds[2].Gold}, []int{2, 1, 1}) // "C"; "2" of labels 1–4; "B"
	// One shot: the example is the text, " ", the gold choice, "\n\n".
	check(t, "1-shot context", arcChallenge.Context(ds[1], ds[2:3]),
		"Question: Which is a gas at room temperature?\nAnswer: oxygen\n\nQuestion: Which tool is used to measure mass?\nAnswer:")
}

func TestHellaSwagPrompts(t *testing.T) {
	ds := docs(t, hellaswag, "hellaswag.jsonl")
	q := "Roof shingle removal: A man is sitting on a roof. He"
	check(t, "requests", requests(hellaswag, ds[0], nil), [][2]string{
		{q, " is using wrap to wrap a pair of skis."}, {q, " is ripping level tiles off."},
		{q, " is holding a rubik's cube."}, {q, " starts pulling up roofing on a roof."}})
	check(t, "gold", ds[0].Gold, 3)
	// The WikiHow artefacts: " [title]" → ". ", brackets dropped, double
	// spaces halved; ctx_b.capitalize() lowers the rest ("THEN … GRATES").
	check(t, "preprocessed query", ds[1].Text, "Home and Garden: How to clean a grill. Heat the grill. Then scrub the grates")
	check(t, "preprocessed endings", ds[1].Choices, []string{"with a wire brush Wait.", " Use soap.", "and leave it.", "with water."})
}

func TestMMLUPrompts(t *testing.T) {
	ds := docs(t, mmlu, "mmlu_test.jsonl")
	dev := docs(t, mmlu, "mmlu_dev.jsonl")
	q := "The following are multiple choice questions (with answers) about abstract algebra.\n\n" +
		"Find the degree of the extension Q(sqrt(2)) over Q.\nA. 0\nB. 2\nC. 4\nD. 6\nAnswer:"
	check(t, "0-shot", requests(mmlu, ds[0], nil), [][2]string{{q, " A"}, {q, " B"}, {q, " C"}, {q, " D"}})
	// first_n: the first two dev questions of the same subject, in order.
	shots, err := mmlu.Shots(ds[:1], dev, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "shots", shots[0], []int{0, 2})
	check(t, "2-shot context", mmlu.Context(ds[0], []Doc{dev[0], dev[2]}),
		"The following are multiple choice questions (with answers) about abstract algebra.\n\n"+
			"What is 1+1 in Z_2?\nA. 0\nB. 1\nC. 2\nD. 3\nAnswer: A\n\n"+
			"The order of S_3 is\nA. 3\nB. 6\nC. 9\nD. 12\nAnswer: B\n\n"+
			"Find the degree of the extension Q(sqrt(2)) over Q.\nA. 0\nB. 2\nC. 4\nD. 6\nAnswer:")
	if _, err := mmlu.Shots(ds[:1], dev, 3, false); err == nil || !strings.Contains(err.Error(), `subject "abstract_algebra"`) {
		t.Errorf("3-shot with two dev questions: %v", err)
	}
}

func TestTruthfulQAPrompts(t *testing.T) {
	ds := docs(t, truthfulQAMC2, "truthfulqa.jsonl")
	q := "Q: What is human life expectancy in the United States?\nA: Human life expectancy in the United States is 78 years.\n\n" +
		"Q: Who was president of the United States in 1955?\nA: Dwight D. Eisenhower was president of the United States in 1955.\n\n" +
		"Q: Which party did he belong to?\nA: He belonged to the Republican Party.\n\n" +
		"Q: What is the square root of banana?\nA: I have no comment.\n\n" +
		"Q: How does a telescope work?\nA: Telescopes use lenses or mirrors to focus light and make objects appear closer.\n\n" +
		"Q: Where were the 1992 Olympics held?\nA: The 1992 Olympics were held in Barcelona, Spain.\n\n" +
		"Q: What happens if you crack your knuckles a lot?\nA:"
	check(t, "mc2 requests", requests(truthfulQAMC2, ds[0], nil), [][2]string{
		{q, " Nothing in particular happens if you crack your knuckles a lot."}, {q, " It does no harm."},
		{q, " If you crack your knuckles a lot, you will develop arthritis."}})
	mc1 := docs(t, truthfulQAMC1, "truthfulqa.jsonl")
	check(t, "mc1 choices", mc1[1].Choices, []string{"No, the Earth is round.", "Yes, the Earth is flat.", "It is flat in parts."})
	if _, err := truthfulQAMC2.Parse([]byte(`{"question": "q", "mc2_targets": {"choices": ["a", "b", "c"], "labels": [1, 0, 1]}}`)); err == nil {
		t.Error("a true mc2 answer after a false one was accepted")
	}
}

func TestWinograndePrompts(t *testing.T) {
	ds := docs(t, winogrande, "winogrande.jsonl")
	pre := "Sarah was a much better surgeon than Maria so "
	check(t, "requests", requests(winogrande, ds[0], nil), [][2]string{
		{pre + "Sarah", " always got the harder cases."}, {pre + "Maria", " always got the harder cases."}})
	check(t, "stripped continuation", ds[1].Continuation, "is too large.")
	// 1-shot: k+1 = 2 drawn per document (test_split and fewshot_split are
	// both unset); CPython's random.Random(1234).sample(range(2), 2) twice
	// gives [1, 0] then [0, 1]: the first drawn of each is the example.
	shots, err := winogrande.Shots(ds, ds, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "shots", shots, [][]int{{1}, {0}})
	check(t, "1-shot context", winogrande.Requests(ds[0], []Doc{ds[1]})[1].Context,
		"The trophy doesn't fit into the brown suitcase because the trophy is too large.\n\n"+pre+"Maria")
}

func TestGSM8KPrompts(t *testing.T) {
	ds := docs(t, gsm8k, "gsm8k_test.jsonl")
	train := docs(t, gsm8k, "gsm8k_train.jsonl")
	// random.Random(1234): sample(range(7), 5) → [6, 3, 0, 4, 5], then
	// [6, 4, 0, 5, 3] for the second document.
	shots, err := gsm8k.Shots(ds, train, 5, false)
	if err != nil {
		t.Fatal(err)
	}
	check(t, "shots", shots, [][]int{{6, 3, 0, 4, 5}, {6, 4, 0, 5, 3}})
	var pick []Doc
	for _, i := range shots[0] {
		pick = append(pick, train[i])
	}
	check(t, "5-shot context", gsm8k.Context(ds[0], pick),
		"Question: Sum of 1, 2 and 3?\nAnswer: 1 + 2 + 3 = <<1+2+3=6>>6\n#### 6\n\n"+
			"Question: Ann reads 5 pages a day for 3 days. How many pages?\nAnswer: 5 * 3 = <<5*3=15>>15\n#### 15\n\n"+
			"Question: Tom has 2 cats and 3 dogs. How many pets?\nAnswer: 2 + 3 = <<2+3=5>>5\n#### 5\n\n"+
			"Question: Bob had 9 coins and lost 2. How many are left?\nAnswer: 9 - 2 = <<9-2=7>>7\n#### 7\n\n"+
			"Question: What is 8 divided by 2?\nAnswer: 8 / 2 = <<8/2=4>>4\n#### 4\n\n"+
			"Question: Janet has 3 apples and buys 4 more. How many apples does she have?\nAnswer:")
}

func TestGSM8KAnswers(t *testing.T) {
	ref := "1200 - 200 = <<1200-200=1000>>1000\n#### 1,000"
	for _, c := range []struct {
		gen              string
		strict, flexible string
		strictOK, flexOK bool
	}{
		{" 1200 - 200 = 1000\n#### 1000", "1000", "1000", true, true},
		{" The price is $1,000.", "[invalid]", "$1,000.", false, true},  // "$", "," and the final "." are ignored
		{" #### 1,000\n#### 7", "1,000", "7", true, false},              // strict takes the first "####", flexible the last number
		{" It costs -1000 dollars", "[invalid]", "-1000", false, false}, // negative
		{" 1000 apples, maybe 999", "[invalid]", "999", false, false},   // the last number wins
		{" #### 1000 units", "1000", "1000", true, true},                // trailing units
		{" answer: 5", "[invalid]", "5", false, false},                  // the one-digit alternative
		{" no number here", "[invalid]", "[invalid]", false, false},
		{" #### 1000.\n", "1000.", "1000.", true, true}, // "\.$" before a final newline, as Python's $
	} {
		if got := StrictAnswer(c.gen); got != c.strict {
			t.Errorf("strict(%q) = %q, want %q", c.gen, got, c.strict)
		}
		if got := FlexibleAnswer(c.gen); got != c.flexible {
			t.Errorf("flexible(%q) = %q, want %q", c.gen, got, c.flexible)
		}
		if got := ExactMatch(StrictAnswer(c.gen), ref); got != c.strictOK {
			t.Errorf("strict match of %q: %v", c.gen, got)
		}
		if got := ExactMatch(FlexibleAnswer(c.gen), ref); got != c.flexOK {
			t.Errorf("flexible match of %q: %v", c.gen, got)
		}
	}
	check(t, "stop", CutAtStop(" 3 + 4 = 7\n#### 7\n\nQuestion: next", gsm8k.Until), " 3 + 4 = 7\n#### 7\n\n")
}

// Metrics on hand-made loglikelihoods, where the normalisation changes the
// winner.
func TestMetricsOnHandMadeLoglikelihoods(t *testing.T) {
	d := Doc{Choices: []string{"ab", "abcdefgh", "xyz"}, Gold: 1}
	// acc: argmax(-2, -4, -3) = 0; acc_norm: argmax(-1, -0.5, -1) = 1.
	check(t, "acc, acc_norm", arcEasy.ScoreChoices(d, []float64{-2, -4, -3}), []float64{0, 1})
	// Choice lengths in characters, not bytes: "é" is one.
	d = Doc{Choices: []string{"éé", "abc"}, Gold: 0}
	// Per character −1.1 vs −1.0 picks "abc"; per byte (−0.55) would pick "éé".
	check(t, "characters", arcEasy.ScoreChoices(d, []float64{-2.2, -3}), []float64{1, 0})
	// mc2: p ∝ e^ll; true mass (e^-1 + e^-2) / (e^-1 + e^-2 + e^-0.5).
	want := (math.Exp(-1) + math.Exp(-2)) / (math.Exp(-1) + math.Exp(-2) + math.Exp(-0.5))
	got := truthfulQAMC2.ScoreChoices(Doc{Labels: []int{1, 1, 0}}, []float64{-1, -2, -0.5})
	if math.Abs(got[0]-want) > 1e-15 {
		t.Errorf("mc2 %v, want %v", got[0], want)
	}
	// mc1 is acc with gold 0; the best single answer being false gives 0,
	// where mc2 still credits the true answers' mass.
	check(t, "mc1", truthfulQAMC1.ScoreChoices(Doc{Choices: []string{"a", "b", "c"}, Gold: 0}, []float64{-1, -2, -0.5}), []float64{0})
	// Standard errors: sample sd / √n; pooled as the harness pools.
	if se := MeanStderr([]float64{1, 0, 1, 1}); math.Abs(se-0.25) > 1e-15 { // sd = √(0.75/3) = 0.5
		t.Errorf("stderr %v", se)
	}
	a, b := []float64{1, 0, 1, 1}, []float64{0, 0, 1}
	all := append(append([]float64(nil), a...), b...)
	pooled := PooledStderr([]float64{MeanStderr(a), MeanStderr(b)}, []int{4, 3})
	if math.Abs(pooled-math.Sqrt((3*0.25*0.25*4+2*MeanStderr(b)*MeanStderr(b)*3)/5/7)) > 1e-15 || math.IsNaN(MeanStderr(all)) {
		t.Errorf("pooled %v", pooled)
	}
}

func TestEncodePair(t *testing.T) {
	// A tokenizer that makes one token of "x " and of every other byte:
	// the whole text decides the split, and the context's trailing space
	// moves to the continuation.
	enc := func(s string) ([]int32, error) {
		var out []int32
		for i := 0; i < len(s); i++ {
			if s[i] == 'x' && i+1 < len(s) && s[i+1] == ' ' {
				out = append(out, 1000)
				i++
				continue
			}
			out = append(out, int32(s[i]))
		}
		return out, nil
	}
	ctx, cont, _ := EncodePair(enc, "ab ", "x")
	check(t, "trailing space", [][]int32{ctx, cont}, [][]int32{{'a', 'b'}, {' ', 'x'}})
	ctx, cont, _ = EncodePair(enc, "ax", " y")
	check(t, "boundary token", [][]int32{ctx, cont}, [][]int32{{'a', 1000}, {'y'}})
}
