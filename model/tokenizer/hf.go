package tokenizer

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"
	"unicode/utf8"
)

// HF is a Hugging Face tokenizer.json pipeline: added tokens matched in
// the raw text, the normalizer, added tokens matched in the normalized
// text, the pre-tokenizer, BPE, and for EncodeSpecial the post-processor.
type HF struct {
	raw, normalized *matcher // added tokens with normalized false / true
	normalizer      normalizer
	pre             preTokenizer
	model           *bpe
	decoder         decoder
	template        template
	idToToken       map[int32]string
	vocabSize       int
	eos             int32
	fingerprint     string

	// EncodeBudget bounds the regular-expression work of one Encode; zero
	// means DefaultEncodeBudget.
	EncodeBudget time.Duration
}

// tokenizerConfig holds what srdpo reads of tokenizer_config.json.
type tokenizerConfig struct {
	TokenizerClass string          `json:"tokenizer_class"`
	AddBOSToken    *bool           `json:"add_bos_token"`
	AddEOSToken    *bool           `json:"add_eos_token"`
	BOSToken       json.RawMessage `json:"bos_token"`
	EOSToken       json.RawMessage `json:"eos_token"`
}

// templateClasses are the transformers tokenizer classes whose fast
// tokenizer rebuilds the post-processor from add_bos_token /
// add_eos_token (update_post_processor), with their add_bos_token default.
var templateClasses = map[string]bool{
	"LlamaTokenizer": true, "LlamaTokenizerFast": true,
	"CodeLlamaTokenizer": true, "CodeLlamaTokenizerFast": true,
	"GemmaTokenizer": true, "GemmaTokenizerFast": true,
	"GPTNeoXTokenizer": false, "GPTNeoXTokenizerFast": false,
}

// LoadHF reads dir/tokenizer.json and, when present,
// dir/tokenizer_config.json.
func LoadHF(dir string) (*HF, error) {
	jsonPath := filepath.Join(dir, fileTokenizerJSON)
	configPath := ""
	if has(dir, fileTokenizerConfig) {
		configPath = filepath.Join(dir, fileTokenizerConfig)
	}
	fp, files, err := fingerprintFiles(jsonPath, configPath)
	if err != nil {
		return nil, err
	}
	t, err := parseHF(files[0], files[1])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", jsonPath, err)
	}
	t.fingerprint = fp
	return t, nil
}

func parseHF(tokenizerJSON, configJSON []byte) (*HF, error) {
	var tj struct {
		Truncation    json.RawMessage `json:"truncation"`
		Padding       json.RawMessage `json:"padding"`
		AddedTokens   []*addedToken   `json:"added_tokens"`
		Normalizer    json.RawMessage `json:"normalizer"`
		PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
		PostProcessor json.RawMessage `json:"post_processor"`
		Decoder       json.RawMessage `json:"decoder"`
		Model         json.RawMessage `json:"model"`
	}
	if err := json.Unmarshal(tokenizerJSON, &tj); err != nil {
		return nil, err
	}
	if !isNull(tj.Truncation) {
		return nil, fmt.Errorf("truncation is set; srdpo truncates itself (--max-length), so the file must have none")
	}
	t := &HF{idToToken: map[int32]string{}, eos: -1}
	var err error
	if t.model, err = parseBPE(tj.Model); err != nil {
		return nil, err
	}
	if t.normalizer, err = parseNormalizer(tj.Normalizer); err != nil {
		return nil, err
	}
	if t.pre, err = parsePreTokenizer(tj.PreTokenizer); err != nil {
		return nil, err
	}
	if t.decoder, err = parseDecoder(tj.Decoder); err != nil {
		return nil, err
	}
	if t.template, err = parsePostProcessor(tj.PostProcessor); err != nil {
		return nil, err
	}
	if err := t.indexVocabulary(); err != nil {
		return nil, err
	}
	if err := t.addTokens(tj.AddedTokens); err != nil {
		return nil, err
	}
	for id := range t.idToToken {
		t.vocabSize = max(t.vocabSize, int(id)+1)
	}
	for _, id := range append(append([]int32{}, t.template.before...), t.template.after...) {
		if _, ok := t.idToToken[id]; !ok {
			return nil, fmt.Errorf("post_processor: special id %d is not in the vocabulary", id)
		}
	}
	if configJSON != nil {
		if err := t.applyConfig(configJSON); err != nil {
			return nil, fmt.Errorf("tokenizer_config.json: %w", err)
		}
	}
	if t.eos < 0 {
		t.eos = t.defaultEOS()
	}
	return t, nil
}

