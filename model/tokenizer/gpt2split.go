package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// gpt2Split finds the matches of gpt2Pattern in s without a regex engine:
// the alternatives are tried in order at each position, as the engine
// would.
func gpt2Split(s string) []span {
	out := make([]span, 0, len(s)/4)
	isOther := func(r rune) bool { return !unicode.IsSpace(r) && !unicode.IsLetter(r) && !unicode.IsNumber(r) }
	at := func(i int) rune { r, _ := utf8.DecodeRuneInString(s[i:]); return r }
	run := func(i int, in func(rune) bool) int { return runWhile(s, i, in) }
	for i := 0; i < len(s); {
		end := -1
		if s[i] == '\'' {
			for _, c := range []string{"s", "t", "re", "ve", "m", "ll", "d"} {
				if strings.HasPrefix(s[i+1:], c) {
					end = i + 1 + len(c)
					break
				}
			}
		}
		if end < 0 {
			start := i
			if s[i] == ' ' && i+1 < len(s) {
				start = i + 1
			}
			r := at(start)
			for _, class := range []func(rune) bool{unicode.IsLetter, unicode.IsNumber, isOther} {
				if class(r) {
					end = run(start, class)
					break
				}
			}
		}
		if end < 0 {
			end = spaceRunEnd(s, i, run(i, unicode.IsSpace))
		}
		out = append(out, span{i, end})
		i = end
	}
	return out
}

// spaceRunEnd is where `\s+(?!\S)|\s+` ends on the white space s[i:j]
// (j the run's end): the whole run at the end of s or before more
// white space, else all but its last character when it has more than one.
func spaceRunEnd(s string, i, j int) int {
	_, last := utf8.DecodeLastRuneInString(s[i:j])
	if j < len(s) && j-i > last {
		return j - last
	}
	return j
}
