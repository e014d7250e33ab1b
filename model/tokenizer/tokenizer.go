package tokenizer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// Tokenizer turns text into token ids and back.
type Tokenizer interface {
	// Encode gives the ids of text without the special tokens a
	// post-processor adds (HF's add_special_tokens=False). Added tokens
	// spelled in the text, such as <|im_start|>, are still matched. Text
	// that is not valid UTF-8 is an error, never silently changed.
	Encode(text string) ([]int32, error)
	// EncodeSpecial gives the ids with the post-processor's special tokens
	// (HF's add_special_tokens=True), e.g. BOS before the text.
	EncodeSpecial(text string) ([]int32, error)
	// Decode turns ids back into text, special tokens included.
	Decode(ids []int32) string
	// VocabSize is one more than the largest id the tokenizer can give.
	VocabSize() int
	// BOS is what the post-processor puts before a single sequence
	// (empty when it adds nothing); scoring puts it before each prompt.
	BOS() []int32
	// EOS ends a sequence; generation stops on it. -1 when there is none.
	EOS() int32
	// Fingerprint is the sha256 of what defines the tokenizer (its files),
	// recorded in every Arrow file scored with it.
	Fingerprint() string
}

// Spec values of Load.
const (
	SpecAuto = "auto"
	SpecByte = "byte"
)

// Load resolves a tokenizer spec: "byte"; "auto" (the tokenizer files in
// modelDir if there are any, else bytes); or a directory holding
// tokenizer.json (+ tokenizer_config.json) or vocab.json + merges.txt.
// tokenizer.json wins when a directory has both.
func Load(spec, modelDir string) (Tokenizer, error) {
	switch spec {
	case SpecByte:
		return Byte{}, nil
	case SpecAuto, "":
		if has(modelDir, fileTokenizerJSON) || has(modelDir, fileVocab) {
			return LoadDir(modelDir)
		}
		return Byte{}, nil
	}
	return LoadDir(spec)
}

// File names of a tokenizer directory.
const (
	fileTokenizerJSON   = "tokenizer.json"
	fileTokenizerConfig = "tokenizer_config.json"
	fileVocab           = "vocab.json"
	fileMerges          = "merges.txt"
)

// LoadDir reads a tokenizer directory: tokenizer.json (+
// tokenizer_config.json), else GPT-2's vocab.json + merges.txt.
func LoadDir(dir string) (Tokenizer, error) {
	if has(dir, fileTokenizerJSON) {
		return LoadHF(dir)
	}
	if has(dir, fileVocab) {
		return LoadGPT2(filepath.Join(dir, fileVocab), filepath.Join(dir, fileMerges))
	}
	return nil, fmt.Errorf("%s holds neither tokenizer.json nor vocab.json + merges.txt", dir)
}

func has(dir, name string) bool {
	if dir == "" {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// fingerprintFiles hashes each file's name, length and bytes, in order;
// a missing optional file (empty path) is skipped.
func fingerprintFiles(paths ...string) (string, [][]byte, error) {
	h := sha256.New()
	contents := make([][]byte, len(paths))
	for i, p := range paths {
		if p == "" {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return "", nil, err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", filepath.Base(p), len(b))
		h.Write(b)
		contents[i] = b
	}
	return hex.EncodeToString(h.Sum(nil)), contents, nil
}

// Byte maps each byte of UTF-8 text to its own id (0–255), with one
// special token, EOS = 256. It needs no files and round-trips any text.
type Byte struct{}

// ByteEOS is the byte tokenizer's end-of-sequence id.
const ByteEOS = 256

// Encode never fails: any bytes are ids.
func (Byte) Encode(text string) ([]int32, error) { return Bytes(text), nil }

func (Byte) EncodeSpecial(text string) ([]int32, error) { return Bytes(text), nil }

// Bytes is the byte tokenizer's encoding of text.
func Bytes(text string) []int32 {
	ids := make([]int32, len(text))
	for i := 0; i < len(text); i++ {
		ids[i] = int32(text[i])
	}
	return ids
}

// Decode drops special ids; bytes that do not form UTF-8 stay as they are.
func (Byte) Decode(ids []int32) string {
	b := make([]byte, 0, len(ids))
	for _, id := range ids {
		if id >= 0 && id < 256 {
			b = append(b, byte(id))
		}
	}
	return string(b)
}

func (Byte) VocabSize() int { return 257 }
func (Byte) BOS() []int32   { return nil }
func (Byte) EOS() int32     { return ByteEOS }

func (Byte) Fingerprint() string {
	h := sha256.Sum256([]byte("srdpo byte tokenizer v1: ids 0-255 are bytes, 256 is EOS"))
	return hex.EncodeToString(h[:])
}
