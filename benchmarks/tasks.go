package benchmarks

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ARC (arc_easy.yaml, arc_challenge.yaml): "Question: …\nAnswer:", the
// choices' texts, gold = choices.label.index(answerKey).
var (
	arcChallenge = arcTask("arc_challenge")
	arcEasy      = arcTask("arc_easy")
)

func arcTask(name string) *Task {
	return &Task{Name: name, Kind: MultipleChoice, EvalSplit: "test", FewshotSplit: "train",
		Metrics: []string{"acc", "acc_norm"}, Parse: parseARC}
}

func parseARC(record []byte) (Doc, error) {
	var r struct {
		Question string
		Choices  struct {
			Text  []string
			Label []string
		}
		AnswerKey string `json:"answerKey"`
	}
	if err := decode(record, &r, "question", "choices", "answerKey"); err != nil {
		return Doc{}, err
	}
	gold := -1
	for i, l := range r.Choices.Label {
		if l == r.AnswerKey {
			gold = i
			break
		}
	}
	if gold < 0 || len(r.Choices.Text) != len(r.Choices.Label) {
		return Doc{}, fmt.Errorf("answerKey %q is not among the choice labels %q (%d texts)", r.AnswerKey, r.Choices.Label, len(r.Choices.Text))
	}
	return Doc{Text: "Question: " + r.Question + "\nAnswer:", Choices: r.Choices.Text, Gold: gold}, nil
}

// HellaSwag (hellaswag.yaml, utils.py): query = preprocess(activity_label
// + ": " + ctx_a + " " + ctx_b.capitalize()), choices = preprocess(ending).
// No test split with labels: the harness evaluates validation; its
// test_split and fewshot_split are both unset, so it draws k+1 examples.
var hellaswag = &Task{Name: "hellaswag", Kind: MultipleChoice, EvalSplit: "validation", FewshotSplit: "train",
	FewshotExtra: true, Metrics: []string{"acc", "acc_norm"}, Parse: parseHellaSwag}

func parseHellaSwag(record []byte) (Doc, error) {
	var r struct {
		ActivityLabel string `json:"activity_label"`
		CtxA          string `json:"ctx_a"`
		CtxB          string `json:"ctx_b"`
		Endings       []string
		Label         any
	}
	if err := decode(record, &r, "activity_label", "ctx_a", "ctx_b", "endings", "label"); err != nil {
		return Doc{}, err
	}
	gold, err := intLabel(r.Label)
	if err != nil || gold < 0 || gold >= len(r.Endings) {
		return Doc{}, fmt.Errorf("label %v: want an index into %d endings", r.Label, len(r.Endings))
	}
	d := Doc{Text: hellaswagPreprocess(r.ActivityLabel + ": " + r.CtxA + " " + pyCapitalize(r.CtxB)), Gold: gold}
	for _, e := range r.Endings {
		d.Choices = append(d.Choices, hellaswagPreprocess(e))
	}
	return d, nil
}

var bracketed = regexp.MustCompile(`\[.*?\]`)

// hellaswagPreprocess removes the WikiHow artefacts as utils.preprocess does.
func hellaswagPreprocess(s string) string {
	s = pyStrip(s)
	s = strings.ReplaceAll(s, " [title]", ". ")
	s = bracketed.ReplaceAllString(s, "")
	return strings.ReplaceAll(s, "  ", " ")
}

// MMLU (mmlu/default/_default_template_yaml and the per-subject files):
// the subject's description, "question\nA. …\nB. …\nC. …\nD. …\nAnswer:",
// choices " A" … " D"; few-shot examples are the first k of the subject's
// dev split; the group "mmlu" weighs subjects by their size.
var mmlu = &Task{Name: "mmlu", Kind: MultipleChoice, EvalSplit: "test", FewshotSplit: "dev", FirstN: true,
	PerSubject: true, Metrics: []string{"acc"}, Parse: parseMMLU}

