package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites a piece of text before pre-tokenisation (HF's
// normalizers; offsets are not tracked, so only the text is kept).
type normalizer interface {
	normalize(s string, until time.Time) (string, error)
}

type unicodeNorm struct{ form norm.Form }

const formNFC = norm.NFC

func (n unicodeNorm) normalize(s string, _ time.Time) (string, error) { return n.form.String(s), nil }

// prepend adds its text in front of a non-empty piece.
type prepend struct{ text string }

func (n prepend) normalize(s string, _ time.Time) (string, error) {
	if s == "" {
		return s, nil
	}
	return n.text + s, nil
}

// replace rewrites every match of a pattern with content.
type replace struct {
	pattern *pattern
	content string
}

func (n replace) normalize(s string, until time.Time) (string, error) {
	if n.pattern.literal {
		return strings.ReplaceAll(s, n.pattern.source, n.content), nil
	}
	matches, err := n.pattern.find(s, until)
	if err != nil || len(matches) == 0 {
		return s, err
	}
	var b strings.Builder
	prev := 0
	for _, m := range matches {
		b.WriteString(s[prev:m.start])
		b.WriteString(n.content)
		prev = m.end
	}
	b.WriteString(s[prev:])
	return b.String(), nil
}

// strip removes white space at the left and/or right (Rust's
// char::is_whitespace, the Unicode White_Space property).
type strip struct{ left, right bool }

func (n strip) normalize(s string, _ time.Time) (string, error) {
	if n.left {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
	}
	if n.right {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
	}
	return s, nil
}

type normalizerSequence []normalizer

func (seq normalizerSequence) normalize(s string, until time.Time) (string, error) {
	var err error
	for _, n := range seq {
		if s, err = n.normalize(s, until); err != nil {
			return "", err
		}
	}
	return s, nil
}

// patternJSON is HF's pattern object: {"String": "…"} or {"Regex": "…"}.
type patternJSON struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

func (pj patternJSON) compile() (*pattern, error) {
	switch {
	case pj.String != nil:
		return newLiteralPattern(*pj.String), nil
	case pj.Regex != nil:
		return newRegexPattern(*pj.Regex)
	}
	return nil, fmt.Errorf("pattern has neither String nor Regex")
}

func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	var n struct {
		Type        string            `json:"type"`
		Normalizers []json.RawMessage `json:"normalizers"`
		Prepend     string            `json:"prepend"`
		Pattern     patternJSON       `json:"pattern"`
		Content     string            `json:"content"`
		Left        bool              `json:"strip_left"`
		Right       bool              `json:"strip_right"`
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, fmt.Errorf("normalizer: %w", err)
	}
	switch n.Type {
	case "NFC":
		return unicodeNorm{formNFC}, nil
	case "NFD":
		return unicodeNorm{norm.NFD}, nil
	case "NFKC":
		return unicodeNorm{norm.NFKC}, nil
	case "NFKD":
		return unicodeNorm{norm.NFKD}, nil
	case "Prepend":
		return prepend{n.Prepend}, nil
	case "Replace":
		p, err := n.Pattern.compile()
		if err != nil {
			return nil, fmt.Errorf("normalizer Replace: %w", err)
		}
		return replace{p, n.Content}, nil
	case "Strip":
		return strip{n.Left, n.Right}, nil
	case "Sequence":
		seq, err := parseSequence("normalizer", n.Normalizers, parseNormalizer)
		return normalizerSequence(seq), err
	}
	return nil, fmt.Errorf("unsupported normalizer %q", n.Type)
}

func isNull(raw json.RawMessage) bool {
	s := strings.TrimSpace(string(raw))
	return s == "" || s == "null"
}
