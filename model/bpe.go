package model

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// BPE is GPT-2's byte-level byte-pair-encoding tokenizer: text is split by
// GPT-2's pre-tokenisation pattern, each piece's bytes are mapped to
// printable characters (bytes_to_unicode), and merges are applied in rank
// order. Special tokens such as <|endoftext|> are not parsed out of text:
// corpus text that spells one is encoded as plain text.
type BPE struct {
	vocab       map[string]int32
	inverse     map[int32]string
	ranks       map[[2]string]int
	eos         int32
	fingerprint string

	mu    sync.Mutex
	cache map[string][]int32
}

// byteToRune and runeToByte are GPT-2's bytes_to_unicode: printable bytes
// keep their character, the others move to 256 and up, in byte order.
var byteToRune, runeToByte = func() ([256]rune, map[rune]byte) {
	var b2r [256]rune
	r2b := map[rune]byte{}
	n := 0
	for b := 0; b < 256; b++ {
		if ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF) {
			b2r[b] = rune(b)
		} else {
			b2r[b] = rune(256 + n)
			n++
		}
		r2b[b2r[b]] = byte(b)
	}
	return b2r, r2b
}()

// LoadBPE reads a tokenizer from a directory holding vocab.json and
// merges.txt, or tokenizer.json (Hugging Face tokenizers' format).
func LoadBPE(dir string) (*BPE, error) {
	if _, err := os.Stat(filepath.Join(dir, "vocab.json")); err == nil {
		return loadVocabMerges(filepath.Join(dir, "vocab.json"), filepath.Join(dir, "merges.txt"))
	}
	if _, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err == nil {
		return loadTokenizerJSON(filepath.Join(dir, "tokenizer.json"))
	}
	return nil, fmt.Errorf("%s holds neither vocab.json + merges.txt nor tokenizer.json", dir)
}

func fingerprintFiles(paths ...string) (string, [][]byte, error) {
	h := sha256.New()
	var contents [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", nil, err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(p), len(b))
		h.Write(b)
		contents = append(contents, b)
	}
	return hex.EncodeToString(h.Sum(nil)), contents, nil
}

func loadVocabMerges(vocabPath, mergesPath string) (*BPE, error) {
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
	return newBPE(vocab, merges, fp)
}

