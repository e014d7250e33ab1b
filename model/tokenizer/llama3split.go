package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// The Split pattern of Llama 3 (digits in groups of up to three) and of
// Qwen2/Qwen3 (single digits): one family of patterns that llama3Split
// matches without a regex engine.
const (
	llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	qwen2Pattern  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// fastSplits are the patterns with a hand-written matcher: the same spans
// as the regex (tested on random text), several times faster.
var fastSplits = map[string]func(string) []span{
	gpt2Pattern:   gpt2Split,
	llama3Pattern: func(s string) []span { return llama3Split(s, 3) },
	qwen2Pattern:  func(s string) []span { return llama3Split(s, 1) },
}

func isNewline(r rune) bool { return r == '\r' || r == '\n' }

// foldsTo tells whether r matches the lower-case ASCII letter c under
// (?i:…), as regexp2 folds it: c or its upper case.
func foldsTo(r, c rune) bool { return r == c || r == c-'a'+'A' }

// llama3Split tries the pattern's alternatives in order at each position,
// as the regex engine does; digits is the longest digit group.
func llama3Split(s string, digits int) []span {
	out := make([]span, 0, len(s)/4)
	for i := 0; i < len(s); {
		end := contractionEnd(s, i)
		if end < 0 {
			end = lettersEnd(s, i)
		}
		if end < 0 {
			end = digitsEnd(s, i, digits)
		}
		if end < 0 {
			end = punctuationEnd(s, i)
		}
		if end < 0 {
			end = llama3SpaceEnd(s, i)
		}
		out = append(out, span{i, end})
		i = end
	}
	return out
}

// runeAt decodes the rune at i; past the end it is -1 of width 0.
func runeAt(s string, i int) (rune, int) {
	if i >= len(s) {
		return -1, 0
	}
	return utf8.DecodeRuneInString(s[i:])
}

func isLetterOrNumber(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }

func isOtherThanSpaceLetterNumber(r rune) bool { return !unicode.IsSpace(r) && !isLetterOrNumber(r) }

// contractions are the suffixes of (?i:'s|'t|'re|'ve|'m|'ll|'d), in order.
var contractions = [][]rune{{'s'}, {'t'}, {'r', 'e'}, {'v', 'e'}, {'m'}, {'l', 'l'}, {'d'}}

// contractionEnd matches (?i:'s|'t|'re|'ve|'m|'ll|'d) at i, or is -1.
func contractionEnd(s string, i int) int {
	r, n := runeAt(s, i)
	if r != '\'' {
		return -1
	}
	for _, c := range contractions {
		j, ok := i+n, true
		for _, want := range c {
			got, m := runeAt(s, j)
			if m == 0 || !foldsTo(got, want) {
				ok = false
				break
			}
			j += m
		}
		if ok {
			return j
		}
	}
	return -1
}

// lettersEnd matches [^\r\n\p{L}\p{N}]?\p{L}+ at i, or is -1.
func lettersEnd(s string, i int) int {
	r, n := runeAt(s, i)
	if unicode.IsLetter(r) {
		return runWhile(s, i, unicode.IsLetter)
	}
	if isNewline(r) || isLetterOrNumber(r) {
		return -1
	}
	if r2, _ := runeAt(s, i+n); r2 >= 0 && unicode.IsLetter(r2) {
		return runWhile(s, i+n, unicode.IsLetter)
	}
	return -1
}

// digitsEnd matches \p{N}{1,digits} at i, or is -1.
func digitsEnd(s string, i, digits int) int {
	if r, _ := runeAt(s, i); !unicode.IsNumber(r) {
		return -1
	}
	end := i
	for k := 0; k < digits; k++ {
		r, m := runeAt(s, end)
		if m == 0 || !unicode.IsNumber(r) {
			break
		}
		end += m
	}
	return end
}

// punctuationEnd matches  ?[^\s\p{L}\p{N}]+[\r\n]* at i, or is -1.
func punctuationEnd(s string, i int) int {
	j := i
	if r, n := runeAt(s, i); r == ' ' {
		j += n
	}
	if r, _ := runeAt(s, j); r < 0 || !isOtherThanSpaceLetterNumber(r) {
		return -1
	}
	return runWhile(s, runWhile(s, j, isOtherThanSpaceLetterNumber), isNewline)
}

// llama3SpaceEnd matches the white-space alternatives at i: \s*[\r\n]+,
// then \s+(?!\S), then \s+.
func llama3SpaceEnd(s string, i int) int {
	j := runWhile(s, i, unicode.IsSpace)
	lastNL := -1
	for k := i; k < j; {
		r, m := utf8.DecodeRuneInString(s[k:])
		if isNewline(r) {
			lastNL = k + m
		}
		k += m
	}
	if lastNL >= 0 {
		return lastNL
	}
	return spaceRunEnd(s, i, j)
}
