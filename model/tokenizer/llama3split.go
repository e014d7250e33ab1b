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
	at := func(i int) (rune, int) {
		if i >= len(s) {
			return -1, 0
		}
		return utf8.DecodeRuneInString(s[i:])
	}
	run := func(i int, in func(rune) bool) int { return runWhile(s, i, in) }
	isLN := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }
	isOther := func(r rune) bool { return !unicode.IsSpace(r) && !isLN(r) }
	contractions := [][]rune{{'s'}, {'t'}, {'r', 'e'}, {'v', 'e'}, {'m'}, {'l', 'l'}, {'d'}}
	for i := 0; i < len(s); {
		end := -1
		r, n := at(i)
		// (?i:'s|'t|'re|'ve|'m|'ll|'d)
		if r == '\'' {
			for _, c := range contractions {
				j, ok := i+n, true
				for _, want := range c {
					got, m := at(j)
					if m == 0 || !foldsTo(got, want) {
						ok = false
						break
					}
					j += m
				}
				if ok {
					end = j
					break
				}
			}
		}
		// [^\r\n\p{L}\p{N}]?\p{L}+
		if end < 0 {
			if unicode.IsLetter(r) {
				end = run(i, unicode.IsLetter)
			} else if !isNewline(r) && !isLN(r) {
				if r2, _ := at(i + n); r2 >= 0 && unicode.IsLetter(r2) {
					end = run(i+n, unicode.IsLetter)
				}
			}
		}
		// \p{N}{1,digits}
		if end < 0 && unicode.IsNumber(r) {
			end = i
			for k := 0; k < digits; k++ {
				rr, m := at(end)
				if m == 0 || !unicode.IsNumber(rr) {
					break
				}
				end += m
			}
		}
		//  ?[^\s\p{L}\p{N}]+[\r\n]*
		if end < 0 {
			j := i
			if r == ' ' {
				j += n
			}
			if rr, _ := at(j); rr >= 0 && isOther(rr) {
				end = run(run(j, isOther), isNewline)
			}
		}
		if end < 0 { // white space
			j := run(i, unicode.IsSpace)
			lastNL := -1
			for k := i; k < j; {
				rr, m := utf8.DecodeRuneInString(s[k:])
				if isNewline(rr) {
					lastNL = k + m
				}
				k += m
			}
			if lastNL >= 0 { // \s*[\r\n]+
				end = lastNL
			} else {
				end = spaceRunEnd(s, i, j)
			}
		}
		out = append(out, span{i, end})
		i = end
	}
	return out
}