func loadTokenizerJSON(path string) (*BPE, error) {
	fp, files, err := fingerprintFiles(path)
	if err != nil {
		return nil, err
	}
	var tj struct {
		Model struct {
			Type   string            `json:"type"`
			Vocab  map[string]int32  `json:"vocab"`
			Merges []json.RawMessage `json:"merges"` // "a b", or ["a", "b"] in newer files
		} `json:"model"`
		AddedTokens []struct {
			ID      int32  `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
	}
	if err := json.Unmarshal(files[0], &tj); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if tj.Model.Type != "BPE" {
		return nil, fmt.Errorf("%s: model type %q, want BPE", path, tj.Model.Type)
	}
	var merges [][2]string
	for i, raw := range tj.Model.Merges {
		var s string
		var pair [2]string
		if json.Unmarshal(raw, &s) == nil {
			a, b, ok := strings.Cut(s, " ")
			if !ok {
				return nil, fmt.Errorf("%s: merge %d %q has no space", path, i, s)
			}
			pair = [2]string{a, b}
		} else if err := json.Unmarshal(raw, &pair); err != nil {
			return nil, fmt.Errorf("%s: merge %d: %w", path, i, err)
		}
		merges = append(merges, pair)
	}
	vocab := tj.Model.Vocab
	for _, t := range tj.AddedTokens {
		vocab[t.Content] = t.ID
	}
	return newBPE(vocab, merges, fp)
}

func newBPE(vocab map[string]int32, merges [][2]string, fingerprint string) (*BPE, error) {
	t := &BPE{vocab: vocab, inverse: map[int32]string{}, ranks: map[[2]string]int{},
		fingerprint: fingerprint, cache: map[string][]int32{}, eos: -1}
	for s, id := range vocab {
		if prev, dup := t.inverse[id]; dup {
			return nil, fmt.Errorf("vocabulary gives id %d to both %q and %q", id, prev, s)
		}
		t.inverse[id] = s
	}
	for b := 0; b < 256; b++ {
		if _, ok := vocab[string(byteToRune[b])]; !ok {
			return nil, fmt.Errorf("vocabulary lacks the symbol of byte %#02x (%q): not a byte-level BPE", b, byteToRune[b])
		}
	}
	for i, m := range merges {
		if _, ok := vocab[m[0]+m[1]]; !ok {
			return nil, fmt.Errorf("merge %d (%q %q) makes %q, which is not in the vocabulary", i, m[0], m[1], m[0]+m[1])
		}
		if _, dup := t.ranks[m]; !dup {
			t.ranks[m] = i
		}
	}
	if id, ok := vocab["<|endoftext|>"]; ok {
		t.eos = id
	}
	return t, nil
}

func (t *BPE) VocabSize() int {
	n := 0
	for id := range t.inverse {
		n = max(n, int(id)+1)
	}
	return n
}

// EOS is <|endoftext|>, or -1 when the vocabulary has none.
func (t *BPE) EOS() int32          { return t.eos }
func (t *BPE) Fingerprint() string { return t.fingerprint }

// Encode splits text with GPT-2's pattern and encodes each piece.
func (t *BPE) Encode(text string) []int32 {
	var ids []int32
	for _, piece := range pretokenize(text) {
		ids = append(ids, t.encodePiece(piece)...)
	}
	return ids
}

func (t *BPE) encodePiece(piece string) []int32 {
	t.mu.Lock()
	cached, ok := t.cache[piece]
	t.mu.Unlock()
	if ok {
		return cached
	}
	symbols := make([]string, 0, len(piece))
	for i := 0; i < len(piece); i++ {
		symbols = append(symbols, string(byteToRune[piece[i]]))
	}
	for len(symbols) > 1 {
		best, at := -1, -1
		for i := 0; i+1 < len(symbols); i++ {
			if r, ok := t.ranks[[2]string{symbols[i], symbols[i+1]}]; ok && (best < 0 || r < best) {
				best, at = r, i
			}
		}
		if at < 0 {
			break
		}
		// Merge every occurrence of the best pair, left to right.
		pair := [2]string{symbols[at], symbols[at+1]}
		merged := symbols[:0:0]
		for i := 0; i < len(symbols); i++ {
			if i+1 < len(symbols) && symbols[i] == pair[0] && symbols[i+1] == pair[1] {
				merged = append(merged, pair[0]+pair[1])
				i++
			} else {
				merged = append(merged, symbols[i])
			}
		}
		symbols = merged
	}
	ids := make([]int32, len(symbols))
	for i, s := range symbols {
		ids[i] = t.vocab[s] // every symbol is a byte or a merge result, both in the vocabulary
	}
	t.mu.Lock()
	if len(t.cache) < 1<<16 {
		t.cache[piece] = ids
	}
	t.mu.Unlock()
	return ids
}

// Decode maps ids back to bytes; unknown ids are dropped.
func (t *BPE) Decode(ids []int32) string {
	var b []byte
	for _, id := range ids {
		s, ok := t.inverse[id]
		if !ok {
			continue
		}
		for _, r := range s {
			if by, ok := runeToByte[r]; ok {
				b = append(b, by)
			} else {
				b = utf8.AppendRune(b, r) // an added token such as <|endoftext|>
			}
		}
	}
	return string(b)
}

// pretokenize splits text as GPT-2's pattern does:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Go's regexp has no lookahead, so the pattern is applied by hand, trying
// the alternatives in order at each position as the regex engine would.
func pretokenize(text string) []string {
	var out []string
	runes := []rune(text)
	isOther := func(r rune) bool { return !unicode.IsSpace(r) && !unicode.IsLetter(r) && !unicode.IsNumber(r) }
	run := func(i int, in func(rune) bool) int {
		for i < len(runes) && in(runes[i]) {
			i++
		}
		return i
	}
	for i := 0; i < len(runes); {
		end := -1
		if runes[i] == '\'' {
			for _, c := range []string{"s", "t", "re", "ve", "m", "ll", "d"} {
				if strings.HasPrefix(string(runes[i+1:min(len(runes), i+3)]), c) {
					end = i + 1 + len(c)
					break
				}
			}
		}
		if end < 0 {
			start := i
			if runes[i] == ' ' && i+1 < len(runes) {
				start = i + 1
			}
			for _, class := range []func(rune) bool{unicode.IsLetter, unicode.IsNumber, isOther} {
				if class(runes[start]) {
					end = run(start, class)
					break
				}
			}
		}
		if end < 0 { // whitespace
			j := run(i, unicode.IsSpace)
			switch {
			case j == len(runes): // \s+(?!\S) takes the whole run at the end
				end = j
			case j-i > 1: // \s+(?!\S) leaves the last space to the next word
				end = j - 1
			default: // \s+
				end = j
			}
		}
		out = append(out, string(runes[i:end]))
		i = end
	}
	return out
}
