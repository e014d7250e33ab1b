package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// preTokenizer cuts a piece into the words the model encodes one by one.
type preTokenizer interface {
	split(p piece, until time.Time) ([]piece, error)
}

// gpt2Pattern is the pattern ByteLevel splits with when use_regex is set.
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// byteToRune and runeToByte are GPT-2's bytes_to_unicode: printable bytes
// keep their character, the others move to 256 and up, in byte order.
var byteToRune, runeToByte = func() ([256]rune, map[rune]byte) {
	var b2r [256]rune
	r2b := map[rune]byte{}
	n := 0
	for b := 0; b < 256; b++ {
		if ('!' <= b && b <= '~') || (0xA1 <= b && b <= 0xAC) || (0xAE <= b && b <= 0xFF) {
			b2r[b] = rune(b)
		} else {
			b2r[b] = rune(256 + n)
			n++
		}
		r2b[b2r[b]] = byte(b)
	}
	return b2r, r2b
}()

// byteLevelText maps each byte of s to its printable character.
func byteLevelText(s string) string {
	var b strings.Builder
	b.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		b.WriteRune(byteToRune[s[i]])
	}
	return b.String()
}

// byteLevel is HF's ByteLevel pre-tokenizer: an optional leading space,
// GPT-2's split, then bytes to printable characters.
type byteLevel struct {
	addPrefixSpace bool
	re             *pattern // nil without use_regex
}

func (bl byteLevel) split(p piece, until time.Time) ([]piece, error) {
	if bl.addPrefixSpace && !strings.HasPrefix(p.text, " ") {
		p.text = " " + p.text
	}
	parts := []piece{p}
	if bl.re != nil {
		matches, err := bl.re.find(p.text, until)
		if err != nil {
			return nil, err
		}
		parts = splitPiece(p, matches, false, isolated)
	}
	for i := range parts {
		parts[i].text = byteLevelText(parts[i].text)
	}
	return parts, nil
}

// splitPattern is HF's Split pre-tokenizer.
type splitPattern struct {
	pattern  *pattern
	behavior behavior
	invert   bool
}

func (sp splitPattern) split(p piece, until time.Time) ([]piece, error) {
	matches, err := sp.pattern.find(p.text, until)
	if err != nil {
		return nil, err
	}
	return splitPiece(p, matches, sp.invert, sp.behavior), nil
}

// runeClass splits at every rune of a class (Digits, WhitespaceSplit).
type runeClass struct {
	in       func(rune) bool
	behavior behavior
}

func (rc runeClass) split(p piece, _ time.Time) ([]piece, error) {
	return splitPiece(p, runeMatches(p.text, rc.in), false, rc.behavior), nil
}

func runeMatches(s string, in func(rune) bool) []span {
	var out []span
	for i, r := range s {
		if in(r) {
			out = append(out, span{i, i + utf8.RuneLen(r)})
		}
	}
	return out
}

// Prepend schemes of Metaspace.
const (
	prependAlways = "always"
	prependFirst  = "first"
	prependNever  = "never"
)

// metaspace is HF's Metaspace pre-tokenizer: spaces become the
// replacement character, which is prepended per the scheme, then the
// piece is split before each replacement.
type metaspace struct {
	replacement string
	scheme      string
	split_      bool
}

func (m metaspace) split(p piece, _ time.Time) ([]piece, error) {
	p.text = strings.ReplaceAll(p.text, " ", m.replacement)
	if !strings.HasPrefix(p.text, m.replacement) &&
		(m.scheme == prependAlways || (m.scheme == prependFirst && p.atStart)) {
		p.text = m.replacement + p.text
	}
	if !m.split_ {
		return []piece{p}, nil
	}
	r, _ := utf8.DecodeRuneInString(m.replacement)
	return splitPiece(p, runeMatches(p.text, func(c rune) bool { return c == r }), false, mergedWithNext), nil
}

type preTokenizerSequence []preTokenizer