// indexVocabulary maps the BPE vocabulary's ids back to their tokens; two
// tokens of one id are refused.
func (t *HF) indexVocabulary() error {
	for s, id := range t.model.vocab {
		if prev, dup := t.idToToken[id]; dup {
			return fmt.Errorf("model BPE: the vocabulary gives id %d to both %q and %q", id, prev, s)
		}
		t.idToToken[id] = s
	}
	return nil
}

// addTokens checks the added tokens' ids as HF's library assigns them and
// builds the two matchers: raw content, and content normalized first.
func (t *HF) addTokens(added []*addedToken) error {
	var raw, normalized []*addedToken
	assigned := map[string]int32{}
	maxAdded, vocabLen := int32(-1), int32(len(t.model.vocab))
	for _, a := range added {
		if a.Content == "" {
			return fmt.Errorf("added token %d is empty", a.ID)
		}
		// HF's library does not take an added token's id from the file:
		// it is the token's id in the vocabulary, else the next free one
		// (AddedVocabulary::add_tokens). A file whose ids disagree would
		// give other ids than HF's, so it is refused.
		id, ok := assigned[a.Content]
		if !ok {
			id, ok = t.model.vocab[a.Content]
		}
		if !ok {
			id = vocabLen
			if maxAdded >= vocabLen || vocabLen == 0 {
				id = maxAdded + 1
			}
		}
		assigned[a.Content] = id
		maxAdded = max(maxAdded, id)
		if id != a.ID {
			return fmt.Errorf("added token %q has id %d in the file, but HF's tokenizers gives it %d (the next free id after the vocabulary's %d entries): the file is inconsistent", a.Content, a.ID, id, vocabLen)
		}
		t.idToToken[a.ID] = a.Content // an added token's content wins for decoding, as in HF
		if a.Normalized {
			// Matched against its own normalized form, as HF does.
			n := *a
			if t.normalizer != nil {
				var err error
				if n.Content, err = t.normalizer.normalize(a.Content, time.Now().Add(DefaultEncodeBudget)); err != nil {
					return err
				}
			}
			normalized = append(normalized, &n)
		} else {
			raw = append(raw, a)
		}
	}
	t.raw, t.normalized = newMatcher(raw), newMatcher(normalized)
	return nil
}

// defaultEOS is the first of the usual end-of-text tokens the vocabulary
// has, or -1.
func (t *HF) defaultEOS() int32 {
	for _, s := range []string{"<|endoftext|>", "</s>", "<|end_of_text|>"} {
		if id, ok := t.tokenID(s); ok {
			return id
		}
	}
	return -1
}

// applyConfig takes eos_token, and for the classes whose fast tokenizer
// rebuilds the post-processor, the BOS/EOS template from add_bos_token
// and add_eos_token.
func (t *HF) applyConfig(b []byte) error {
	var c tokenizerConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return err
	}
	eos, err := t.configToken(c.EOSToken, "eos_token")
	if err != nil {
		return err
	}
	if eos >= 0 {
		t.eos = eos
	}
	bosDefault, rebuilds := templateClasses[c.TokenizerClass]
	if !rebuilds {
		return nil
	}
	addBOS, addEOS := bosDefault, false
	if c.AddBOSToken != nil {
		addBOS = *c.AddBOSToken
	}
	if c.AddEOSToken != nil {
		addEOS = *c.AddEOSToken
	}
	bos, err := t.configToken(c.BOSToken, "bos_token")
	if err != nil {
		return err
	}
	t.template = template{}
	if addBOS {
		if bos < 0 {
			return fmt.Errorf("add_bos_token is set but there is no bos_token")
		}
		t.template.before = []int32{bos}
	}
	if addEOS {
		if eos < 0 {
			return fmt.Errorf("add_eos_token is set but there is no eos_token")
		}
		t.template.after = []int32{eos}
	}
	return nil
}

