package chattemplate

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fixedNow is the instant testdata/hf_env.py pins strftime_now to.
var fixedNow = func() time.Time { return time.Date(2024, 7, 26, 12, 0, 0, 0, time.UTC) }

// sharedLlama3 holds Llama 3's first-release tokenizer_config.json, kept
// out of the repository (its licence); CI has the shared folder beside it.
const sharedLlama3 = "../../../shared/tokenizers/llama3/tokenizer_config.json"

type refCase struct {
	Name                 string          `json:"name"`
	Messages             json.RawMessage `json:"messages"`
	AddGenerationPrompt  bool            `json:"add_generation_prompt"`
	Tools                json.RawMessage `json:"tools"`
	Documents            json.RawMessage `json:"documents"`
	Kwargs               json.RawMessage `json:"kwargs"`
	ContinueFinalMessage any             `json:"continue_final_message"`
}

type refResult struct {
	Template, Case, Text, Name string
	ErrorType                  string `json:"error_type"`
	Error                      string
}

func mustParse(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	v, err := ParseJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// loadRefChat is a reference template of testdata/templates with its
// special tokens (llama3-original from the shared folder).
func loadRefChat(t *testing.T, name string) *Chat {
	t.Helper()
	if name == "llama3-original" {
		b, err := os.ReadFile(sharedLlama3)
		if err != nil {
			t.Skipf("Llama 3's tokenizer_config.json is not at %s", sharedLlama3)
		}
		c, ok, err := FromTokenizerConfig(sharedLlama3, b)
		if err != nil || !ok {
			t.Fatalf("%s: %v", sharedLlama3, err)
		}
		return c.WithClock(fixedNow)
	}
	text, err := os.ReadFile(filepath.Join("testdata/templates", name+".jinja"))
	if err != nil {
		t.Fatal(err)
	}
	special, err := os.ReadFile(filepath.Join("testdata/templates", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewChat(name, string(text), special)
	if err != nil {
		t.Fatal(err)
	}
	return c.WithClock(fixedNow)
}

// Every reference template × conversation renders byte for byte as
// Python's jinja2 renders it under transformers' environment
// (testdata/render_reference.py), and raises where it raises, with the
// template's own message for raise_exception.
func TestRendersAsTransformers(t *testing.T) {
	var cases []refCase
	b, err := os.ReadFile("testdata/conversations.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	byName := map[string]refCase{}
	for _, c := range cases {
		byName[c.Name] = c
	}
	f, err := os.Open("testdata/expected.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chats := map[string]*Chat{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	n, texts, errs := 0, 0, 0
	for sc.Scan() {
		var want refResult
		if err := json.Unmarshal(sc.Bytes(), &want); err != nil {
			t.Fatal(err)
		}
		c := byName[want.Case]
		if c.ContinueFinalMessage != nil && c.ContinueFinalMessage != false {
			continue // continue_final_message is not part of srdpo's API
		}
		chat, ok := chats[want.Template]
		if !ok {
			chat = loadRefChat(t, want.Template)
			chats[want.Template] = chat
		}
		req := Request{AddGenerationPrompt: c.AddGenerationPrompt}
		req.Messages, _ = mustParse(t, c.Messages).([]any)
		req.Tools, _ = mustParse(t, c.Tools).([]any)
		req.Documents, _ = mustParse(t, c.Documents).([]any)
		if kw, ok := mustParse(t, c.Kwargs).(*Dict); ok {
			req.Kwargs = map[string]any{}
			for _, k := range kw.Keys() {
				req.Kwargs[k.(string)], _ = kw.Get(k)
			}
		}
		got, err := chat.Apply(req)
		n++
		label := want.Template + "/" + want.Case
		switch {
		case want.ErrorType == "" && err != nil:
			t.Errorf("%s: %v", label, err)
		case want.ErrorType == "" && got != want.Text:
			t.Errorf("%s:\n got  %q\n want %q", label, got, want.Text)
		case want.ErrorType != "" && err == nil:
			t.Errorf("%s: rendered %q, want %s: %s", label, got, want.ErrorType, want.Error)
		case want.ErrorType == "TemplateError" && err.Error() != want.Error:
			t.Errorf("%s: error %q, want %q", label, err, want.Error)
		case want.ErrorType != "":
			errs++
		default:
			texts++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d renders: %d texts and %d errors as jinja2's, %d templates", n, texts, errs, len(chats))
	if n < 800 {
		t.Errorf("only %d reference renders", n)
	}
	_ = strings.TrimSpace
}

// Snippets pin jinja2's semantics one feature at a time
// (testdata/snippets.json, expected outputs from testdata/snippets.py).
func TestSnippetsAsJinja2(t *testing.T) {
	var snippets []struct {
		Name, Template string
		Vars           json.RawMessage
	}
	var expected []refResult
	for file, v := range map[string]any{"testdata/snippets.json": &snippets, "testdata/snippets_expected.json": &expected} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]refResult{}
	for _, e := range expected {
		want[e.Name] = e
	}
	for _, s := range snippets {
		w := want[s.Name]
		vars := map[string]any{}
		if d, ok := mustParse(t, s.Vars).(*Dict); ok {
			for _, k := range d.Keys() {
				vars[k.(string)], _ = d.Get(k)
			}
		}
		tmpl, err := Compile(s.Template)
		var got string
		if err == nil {
			got, err = tmpl.Render(vars)
		}
		switch {
		case w.ErrorType == "" && err != nil:
			t.Errorf("%s: %v", s.Name, err)
		case w.ErrorType == "" && got != w.Text:
			t.Errorf("%s:\n got  %q\n want %q", s.Name, got, w.Text)
		case w.ErrorType != "" && err == nil:
			t.Errorf("%s: rendered %q, want %s: %s", s.Name, got, w.ErrorType, w.Error)
		case w.ErrorType != "" && !strings.Contains(err.Error(), w.Error):
			t.Errorf("%s: error %q, want one with %q", s.Name, err, w.Error)
		}
	}
}
