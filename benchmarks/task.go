package benchmarks

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Kind is lm-eval's output_type.
type Kind int

const (
	// MultipleChoice scores each choice's loglikelihood after the context.
	MultipleChoice Kind = iota
	// GenerateUntil generates greedily until a stop string.
	GenerateUntil
)

// Doc is one benchmark item as the task's doc_to_* functions see it.
type Doc struct {
	Subject string   // MMLU's subject ("abstract_algebra"); "" elsewhere
	Text    string   // doc_to_text: the question as the model reads it
	Choices []string // doc_to_choice; for a multiple-input task, the context endings
	Gold    int      // doc_to_target, an index into Choices
	// Continuation is a multiple-input task's target (Winogrande: the
	// sentence after the blank), scored after each choice.
	Continuation string
	Labels       []int  // TruthfulQA mc2: 1 for each true answer (they come first)
	Target       string // a generation task's reference answer (GSM8K)
	// Fewshot marks an item of a choice file (ChoiceFile) that is a
	// few-shot example rather than a document to evaluate.
	Fewshot bool
}

// Task is one benchmark as lm-eval-harness defines it.
type Task struct {
	Name         string
	Kind         Kind
	EvalSplit    string // the split the harness evaluates (test_split, else validation_split)
	FewshotSplit string // where few-shot examples come from
	// FewshotExtra is the harness's quirk of drawing one example more when
	// fewshot_split equals test_split — true also when both are unset.
	FewshotExtra bool
	FirstN       bool // MMLU's first_n sampler: the first k of the subject's dev split
	Fewshot      int  // num_fewshot when the user gives none
	MultiInput   bool // the choices end the context; one continuation (Winogrande)
	Metrics      []string
	Until        []string // stop strings of a generation task
	MaxGenToks   int
	// Parse reads one record of the dataset's own schema.
	Parse func(record []byte) (Doc, error)
	// PerSubject: the task is a group of subtasks by Doc.Subject (MMLU).
	PerSubject bool
	// BareTargets: the target follows the context as written, with no " "
	// between (ChoiceFile's tasks, whose choices carry their own spaces).
	BareTargets bool
}

// FewshotSeed is the harness's default fewshot_random_seed.
const FewshotSeed = 1234

const (
	targetDelimiter  = " "
	fewshotDelimiter = "\n\n"
)

// Lookup finds a task by its harness name.
func Lookup(name string) (*Task, error) {
	for _, t := range All() {
		if t.Name == name {
			return t, nil
		}
	}
	var names []string
	for _, t := range All() {
		names = append(names, t.Name)
	}
	return nil, fmt.Errorf("unknown benchmark %q: want one of %s", name, strings.Join(names, ", "))
}

// All are the tasks srdpo knows, in the paper's Table-3 order.
func All() []*Task {
	return []*Task{arcChallenge, arcEasy, hellaswag, mmlu, truthfulQAMC1, truthfulQAMC2, winogrande, gsm8k}
}

// description is the text before the few-shot examples (MMLU's subject
// line; "" elsewhere).
func (t *Task) description(d Doc) string {
	if t.PerSubject {
		return "The following are multiple choice questions (with answers) about " + strings.ReplaceAll(d.Subject, "_", " ") + ".\n\n"
	}
	return ""
}

// example is one few-shot example: the text, the target delimiter, the
// gold target, the few-shot delimiter.
func (t *Task) example(d Doc) string {
	text, target := d.Text, ""
	switch {
	case t.MultiInput:
		text, target = d.Choices[d.Gold], d.Continuation
	case t.Kind == GenerateUntil:
		target = d.Target
	default:
		target = d.Choices[d.Gold]
	}
	return text + t.delimiter() + target + fewshotDelimiter
}

// delimiter is what goes between a context and its target: the harness's
// target_delimiter " ", or nothing for BareTargets.
func (t *Task) delimiter() string {
	if t.BareTargets {
		return ""
	}
	return targetDelimiter
}

// Context is the prompt in front of the document's requests: the
// description, the few-shot examples, and (but for a multiple-input task,
// whose choices go there) the document's text.
func (t *Task) Context(d Doc, shots []Doc) string {
	var b strings.Builder
	b.WriteString(t.description(d))
	for _, s := range shots {
		b.WriteString(t.example(s))
	}
	if !t.MultiInput {
		b.WriteString(d.Text)
	}
	return b.String()
}

// Request is one loglikelihood request: the continuation's log-probability
// after the context.
type Request struct {
	Context, Continuation string
}

// Requests are a multiple-choice document's loglikelihood requests, one
// per choice, in order.
func (t *Task) Requests(d Doc, shots []Doc) []Request {
	ctx := t.Context(d, shots)
	var out []Request
	for _, c := range d.Choices {
		if t.MultiInput {
			out = append(out, Request{Context: ctx + c, Continuation: t.delimiter() + d.Continuation})
		} else {
			out = append(out, Request{Context: ctx, Continuation: t.delimiter() + c})
		}
	}
	return out
}

// Shots draws every document's few-shot examples as the harness does:
// MMLU's first k of the subject's dev documents; elsewhere one
// random.Random(FewshotSeed) shared by the documents in order, drawing
// sample(pool, k) (k+1 where the harness draws an extra one, dropping the
// document itself if drawn) for each. The result holds indices into pool.
// same tells whether pool is the evaluated split itself.
func (t *Task) Shots(docs, pool []Doc, k int, same bool) ([][]int, error) {
	out := make([][]int, len(docs))
	if k == 0 {
		return out, nil
	}
	if t.FirstN {
		bySubject := map[string][]int{}
		for i, d := range pool {
			bySubject[d.Subject] = append(bySubject[d.Subject], i)
		}
		for i, d := range docs {
			idx := bySubject[d.Subject]
			if len(idx) < k {
				return nil, fmt.Errorf("%s: %d-shot needs %d few-shot documents of subject %q, there are %d", t.Name, k, k, d.Subject, len(idx))
			}
			out[i] = idx[:k]
		}
		return out, nil
	}
	n := k
	if t.FewshotExtra || same {
		n = k + 1
	}
	if len(pool) < n {
		return nil, fmt.Errorf("%s: %d-shot draws %d few-shot documents, there are %d", t.Name, k, n, len(pool))
	}
	rng := newPyRandom(FewshotSeed)
	for i := range docs {
		var picked []int
		for _, j := range rng.sample(len(pool), n) {
			if same && j == i {
				continue // the document itself
			}
			picked = append(picked, j)
		}
		out[i] = picked[:min(k, len(picked))]
	}
	return out, nil
}

// ParseAll parses records, naming the record of the first bad one.
func (t *Task) ParseAll(records [][]byte, where func(i int) string) ([]Doc, error) {
	docs := make([]Doc, 0, len(records))
	for i, r := range records {
		d, err := t.Parse(r)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", t.Name, where(i), err)
		}
		docs = append(docs, d)
	}
	return docs, nil
}

// Subjects lists the subjects of docs, sorted.
func Subjects(docs []Doc) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range docs {
		if !seen[d.Subject] {
			seen[d.Subject] = true
			out = append(out, d.Subject)
		}
	}
	sort.Strings(out)
	return out
}

// decode unmarshals a record strictly enough to name a missing field.
func decode(record []byte, v any, required ...string) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(record, &fields); err != nil {
		return fmt.Errorf("not a JSON object: %w", err)
	}
	for _, f := range required {
		if raw, ok := fields[f]; !ok || string(raw) == "null" {
			return fmt.Errorf("no field %q", f)
		}
	}
	if err := json.Unmarshal(record, v); err != nil {
		return err
	}
	return nil
}
