package stages

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
	"github.com/srdpo/srdpo/model/tokenizer/tokenizertest"
)

// sharedLlama3Dir holds Llama 3's first-release tokenizer files, kept out
// of the repository (its licence); CI has the shared folder beside it.
const sharedLlama3Dir = "../../shared/tokenizers/llama3"

type trlExpected struct {
	Tokenizer, Record, Skipped string
	MaxLength                  *int    `json:"max_length"`
	TruncationMode             string  `json:"truncation_mode"`
	Format                     string  `json:"format"`
	PromptText                 string  `json:"prompt_text"`
	PromptChosenText           string  `json:"prompt_chosen_text"`
	PromptIDs                  []int32 `json:"prompt_ids"`
	Dropped                    bool    `json:"dropped"`
	ChosenInputIDs             []int32 `json:"chosen_input_ids"`
	RejectedInputIDs           []int32 `json:"rejected_input_ids"`
	ChosenIDs                  []int32 `json:"chosen_ids"`
	RejectedIDs                []int32 `json:"rejected_ids"`
}

// trlTokenizer is a tokenizer of the reference data with the chat template
// its conversational rows were rendered with.
func trlTokenizer(t *testing.T, name string) (tokenizer.Tokenizer, ChatTemplate, string) {
	dir := ""
	switch name {
	case "llama3":
		if _, err := os.Stat(sharedLlama3Dir); err != nil {
			t.Skipf("Llama 3's files are not at %s", sharedLlama3Dir)
		}
		dir = sharedLlama3Dir
	default:
		dir = tokenizertest.Dir(t, name)
	}
	tok, err := tokenizer.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	config, err := os.ReadFile(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := ChatTemplate{Name: name, TokenizerConfig: string(config)}
	if name == "mistral" { // its tokenizer ships no template: the helper's Mistral-7B-Instruct one
		j, err := os.ReadFile("testdata/trl/mistral-7b-instruct.jinja")
		if err != nil {
			t.Fatal(err)
		}
		tmpl.Jinja = string(j)
	}
	var cfg struct {
		EOS any `json:"eos_token"`
	}
	_ = json.Unmarshal(config, &cfg)
	eos, _ := cfg.EOS.(string)
	if m, ok := cfg.EOS.(map[string]any); ok {
		eos, _ = m["content"].(string)
	}
	return tok, tmpl, eos
}

// --tokenization trl gives the ids TRL 1.x's DPOTrainer gives: reference
// ids from Hugging Face's tokenizers under TRL's rule
// (testdata/trl/make_expected.py), for Qwen3, Mistral and Llama 3, text and
// conversational rows, with and without truncation; rows TRL drops are
// dead letters here, and so are keep_end rows whose prompt TRL would cut
// (srdpo scores one prompt per pair).
func TestTRLTokenizationEqualsTRL(t *testing.T) {
	records := map[string][]byte{}
	rf, err := os.Open("testdata/trl/records.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer rf.Close()
	sc := bufio.NewScanner(rf)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r struct{ ID string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatal(err)
		}
		records[r.ID] = append([]byte(nil), sc.Bytes()...)
	}
	ef, err := os.Open("testdata/trl/expected.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	type tokInfo struct {
		tok  tokenizer.Tokenizer
		tmpl ChatTemplate
		eos  string
	}
	toks := map[string]tokInfo{}
	sc = bufio.NewScanner(ef)
	sc.Buffer(nil, 1<<22)
	checked, dead := 0, 0
	for sc.Scan() {
		var want trlExpected
		if err := json.Unmarshal(sc.Bytes(), &want); err != nil {
			t.Fatal(err)
		}
		info, ok := toks[want.Tokenizer]
		if !ok {
			tok, tmpl, eos := trlTokenizer(t, want.Tokenizer)
			info = tokInfo{tok, tmpl, eos}
			toks[want.Tokenizer] = info
		}
		raw := strings.ReplaceAll(string(records[want.Record]), "<<EOS>>", info.eos)
		label := want.Tokenizer + "/" + want.Record
		p, err := NormaliseRecord([]byte(raw), FormatAuto, info.tmpl, Augmentation{Prompt: "P:", Separator: " ", Position: AugLastUser})
		if want.Skipped != "" {
			// The template raised, as transformers' did: a dead letter.
			var re *recordError
			if !errors.As(err, &re) || re.reason != ReasonTemplateError {
				t.Errorf("%s: want a template_error dead letter (%s), got %v", label, want.Skipped, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", label, err)
			continue
		}
		if want.Format == "conversational" && p.Prompt+p.Chosen != want.PromptChosenText {
			t.Errorf("%s: rendered %q, want %q", label, p.Prompt+p.Chosen, want.PromptChosenText)
		}
		side := model.KeepStart
		if want.TruncationMode == "keep_end" {
			side = model.KeepEnd
		}
		limit := 1 << 20
		if want.MaxLength != nil {
			limit = *want.MaxLength
		}
		ref := RenderOnly(ReferenceSpec{Tokenization: TokenizationTRL, AugPrompt: "P:", AugSeparator: " ",
			Truncation: model.Truncation{MaxLength: limit, MaxPromptLength: 1, Prompt: model.KeepEnd, Response: side}}, info.tok)
		label += fmt.Sprintf("/%s/max %v", want.TruncationMode, limit)
		s, err := ref.Sequences(p)
		full := len(want.PromptIDs) + max(len(want.ChosenIDs), len(want.RejectedIDs))
		promptCut := side == model.KeepEnd && want.MaxLength != nil && full > limit
		switch {
		case want.Dropped || promptCut:
			if err == nil {
				t.Errorf("%s: scored a row TRL drops or whose prompt TRL cuts", label)
			}
			dead++
			continue
		case err != nil:
			t.Errorf("%s: %v", label, err)
			continue
		}
		if !slices.Equal(s.PromptIDs, want.PromptIDs) {
			t.Errorf("%s: prompt ids\n got  %v\n want %v", label, s.PromptIDs, want.PromptIDs)
		}
		if got := append(append([]int32(nil), s.PromptIDs...), s.ChosenIDs...); !slices.Equal(got, want.ChosenInputIDs) {
			t.Errorf("%s: prompt + chosen ids\n got  %v\n want %v", label, got, want.ChosenInputIDs)
		}
		if got := append(append([]int32(nil), s.PromptIDs...), s.RejectedIDs...); !slices.Equal(got, want.RejectedInputIDs) {
			t.Errorf("%s: prompt + rejected ids\n got  %v\n want %v", label, got, want.RejectedInputIDs)
		}
		checked++
	}
	t.Logf("%d rows equal TRL's ids, %d dead letters where TRL drops or cuts the prompt", checked, dead)
	if checked < 60 {
		t.Errorf("only %d rows checked", checked)
	}
}
