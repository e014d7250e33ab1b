package tokenizer

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dlclark/regexp2"
)

// DefaultEncodeBudget bounds the regular-expression work of one Encode
// (one record's text). A tokenizer.json regex that backtracks
// catastrophically on some input then fails that record with an error,
// which scoring dead-letters, instead of stalling the worker. The
// patterns of real tokenizers take milliseconds on a 1 MiB record.
const DefaultEncodeBudget = 10 * time.Second

// ErrBudget is wrapped by the error of an Encode that ran out of its
// time budget.
var ErrBudget = errors.New("the tokenizer's regular expressions ran past the time budget of one text")

// pattern finds the spans a Split, Replace or the ByteLevel
// pre-tokenizer works on. HF's tokenizers use Oniguruma; the patterns in
// tokenizer.json files use look-ahead, (?i:…) and \p{…} classes, which
// regexp2 (.NET syntax) reads the same way. A String pattern is literal.
type pattern struct {
	source  string
	literal bool
	re      *sync.Pool          // of *regexp2.Regexp: each match sets its own timeout
	fast    func(string) []span // a hand-written matcher of the same pattern, or nil
}

func newRegexPattern(src string) (*pattern, error) {
	if _, err := regexp2.Compile(src, regexp2.None); err != nil {
		return nil, fmt.Errorf("regex %q: %w", src, err)
	}
	pool := &sync.Pool{New: func() any { return regexp2.MustCompile(src, regexp2.None) }}
	return &pattern{source: src, re: pool, fast: fastSplits[src]}, nil
}

func newLiteralPattern(s string) *pattern { return &pattern{source: s, literal: true} }

// span is a half-open range of byte offsets.
type span struct{ start, end int }

// find returns the non-overlapping, non-empty matches in s, left to right,
// as byte offsets. Matching stops at until, the budget of the text being
// encoded, give or take the regexp2 clock's granularity (about 100 ms).
func (p *pattern) find(s string, until time.Time) ([]span, error) {
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
	re := p.re.Get().(*regexp2.Regexp)
	defer p.re.Put(re)
	// Each match may use what is left of the text's budget.
	remaining := func() time.Duration { return max(time.Until(until), time.Millisecond) }
	re.MatchTimeout = remaining()
	m, err := re.FindRunesMatch(runes)
	for m != nil && err == nil {
		if m.Length > 0 {
			out = append(out, span{offs[m.Index], offs[m.Index+m.Length]})
		}
		re.MatchTimeout = remaining()
		m, err = re.FindNextMatch(m)
	}
	if err != nil && !time.Now().Before(until) {
		// regexp2's timeout error holds the whole input: the excerpt is enough.
		err = ErrBudget
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
