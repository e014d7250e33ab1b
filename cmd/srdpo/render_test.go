package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// trlRow is a row of stages/testdata/trl/expected*.jsonl (TRL's ids from
// Hugging Face's tokenizers).
type trlRow struct {
	Tokenizer, Record string
	MaxLength         *int    `json:"max_length"`
	TruncationMode    string  `json:"truncation_mode"`
	PromptIDs         []int32 `json:"prompt_ids"`
	ChosenInputIDs    []int32 `json:"chosen_input_ids"`
}

func trlRows(t *testing.T, file string) map[string]trlRow {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]trlRow{}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r trlRow
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if r.Tokenizer == "qwen3" && r.MaxLength == nil && r.TruncationMode == "keep_start" {
			out[r.Record] = r
		}
	}
	return out
}

func recordLine(t *testing.T, id string) string {
	t.Helper()
	f, err := os.Open("../../stages/testdata/trl/records.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"id": "`+id+`"`) {
			return sc.Text()
		}
	}
	t.Fatalf("no record %s", id)
	return ""
}

// srdpo render shows, for each line, what scoring would use: a bare render
// with the tokenizer directory's own template (Qwen3's, as transformers
// renders it), or a record's text and ids under TRL's rule (TRL's ids from
// HF's tokenizers), p⊕x included; a bad line gets an error line and the
// rest go on.
func TestRender(t *testing.T) {
	in := strings.Join([]string{
		`{"messages": [{"role": "user", "content": "Hello!"}], "add_generation_prompt": true}`,
		`{"messages": [{"role": "user", "content": "Hello!"}], "add_generation_prompt": true, "chat_template_kwargs": {"enable_thinking": false}}`,
		`not json`,
		recordLine(t, "chat_multiturn"),
		recordLine(t, "std_space_boundary"),
		`{"prompt": "q", "chosen": "same", "rejected": "same"}`,
	}, "\n")
	var out, errOut bytes.Buffer
	err := render([]string{"--tokenizer", tokenizerDir(t, "qwen3"), "--tokenization", "trl", "--aug-prompt", "Please answer well.", "--max-length", "1024"},
		strings.NewReader(in), &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "the model's own") {
		t.Errorf("the log does not say which template: %s", errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 6 {
		t.Fatalf("%d output lines for 6 input lines:\n%s", len(lines), out.String())
	}
	var bare [2]struct{ Text string }
	for i := range bare {
		if err := json.Unmarshal([]byte(lines[i]), &bare[i]); err != nil {
			t.Fatal(err)
		}
	}
	if want := "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n"; bare[0].Text != want || bare[1].Text != want+"<think>\n\n</think>\n\n" {
		t.Errorf("bare renders %q, %q", bare[0].Text, bare[1].Text)
	}
	for _, i := range []int{2, 5} {
		var e struct{ Error string }
		if json.Unmarshal([]byte(lines[i]), &e); e.Error == "" {
			t.Errorf("line %d: want an error, got %s", i+1, lines[i])
		}
	}
	x := trlRows(t, "../../stages/testdata/trl/expected.jsonl")
	aug := trlRows(t, "../../stages/testdata/trl/expected_aug.jsonl")
	for i, id := range map[int]string{3: "chat_multiturn", 4: "std_space_boundary"} {
		var got struct {
			Prompt, Chosen string
			PromptIDs      []int32 `json:"prompt_ids"`
			ChosenIDs      []int32 `json:"chosen_ids"`
			AugPromptIDs   []int32 `json:"aug_prompt_ids"`
		}
		if err := json.Unmarshal([]byte(lines[i]), &got); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.PromptIDs, x[id].PromptIDs) || !slices.Equal(slices.Concat(got.PromptIDs, got.ChosenIDs), x[id].ChosenInputIDs) {
			t.Errorf("%s: ids %v + %v, want %v then %v", id, got.PromptIDs, got.ChosenIDs, x[id].PromptIDs, x[id].ChosenInputIDs)
		}
		if want, ok := aug[id+"_aug"]; ok && !slices.Equal(got.AugPromptIDs, want.PromptIDs) {
			t.Errorf("%s: p⊕x ids %v, want %v", id, got.AugPromptIDs, want.PromptIDs)
		}
	}
}
