package tokenizer

import (
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
