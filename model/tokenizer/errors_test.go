package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// withParts writes the small GPT-2-layout tokenizer.json with some parts
// replaced.
func withParts(t *testing.T, parts map[string]any, config string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/bpe_json/tokenizer.json")
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]any
	json.Unmarshal(b, &file)
	for k, v := range parts {
		if k == "model." {
			for mk, mv := range v.(map[string]any) {
				file["model"].(map[string]any)[mk] = mv
			}
			continue
		}
		file[k] = v
	}
	dir := t.TempDir()
	out, _ := json.Marshal(file)
	os.WriteFile(filepath.Join(dir, "tokenizer.json"), out, 0o644)
	if config != "" {
		os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(config), 0o644)
	}
	return dir
}

// An unsupported or broken part is an error naming it, never a fallback.
func TestUnsupportedPartsFail(t *testing.T) {
	for want, parts := range map[string]map[string]any{
		`unsupported normalizer "Lowercase"`:             {"normalizer": map[string]any{"type": "Lowercase"}},
		`unsupported normalizer "Precompiled"`:           {"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{map[string]any{"type": "Precompiled"}}}},
		`normalizer Sequence[0]`:                         {"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{map[string]any{"type": "Precompiled"}}}},
		`unsupported pre_tokenizer "BertPreTokenizer"`:   {"pre_tokenizer": map[string]any{"type": "BertPreTokenizer"}},
		`unsupported split behavior "Sideways"`:          {"pre_tokenizer": map[string]any{"type": "Split", "pattern": map[string]any{"String": " "}, "behavior": "Sideways"}},
		`regex "(?<=a"`:                                  {"pre_tokenizer": map[string]any{"type": "Split", "pattern": map[string]any{"Regex": "(?<=a"}, "behavior": "Isolated"}},
		`unsupported post_processor "RobertaProcessing"`: {"post_processor": map[string]any{"type": "RobertaProcessing"}},
		`special token "<x>" is not in special_tokens`: {"post_processor": map[string]any{"type": "TemplateProcessing",
			"single": []any{map[string]any{"SpecialToken": map[string]any{"id": "<x>"}}, map[string]any{"Sequence": map[string]any{"id": "A"}}}, "special_tokens": map[string]any{}}},
		`unsupported decoder "WordPiece"`:                              {"decoder": map[string]any{"type": "WordPiece"}},
		`unsupported model "Unigram"`:                                  {"model.": map[string]any{"type": "Unigram"}},
		`dropout 0.1 makes encoding random`:                            {"model.": map[string]any{"dropout": 0.1}},
		`continuing_subword_prefix "##" is not supported`:              {"model.": map[string]any{"continuing_subword_prefix": "##"}},
		`unk_token "<unk>" is not in the vocabulary`:                   {"model.": map[string]any{"unk_token": "<unk>"}},
		`truncation is set`:                                            {"truncation": map[string]any{"max_length": 8}},
		`unsupported Metaspace prepend_scheme "sometimes"`:             {"pre_tokenizer": map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "sometimes"}},
		`merge 0 ("h" "e") makes "he", which is not in the vocabulary`: {"model.": map[string]any{"merges": []any{"h e"}, "vocab": map[string]any{"h": 0, "e": 1}}},
	} {
		_, err := LoadHF(withParts(t, parts, ""))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error with %q, got %v", want, err)
		}
	}
	if _, err := LoadHF(withParts(t, nil, `{"tokenizer_class": "LlamaTokenizerFast", "add_bos_token": true}`)); err == nil || !strings.Contains(err.Error(), "no bos_token") {
		t.Errorf("add_bos_token without a bos_token: %v", err)
	}
	if _, err := LoadHF(withParts(t, nil, `{"eos_token": "</nope>"}`)); err == nil || !strings.Contains(err.Error(), `eos_token "</nope>" is not in the vocabulary`) {
		t.Errorf("unknown eos_token: %v", err)
	}
}

// tokenizer_config.json: for the classes whose fast tokenizer rebuilds its
// template from add_bos_token / add_eos_token (transformers'
// LlamaTokenizerFast.update_post_processor), those flags decide what
// EncodeSpecial adds; eos_token sets EOS; the file is in the fingerprint.
func TestTokenizerConfig(t *testing.T) {
	plain := withParts(t, nil, "")
	llama := withParts(t, nil, `{"tokenizer_class": "LlamaTokenizerFast", "add_bos_token": true, "add_eos_token": true,
		"bos_token": {"__type": "AddedToken", "content": "<|endoftext|>"}, "eos_token": "he"}`)
	other := withParts(t, nil, `{"tokenizer_class": "Qwen2Tokenizer", "add_bos_token": true, "bos_token": "<|endoftext|>", "eos_token": "he"}`)
	a, err := LoadHF(plain)
	if err != nil {
		t.Fatal(err)
	}
	b, err := LoadHF(llama)
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadHF(other)
	if err != nil {
		t.Fatal(err)
	}
	hello := []int32{264} // "hello", see bpeCases
	for _, x := range []struct {
		tok  Tokenizer
		want []int32
		bos  []int32
		eos  int32
	}{
		{a, hello, nil, 271},
		{b, []int32{271, 264, 256}, []int32{271}, 256}, // BOS <|endoftext|>, EOS "he" (id 256)
		{c, hello, nil, 256},                           // Qwen2Tokenizer keeps the file's post-processor
	} {
		got, err := x.tok.EncodeSpecial("hello")
		if err != nil || !reflect.DeepEqual(got, x.want) || !reflect.DeepEqual(x.tok.BOS(), x.bos) && len(x.bos) > 0 || x.tok.EOS() != x.eos {
			t.Errorf("EncodeSpecial = %v (%v), BOS %v, EOS %d; want %v, %v, %d", got, err, x.tok.BOS(), x.tok.EOS(), x.want, x.bos, x.eos)
		}
	}
	if a.Fingerprint() == b.Fingerprint() || b.Fingerprint() == c.Fingerprint() {
		t.Error("a different tokenizer_config.json, the same fingerprint")
	}
}

// Added tokens' rules on the small vocabulary: lstrip takes the white space
// before, rstrip the white space after, single_word refuses a match inside
// a word; normalized tokens match the normalized text. The ids are what
// HF's library gives for this file (checked with its node binding).
func TestAddedTokenRules(t *testing.T) {
	dir := withParts(t, map[string]any{
		"normalizer": map[string]any{"type": "NFC"},
		"added_tokens": []any{
			map[string]any{"id": 271, "content": "<m>", "lstrip": true, "single_word": true, "special": true},
			map[string]any{"id": 272, "content": "[R]", "rstrip": true},
			map[string]any{"id": 165, "content": "é", "normalized": true}, // in the vocabulary (byte 0xE9's symbol)
		}}, "")
	tok, err := LoadHF(dir)
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string][]int32{
		"a  <m> b": {64, 271, 220, 65},        // the spaces before <m> go with it
		"a<m> b":   {64, 27, 76, 29, 220, 65}, // not a single word: plain text
		"[R]  b":   {272, 65},                 // the spaces after [R] go with it
		"e\u0301":  {165},                     // NFD é is normalized, then matched
		"<m><m>":   {271, 271},                // ">" and "<" are not word characters
	} {
		got, err := tok.Encode(text)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Encode(%q) = %v, %v; want %v", text, got, err, want)
		}
	}
}
