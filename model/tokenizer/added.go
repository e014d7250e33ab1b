package tokenizer

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// addedToken is an entry of tokenizer.json's added_tokens.
type addedToken struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// matcher finds added tokens in text the way HF's AddedVocabulary does:
// leftmost-longest matches (Aho-Corasick in HF), then the single_word,
// lstrip and rstrip rules; a match that fails single_word is skipped and
// the search goes on after it.
type matcher struct {
	byFirst map[byte][]*addedToken // longest first
}

func newMatcher(tokens []*addedToken) *matcher {
	m := &matcher{byFirst: map[byte][]*addedToken{}}
	for _, t := range tokens {
		if t.Content == "" {
			continue
		}
		m.byFirst[t.Content[0]] = append(m.byFirst[t.Content[0]], t)
	}
	for _, ts := range m.byFirst {
		sort.SliceStable(ts, func(i, j int) bool { return len(ts[i].Content) > len(ts[j].Content) })
	}
	return m
}

func (m *matcher) empty() bool { return m == nil || len(m.byFirst) == 0 }

// split cuts p into added tokens and the text between them (HF's
// find_matches + split_with_indices). Pieces keep atStart for the first.
func (m *matcher) split(p piece) []piece {
	s := p.text
	if m.empty() || s == "" {
		return []piece{p}
	}
	var out []piece
	emit := func(start, end int, token int32) {
		if end > start || token >= 0 {
			out = append(out, piece{text: s[start:end], atStart: p.atStart && start == 0, token: token})
		}
	}
	startOffset := 0
	for i := 0; i < len(s); {
		t := m.longestAt(s, i)
		if t == nil {
			i++
			continue
		}
		start, stop := i, i+len(t.Content)
		i = stop
		if t.SingleWord {
			startSpace := start == 0 || !endsWithWord(s[:start])
			stopSpace := stop == len(s) || !startsWithWord(s[stop:])
			if !startSpace || !stopSpace {
				continue
			}
		}
		if t.LStrip {
			start = max(len(strings.TrimRightFunc(s[:start], unicode.IsSpace)), startOffset)
		}
		if t.RStrip {
			// The search goes on from the match's own end, as HF's does.
			stop = len(s) - len(strings.TrimLeftFunc(s[stop:], unicode.IsSpace))
		}
		emit(startOffset, start, -1)
		emit(start, stop, t.ID)
		startOffset = stop
	}
	emit(startOffset, len(s), -1)
	return out
}

func (m *matcher) longestAt(s string, i int) *addedToken {
	for _, t := range m.byFirst[s[i]] {
		if strings.HasPrefix(s[i:], t.Content) {
			return t
		}
	}
	return nil
}

// isWord is the regex class \w of Rust's regex crate: alphabetic,
// marks, decimal digits, connector punctuation and joiners.
func isWord(r rune) bool {
	return unicode.IsLetter(r) || unicode.In(r, unicode.M, unicode.Nd, unicode.Pc, unicode.Other_Alphabetic, unicode.Join_Control) || unicode.Is(unicode.Nl, r)
}

func endsWithWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return s != "" && isWord(r)
}

func startsWithWord(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return s != "" && isWord(r)
}
