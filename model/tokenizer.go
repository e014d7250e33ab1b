package model

import (
	"crypto/sha256"
	"encoding/hex"
)

// Tokenizer turns text into token ids and back.
type Tokenizer interface {
	Encode(text string) []int32
	Decode(ids []int32) string
	VocabSize() int
	// EOS ends a sequence; generation stops on it.
	EOS() int32
	// Fingerprint is the sha256 of what defines the tokenizer (its files),
	// recorded in every Arrow file scored with it.
	Fingerprint() string
}

// ByteTokenizer maps each byte of UTF-8 text to its own id (0–255), with
// one special token, EOS = 256. It needs no files and round-trips any
// text; the embedded task's models use it.
type ByteTokenizer struct{}

// ByteEOS is the byte tokenizer's end-of-sequence id.
const ByteEOS = 256

func (ByteTokenizer) Encode(text string) []int32 {
	ids := make([]int32, len(text))
	for i := 0; i < len(text); i++ {
		ids[i] = int32(text[i])
	}
	return ids
}

// Decode drops special ids; bytes that do not form UTF-8 stay as they are.
func (ByteTokenizer) Decode(ids []int32) string {
	b := make([]byte, 0, len(ids))
	for _, id := range ids {
		if id >= 0 && id < 256 {
			b = append(b, byte(id))
		}
	}
	return string(b)
}

func (ByteTokenizer) VocabSize() int { return 257 }
func (ByteTokenizer) EOS() int32     { return ByteEOS }

func (ByteTokenizer) Fingerprint() string {
	h := sha256.Sum256([]byte("srdpo byte tokenizer v1: ids 0-255 are bytes, 256 is EOS"))
	return hex.EncodeToString(h[:])
}