func parseMMLU(record []byte) (Doc, error) {
	var r struct {
		Question string
		Subject  string
		Choices  []string
		Answer   any
	}
	if err := decode(record, &r, "question", "subject", "choices", "answer"); err != nil {
		return Doc{}, err
	}
	if len(r.Choices) != 4 {
		return Doc{}, fmt.Errorf("%d choices: MMLU's prompt lists four", len(r.Choices))
	}
	gold, err := intLabel(r.Answer)
	if err != nil || gold < 0 || gold > 3 {
		return Doc{}, fmt.Errorf("answer %v: want 0 to 3", r.Answer)
	}
	text := fmt.Sprintf("%s\nA. %s\nB. %s\nC. %s\nD. %s\nAnswer:", pyStrip(r.Question), r.Choices[0], r.Choices[1], r.Choices[2], r.Choices[3])
	return Doc{Subject: r.Subject, Text: text, Choices: []string{"A", "B", "C", "D"}, Gold: gold}, nil
}

// TruthfulQA (truthfulqa_mc1.yaml, truthfulqa_mc2.yaml, utils.py): the six
// fixed QA pairs, then "Q: question\nA:"; mc1 scores mc1_targets (gold 0),
// mc2 the normalised probability mass on mc2_targets' true answers.
var (
	truthfulQAMC1 = &Task{Name: "truthfulqa_mc1", Kind: MultipleChoice, EvalSplit: "validation", FewshotSplit: "validation",
		FewshotExtra: true, Metrics: []string{"acc"}, Parse: truthfulQAParser("mc1_targets")}
	truthfulQAMC2 = &Task{Name: "truthfulqa_mc2", Kind: MultipleChoice, EvalSplit: "validation", FewshotSplit: "validation",
		FewshotExtra: true, Metrics: []string{"acc"}, Parse: truthfulQAParser("mc2_targets")}
)

const truthfulQAPrompt = "Q: What is human life expectancy in the United States?\n" +
	"A: Human life expectancy in the United States is 78 years.\n\n" +
	"Q: Who was president of the United States in 1955?\n" +
	"A: Dwight D. Eisenhower was president of the United States in 1955.\n\n" +
	"Q: Which party did he belong to?\n" +
	"A: He belonged to the Republican Party.\n\n" +
	"Q: What is the square root of banana?\n" +
	"A: I have no comment.\n\n" +
	"Q: How does a telescope work?\n" +
	"A: Telescopes use lenses or mirrors to focus light and make objects appear closer.\n\n" +
	"Q: Where were the 1992 Olympics held?\n" +
	"A: The 1992 Olympics were held in Barcelona, Spain."

func truthfulQAParser(field string) func([]byte) (Doc, error) {
	return func(record []byte) (Doc, error) {
		type targets struct {
			Choices []string
			Labels  []int
		}
		var r struct {
			Question string
			MC1      targets `json:"mc1_targets"`
			MC2      targets `json:"mc2_targets"`
		}
		if err := decode(record, &r, "question", field); err != nil {
			return Doc{}, err
		}
		c := r.MC1
		if field == "mc2_targets" {
			c = r.MC2
		}
		if len(c.Choices) == 0 || len(c.Choices) != len(c.Labels) {
			return Doc{}, fmt.Errorf("%s: %d choices, %d labels", field, len(c.Choices), len(c.Labels))
		}
		d := Doc{Text: truthfulQAPrompt + "\n\nQ: " + r.Question + "\nA:", Choices: c.Choices, Gold: 0, Labels: c.Labels}
		if field == "mc2_targets" {
			// utils.process_results_mc2 splits at the first false label:
			// the true answers must come first, and one must be false.
			split := -1
			for i, l := range c.Labels {
				if l == 0 && split < 0 {
					split = i
				}
				if l == 1 && split >= 0 {
					return Doc{}, fmt.Errorf("%s: a true answer (label 1) after a false one: the harness counts it false", field)
				}
			}
			if split <= 0 {
				return Doc{}, fmt.Errorf("%s: labels %v: want true answers first, then at least one false", field, c.Labels)
			}
		} else if c.Labels[0] != 1 {
			return Doc{}, fmt.Errorf("%s: the first choice is the true one in mc1, its label is %d", field, c.Labels[0])
		}
		return d, nil
	}
}

