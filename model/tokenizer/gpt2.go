package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// LoadGPT2 reads GPT-2's vocab.json + merges.txt: byte-level BPE with
// GPT-2's pre-tokenisation and no added tokens, so a corpus that spells
// <|endoftext|> is encoded as plain text (as HF's ByteLevelBPETokenizer
// built from these two files does).
func LoadGPT2(vocabPath, mergesPath string) (*HF, error) {
	fp, files, err := fingerprintFiles(vocabPath, mergesPath)
	if err != nil {
		return nil, err
	}
	var vocab map[string]int32
	if err := json.Unmarshal(files[0], &vocab); err != nil {
		return nil, fmt.Errorf("%s: %w", vocabPath, err)
	}
	var merges [][2]string
	sc := bufio.NewScanner(bytes.NewReader(files[1]))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		if text == "" || (line == 1 && strings.HasPrefix(text, "#version")) {
			continue
		}
		a, b, ok := strings.Cut(text, " ")
		if !ok || a == "" || b == "" || strings.Contains(b, " ") {
			return nil, fmt.Errorf("%s line %d: want two symbols separated by one space, got %q", mergesPath, line, text)
		}
		merges = append(merges, [2]string{a, b})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", mergesPath, err)
	}
	model, err := newBPE(vocab, merges, "", false, false, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", mergesPath, err)
	}
	for b := 0; b < 256; b++ {
		if _, ok := vocab[string(byteToRune[b])]; !ok {
			return nil, fmt.Errorf("%s lacks the symbol of byte %#02x (%q): not a byte-level BPE", vocabPath, b, byteToRune[b])
		}
	}
	re, err := newRegexPattern(gpt2Pattern)
	if err != nil {
		return nil, err
	}
	t := &HF{raw: newMatcher(nil), normalized: newMatcher(nil), pre: byteLevel{re: re}, model: model,
		decoder: byteLevelDecoder{}, idToToken: map[int32]string{}, eos: -1, fingerprint: fp}
	for s, id := range vocab {
		if prev, dup := t.idToToken[id]; dup {
			return nil, fmt.Errorf("%s gives id %d to both %q and %q", vocabPath, id, prev, s)
		}
		t.idToToken[id] = s
		t.vocabSize = max(t.vocabSize, int(id)+1)
	}
	if id, ok := vocab["<|endoftext|>"]; ok {
		t.eos = id
	}
	return t, nil
}