func (seq preTokenizerSequence) split(p piece, until time.Time) ([]piece, error) {
	parts := []piece{p}
	for _, pt := range seq {
		var next []piece
		for _, q := range parts {
			sub, err := pt.split(q, until)
			if err != nil {
				return nil, err
			}
			next = append(next, sub...)
		}
		parts = next
	}
	return parts, nil
}

// metaspaceScheme reads prepend_scheme, or the older add_prefix_space.
func metaspaceScheme(scheme *string, addPrefixSpace *bool) (string, error) {
	if scheme != nil {
		switch *scheme {
		case prependAlways, prependFirst, prependNever:
			return *scheme, nil
		}
		return "", fmt.Errorf("unsupported Metaspace prepend_scheme %q", *scheme)
	}
	if addPrefixSpace != nil && !*addPrefixSpace {
		return prependNever, nil
	}
	return prependAlways, nil
}

type metaspaceJSON struct {
	Replacement    string  `json:"replacement"`
	PrependScheme  *string `json:"prepend_scheme"`
	AddPrefixSpace *bool   `json:"add_prefix_space"`
	Split          *bool   `json:"split"`
}

func parsePreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	var pt struct {
		Type             string            `json:"type"`
		Pretokenizers    []json.RawMessage `json:"pretokenizers"`
		AddPrefixSpace   bool              `json:"add_prefix_space"`
		UseRegex         *bool             `json:"use_regex"`
		Pattern          patternJSON       `json:"pattern"`
		Behavior         string            `json:"behavior"`
		Invert           bool              `json:"invert"`
		IndividualDigits bool              `json:"individual_digits"`
	}
	if err := json.Unmarshal(raw, &pt); err != nil {
		return nil, fmt.Errorf("pre_tokenizer: %w", err)
	}
	switch pt.Type {
	case "ByteLevel":
		bl := byteLevel{addPrefixSpace: pt.AddPrefixSpace}
		if pt.UseRegex == nil || *pt.UseRegex {
			re, err := newRegexPattern(gpt2Pattern)
			if err != nil {
				return nil, err
			}
			bl.re = re
		}
		return bl, nil
	case "Split":
		p, err := pt.Pattern.compile()
		if err != nil {
			return nil, fmt.Errorf("pre_tokenizer Split: %w", err)
		}
		b, err := parseBehavior(pt.Behavior)
		if err != nil {
			return nil, fmt.Errorf("pre_tokenizer Split: %w", err)
		}
		return splitPattern{p, b, pt.Invert}, nil
	case "Digits":
		b := contiguous
		if pt.IndividualDigits {
			b = isolated
		}
		return runeClass{unicode.IsNumber, b}, nil
	case "WhitespaceSplit":
		return runeClass{unicode.IsSpace, removed}, nil
	case "Whitespace":
		p, err := newRegexPattern(`\w+|[^\w\s]+`)
		if err != nil {
			return nil, err
		}
		return splitPattern{p, removed, true}, nil
	case "Metaspace":
		var m metaspaceJSON
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("pre_tokenizer Metaspace: %w", err)
		}
		return newMetaspace(m)
	case "Sequence":
		seq, err := parseSequence("pre_tokenizer", pt.Pretokenizers, parsePreTokenizer)
		return preTokenizerSequence(seq), err
	}
	return nil, fmt.Errorf("unsupported pre_tokenizer %q", pt.Type)
}

func newMetaspace(m metaspaceJSON) (metaspace, error) {
	if utf8.RuneCountInString(m.Replacement) != 1 {
		return metaspace{}, fmt.Errorf("pre-tokenizer Metaspace: replacement %q is not one character", m.Replacement)
	}
	scheme, err := metaspaceScheme(m.PrependScheme, m.AddPrefixSpace)
	if err != nil {
		return metaspace{}, err
	}
	return metaspace{replacement: m.Replacement, scheme: scheme, split_: m.Split == nil || *m.Split}, nil
}
