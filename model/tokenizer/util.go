package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

func indexFrom(s, sub string, from int) int {
	j := strings.Index(s[from:], sub)
	if j < 0 {
		return -1
	}
	return from + j
}

func runeLen(r rune) int {
	if n := utf8.RuneLen(r); n > 0 {
		return n
	}
	return 3 // U+FFFD, which is what an invalid rune becomes
}

func joinSpace(s []string) string { return strings.Join(s, " ") }
func joinEmpty(s []string) string { return strings.Join(s, "") }

// parseSequence parses the members of a Sequence part; null members are
// left out.
func parseSequence[T comparable](what string, raws []json.RawMessage, parse func(json.RawMessage) (T, error)) ([]T, error) {
	var seq []T
	var none T
	for i, r := range raws {
		sub, err := parse(r)
		if err != nil {
			return nil, fmt.Errorf("%s Sequence[%d]: %w", what, i, err)
		}
		if sub != none {
			seq = append(seq, sub)
		}
	}
	return seq, nil
}

// runWhile is the end of the run of runes from s[i:] that are in a class.
func runWhile(s string, i int, in func(rune) bool) int {
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !in(r) {
			break
		}
		i += n
	}
	return i
}