// configToken resolves a special token of the config, a string or an
// AddedToken object; -1 when it is null or absent.
func (t *HF) configToken(raw json.RawMessage, field string) (int32, error) {
	if isNull(raw) {
		return -1, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		var obj struct {
			Content string `json:"content"`
		}
		if err := json.Unmarshal(raw, &obj); err != nil {
			return -1, fmt.Errorf("%s: %w", field, err)
		}
		s = obj.Content
	}
	id, ok := t.tokenID(s)
	if !ok {
		return -1, fmt.Errorf("%s %q is not in the vocabulary", field, s)
	}
	return id, nil
}

func (t *HF) tokenID(s string) (int32, bool) {
	for _, m := range []*matcher{t.raw, t.normalized} {
		for _, a := range m.byFirst[firstByte(s)] {
			if a.Content == s {
				return a.ID, true
			}
		}
	}
	id, ok := t.model.vocab[s]
	return id, ok
}

func firstByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

// Encode gives HF's ids for text with add_special_tokens=False.
func (t *HF) Encode(text string) ([]int32, error) {
	if !utf8.ValidString(text) {
		return nil, fmt.Errorf("text is not valid UTF-8: %q", clip(text))
	}
	budget := t.EncodeBudget
	if budget <= 0 {
		budget = DefaultEncodeBudget
	}
	until := time.Now().Add(budget)
	ids := make([]int32, 0, len(text)/3)
	for _, p := range t.raw.split(piece{text: text, atStart: true, token: -1}) {
		if p.token >= 0 {
			ids = append(ids, p.token)
			continue
		}
		if t.normalizer != nil {
			var err error
			if p.text, err = t.normalizer.normalize(p.text, until); err != nil {
				return nil, err
			}
		}
		for _, q := range t.normalized.split(p) {
			if q.token >= 0 {
				ids = append(ids, q.token)
				continue
			}
			if q.text == "" { // HF drops empty pieces before pre-tokenizing
				continue
			}
			words := []piece{q}
			if t.pre != nil {
				var err error
				if words, err = t.pre.split(q, until); err != nil {
					return nil, err
				}
			}
			for _, w := range words {
				wids, err := t.model.encode(w.text)
				if err != nil {
					return nil, err
				}
				ids = append(ids, wids...)
			}
		}
	}
	return ids, nil
}

// EncodeSpecial gives HF's ids with add_special_tokens=True.
func (t *HF) EncodeSpecial(text string) ([]int32, error) {
	ids, err := t.Encode(text)
	if err != nil {
		return nil, err
	}
	return t.template.apply(ids), nil
}

// Decode is HF's decode with skip_special_tokens=False: ids to tokens
// (unknown ids are dropped, as HF drops them), then the decoder.
func (t *HF) Decode(ids []int32) string {
	tokens := make([]string, 0, len(ids))
	for _, id := range ids {
		if s, ok := t.idToToken[id]; ok {
			tokens = append(tokens, s)
		}
	}
	if t.decoder == nil {
		return joinSpace(tokens)
	}
	return joinEmpty(t.decoder.decodeChain(tokens))
}

func (t *HF) VocabSize() int      { return t.vocabSize }
func (t *HF) BOS() []int32        { return t.template.before }
func (t *HF) EOS() int32          { return t.eos }
func (t *HF) Fingerprint() string { return t.fingerprint }