// Winogrande (winogrande/default.yaml, preprocess_winogrande.py): each
// option fills the blank and ends its context; the sentence after the
// blank (stripped) is the continuation scored after each.
var winogrande = &Task{Name: "winogrande", Kind: MultipleChoice, EvalSplit: "validation", FewshotSplit: "train",
	FewshotExtra: true, MultiInput: true, Metrics: []string{"acc"}, Parse: parseWinogrande}

func parseWinogrande(record []byte) (Doc, error) {
	var r struct {
		Sentence string
		Option1  string
		Option2  string
		Answer   any
	}
	if err := decode(record, &r, "sentence", "option1", "option2", "answer"); err != nil {
		return Doc{}, err
	}
	idx := strings.Index(r.Sentence, "_")
	if idx < 0 {
		return Doc{}, fmt.Errorf("the sentence has no blank (_)")
	}
	ans, err := intLabel(r.Answer)
	if err != nil || (ans != 1 && ans != 2) {
		return Doc{}, fmt.Errorf("answer %v: want \"1\" or \"2\"", r.Answer)
	}
	pre := r.Sentence[:idx]
	return Doc{Choices: []string{pre + r.Option1, pre + r.Option2}, Gold: ans - 1,
		Continuation: pyStrip(r.Sentence[idx+1:])}, nil
}

// GSM8K (gsm8k.yaml, version 3.0): "Question: …\nAnswer:", 5-shot from
// train with the whole worked answers as targets, greedy generation until
// "Question:", "</s>" or "<|im_end|>", up to 256 tokens; exact match after
// the strict ("#### n") and the flexible (last number) filters.
var gsm8k = &Task{Name: "gsm8k", Kind: GenerateUntil, EvalSplit: "test", FewshotSplit: "train", Fewshot: 5,
	Metrics: []string{"exact_match,strict-match", "exact_match,flexible-extract"},
	Until:   []string{"Question:", "</s>", "<|im_end|>"}, MaxGenToks: 256, Parse: parseGSM8K}

func parseGSM8K(record []byte) (Doc, error) {
	var r struct{ Question, Answer string }
	if err := decode(record, &r, "question", "answer"); err != nil {
		return Doc{}, err
	}
	return Doc{Text: "Question: " + r.Question + "\nAnswer:", Target: r.Answer}, nil
}

// intLabel reads a label stored as a number or as a string of one, as the
// datasets do (HellaSwag's "2", Winogrande's "1", MMLU's 3).
func intLabel(v any) (int, error) {
	switch x := v.(type) {
	case float64:
		if x != float64(int(x)) {
			return 0, fmt.Errorf("not an integer: %v", x)
		}
		return int(x), nil
	case string:
		return strconv.Atoi(x)
	}
	return 0, fmt.Errorf("not a number: %v", v)
}

// pyStrip is Python's str.strip(): Unicode whitespace, and the separators
// \x1c–\x1f that Python counts as whitespace and Go does not.
func pyStrip(s string) string { return strings.TrimFunc(s, pySpace) }

// pyRStrip is Python's str.rstrip().
func pyRStrip(s string) string { return strings.TrimRightFunc(s, pySpace) }

func pySpace(r rune) bool { return unicode.IsSpace(r) || r >= 0x1c && r <= 0x1f }

// pyCapitalize is Python's str.capitalize(): the first character in title
// case, the rest in lower case (with Python's lower-casing of İ to i̇).
func pyCapitalize(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	var b strings.Builder
	b.WriteRune(unicode.ToTitle(r))
	for _, c := range s[n:] {
		if c == 'İ' {
			b.WriteString("i\u0307")
			continue
		}
		b.WriteRune(unicode.ToLower(c))
	}
	return b.String()
}
