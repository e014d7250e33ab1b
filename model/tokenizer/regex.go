package tokenizer

import (
	"fmt"
	"time"

	"github.com/dlclark/regexp2"
)

// matchTimeout bounds one regex match, so that a pattern that backtracks
// badly on some input fails with an error instead of hanging a worker.
const matchTimeout = 30 * time.Second

// pattern finds the spans a Split, Replace or the ByteLevel
// pre-tokenizer works on. HF's tokenizers use Oniguruma; the patterns in
// tokenizer.json files use look-ahead, (?i:…) and \p{…} classes, which
// regexp2 (.NET syntax) reads the same way. A String pattern is literal.
type pattern struct {
	source  string
	literal bool
	re      *regexp2.Regexp
	fast    func(string) []span // a hand-written matcher of the same pattern, or nil
}

func newRegexPattern(src string) (*pattern, error) {
	re, err := regexp2.Compile(src, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", src, err)
	}
	re.MatchTimeout = matchTimeout
	return &pattern{source: src, re: re, fast: fastSplits[src]}, nil
}

func newLiteralPattern(s string) *pattern { return &pattern{source: s, literal: true} }

// span is a half-open range of byte offsets.
type span struct{ start, end int }

// find returns the non-overlapping, non-empty matches in s, left to right,
// as byte offsets.
func (p *pattern) find(s string) ([]span, error) {
	var out []span
	if p.literal {
		if p.source == "" {
			return nil, nil
		}
		for i := 0; i+len(p.source) <= len(s); {
			j := indexFrom(s, p.source, i)
			if j < 0 {
				break
			}
			out = append(out, span{j, j + len(p.source)})
			i = j + len(p.source)
		}
		return out, nil
	}
	if p.fast != nil {
		return p.fast(s), nil
	}
	runes := []rune(s)
	// Byte offset of each rune index, for converting regexp2's rune spans.
	offs := make([]int, len(runes)+1)
	o := 0
	for i, r := range runes {
		offs[i] = o
		o += runeLen(r)
	}
	offs[len(runes)] = o
	m, err := p.re.FindRunesMatch(runes)
	for ; m != nil && err == nil; m, err = p.re.FindNextMatch(m) {
		if m.Length == 0 {
			continue
		}
		out = append(out, span{offs[m.Index], offs[m.Index+m.Length]})
	}
	if err != nil {
		return nil, fmt.Errorf("regex %q on %q: %w", p.source, clip(s), err)
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
