package chattemplate

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The lexer follows jinja2's (lexer.py, Jinja2 3.1) under the settings
// transformers compiles chat templates with: trim_blocks and lstrip_blocks
// on, keep_trailing_newline off, newlines normalised to "\n".

type tokKind int

const (
	tokText   tokKind = iota // template data between tags
	tokBlock                 // {% … %}: its expression tokens follow, then tokEnd
	tokVar                   // {{ … }}
	tokEnd                   // the end of a tag
	tokName                  // identifiers and keywords
	tokString                // a string literal, unescaped
	tokInt
	tokFloat
	tokOp // operators and punctuation
	tokEOF
)

type token struct {
	kind tokKind
	val  string
	line int
}

func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of template"
	case tokEnd:
		return "end of tag"
	case tokText:
		return "template data"
	}
	return strconv.Quote(t.val)
}

// SyntaxError is a template that does not parse.
type SyntaxError struct {
	Line int
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("chat template line %d: %s", e.Line, e.Msg) }

// lex cuts a template into tokens.
func lex(src string) ([]token, error) {
	src = strings.ReplaceAll(strings.ReplaceAll(src, "\r\n", "\n"), "\r", "\n")
	src = strings.TrimSuffix(src, "\n") // keep_trailing_newline=False drops one
	l := &lexer{src: src, line: 1, lineStarting: true}
	for l.pos < len(l.src) {
		if err := l.next(); err != nil {
			return nil, err
		}
	}
	l.emit(tokEOF, "")
	return l.toks, nil
}

type lexer struct {
	src          string
	pos, line    int
	toks         []token
	lineStarting bool // the last tag's match ended in "\n" (jinja2's line_starting)
}

func (l *lexer) emit(k tokKind, v string) { l.toks = append(l.toks, token{k, v, l.line}) }

func (l *lexer) errorf(format string, args ...any) error {
	return &SyntaxError{Line: l.line, Msg: fmt.Sprintf(format, args...)}
}

// next reads the data up to the next tag, then the tag.
func (l *lexer) next() error {
	rest := l.src[l.pos:]
	i := indexTagStart(rest)
	if i < 0 {
		l.text(rest)
		l.pos = len(l.src)
		return nil
	}
	text, open := rest[:i], rest[i:i+2]
	sign := byte(0)
	if i+2 < len(rest) && (rest[i+2] == '-' || rest[i+2] == '+') {
		sign = rest[i+2]
	}
	switch {
	case sign == '-':
		text = strings.TrimRightFunc(text, unicode.IsSpace)
	case sign != '+' && open != "{{":
		// lstrip_blocks: only spaces and tabs between the line's start
		// and a block or comment tag go.
		lpos := strings.LastIndexByte(text, '\n') + 1
		if (lpos > 0 || l.lineStarting) && lpos < len(text) && strings.TrimLeft(text[lpos:], " \t") == "" {
			text = text[:lpos]
		}
	}
	l.text(text)
	l.line += strings.Count(rest[len(text):i], "\n")
	l.pos += i + 2
	if sign != 0 {
		l.pos++
	}
	switch open {
	case "{#":
		return l.comment()
	case "{{":
		l.emit(tokVar, "")
		return l.inside("}}")
	}
	if l.isRaw() {
		return l.raw()
	}
	l.emit(tokBlock, "")
	return l.inside("%}")
}

func (l *lexer) text(s string) {
	if s != "" {
		l.emit(tokText, s)
		l.line += strings.Count(s, "\n")
	}
}

// indexTagStart is where the next {{, {% or {# begins.
func indexTagStart(s string) int {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '{' && (s[i+1] == '{' || s[i+1] == '%' || s[i+1] == '#') {
			return i
		}
	}
	return -1
}

// closeTag consumes a tag's end at l.pos ("-%}", "+%}", "%}"), with the
// white space after it that "-" strips and the newline trim_blocks drops.
func (l *lexer) closeTag(end string) bool {
	rest := l.src[l.pos:]
	n, sign := 0, byte(0)
	if len(rest) > 0 && (rest[0] == '-' || rest[0] == '+') {
		sign, n = rest[0], 1
	}
	if !strings.HasPrefix(rest[n:], end) {
		return false
	}
	if sign == '+' && end == "}}" {
		return false // "+}}" is not an end
	}
	n += len(end)
	switch {
	case sign == '-':
		m := len(rest[n:]) - len(strings.TrimLeftFunc(rest[n:], unicode.IsSpace))
		l.line += strings.Count(rest[n:n+m], "\n")
		n += m
	case sign == 0 && end != "}}" && strings.HasPrefix(rest[n:], "\n"):
		n++ // trim_blocks
		l.line++
	}
	l.lineStarting = rest[n-1] == '\n'
	l.pos += n
	return true
}

func (l *lexer) comment() error {
	for l.pos < len(l.src) {
		if l.closeTag("#}") {
			return nil
		}
		if l.src[l.pos] == '\n' {
			l.line++
		}
		l.pos++
	}
	return l.errorf("missing end of comment tag")
}

// isRaw tells whether the block tag at l.pos is {% raw %}.
func (l *lexer) isRaw() bool {
	rest := strings.TrimLeft(l.src[l.pos:], " \t\n")
	if !strings.HasPrefix(rest, "raw") {
		return false
	}
	rest = strings.TrimLeft(rest[3:], " \t\n")
	return strings.HasPrefix(rest, "%}") || strings.HasPrefix(rest, "-%}")
}

// raw emits everything up to {% endraw %} as data. The raw tag's end
// takes "-" but not trim_blocks, as in jinja2.
func (l *lexer) raw() error {
	l.pos = len(l.src) - len(strings.TrimLeft(l.src[l.pos:], " \t\n"))
	l.pos += 3
	l.pos = len(l.src) - len(strings.TrimLeft(l.src[l.pos:], " \t\n"))
	if strings.HasPrefix(l.src[l.pos:], "-%}") {
		l.pos += 3
		l.pos = len(l.src) - len(strings.TrimLeftFunc(l.src[l.pos:], unicode.IsSpace))
	} else {
		l.pos += 2
	}
	for i := l.pos; i+1 < len(l.src); i++ {
		if l.src[i] != '{' || l.src[i+1] != '%' {
			continue
		}
		j, sign := i+2, byte(0)
		if j < len(l.src) && (l.src[j] == '-' || l.src[j] == '+') {
			sign = l.src[j]
			j++
		}
		k := len(l.src) - len(strings.TrimLeft(l.src[j:], " \t\n"))
		if !strings.HasPrefix(l.src[k:], "endraw") {
			continue
		}
		k = len(l.src) - len(strings.TrimLeft(l.src[k+6:], " \t\n"))
		body := l.src[l.pos:i]
		if sign == '-' {
			body = strings.TrimRightFunc(body, unicode.IsSpace)
		}
		l.text(body)
		l.pos = k
		if !l.closeTag("%}") {
			return l.errorf("missing end of endraw tag")
		}
		return nil
	}
	return l.errorf("missing {%% endraw %%}")
}

// operators, longest first.
var operators = []string{"//", "**", "==", "!=", "<=", ">=", "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}",
	"<", ">", "=", ".", ":", "|", ",", ";"}

// inside reads the expression tokens of a tag up to its end.
func (l *lexer) inside(end string) error {
	depth := 0
	for {
		for l.pos < len(l.src) && (l.src[l.pos] == ' ' || l.src[l.pos] == '\t' || l.src[l.pos] == '\n') {
			if l.src[l.pos] == '\n' {
				l.line++
			}
			l.pos++
		}
		if l.pos >= len(l.src) {
			return l.errorf("missing end of tag %q", end)
		}
		if depth == 0 && l.closeTag(end) {
			l.emit(tokEnd, "")
			return nil
		}
		c := l.src[l.pos]
		switch {
		case c == '\'' || c == '"':
			s, err := l.stringLit(c)
			if err != nil {
				return err
			}
			l.emit(tokString, s)
		case c >= '0' && c <= '9':
			l.numberLit()
		case c == '_' || c < utf8.RuneSelf && unicode.IsLetter(rune(c)):
			j := l.pos
			for j < len(l.src) && (l.src[j] == '_' || l.src[j] < utf8.RuneSelf && (unicode.IsLetter(rune(l.src[j])) || unicode.IsDigit(rune(l.src[j])))) {
				j++
			}
			l.emit(tokName, l.src[l.pos:j])
			l.pos = j
		default:
			op := ""
			for _, o := range operators {
				if strings.HasPrefix(l.src[l.pos:], o) {
					op = o
					break
				}
			}
			if op == "" {
				r, _ := utf8.DecodeRuneInString(l.src[l.pos:])
				return l.errorf("unexpected character %q", r)
			}
			switch op {
			case "(", "[", "{":
				depth++
			case ")", "]", "}":
				depth--
				if depth < 0 {
					return l.errorf("unexpected %q", op)
				}
			}
			l.emit(tokOp, op)
			l.pos += len(op)
		}
	}
}

func (l *lexer) numberLit() {
	j := l.pos
	digits := func() {
		for j < len(l.src) && (l.src[j] >= '0' && l.src[j] <= '9' || l.src[j] == '_') {
			j++
		}
	}
	digits()
	kind := tokInt
	if j+1 < len(l.src) && l.src[j] == '.' && l.src[j+1] >= '0' && l.src[j+1] <= '9' {
		kind = tokFloat
		j++
		digits()
	}
	if j < len(l.src) && (l.src[j] == 'e' || l.src[j] == 'E') {
		k := j + 1
		if k < len(l.src) && (l.src[k] == '+' || l.src[k] == '-') {
			k++
		}
		if k < len(l.src) && l.src[k] >= '0' && l.src[k] <= '9' {
			kind = tokFloat
			j = k
			digits()
		}
	}
	l.emit(kind, strings.ReplaceAll(l.src[l.pos:j], "_", ""))
	l.pos = j
}

// stringLit reads a quoted string and decodes Python's escapes, as jinja2
// does with "unicode-escape".
func (l *lexer) stringLit(q byte) (string, error) {
	var b strings.Builder
	i := l.pos + 1
	for i < len(l.src) {
		c := l.src[i]
		switch {
		case c == q:
			l.pos = i + 1
			return b.String(), nil
		case c == '\\' && i+1 < len(l.src):
			n, err := unescape(&b, l.src[i+1:])
			if err != nil {
				return "", l.errorf("%v", err)
			}
			i += 1 + n
		default:
			if c == '\n' {
				l.line++
			}
			b.WriteByte(c)
			i++
		}
	}
	return "", l.errorf("unterminated string")
}

// unescape decodes the escape after a backslash; it returns the bytes used.
func unescape(b *strings.Builder, s string) (int, error) {
	simple := map[byte]string{'\\': "\\", '\'': "'", '"': "\"", 'a': "\a", 'b': "\b", 'f': "\f", 'n': "\n", 'r': "\r", 't': "\t", 'v': "\v", '\n': ""}
	c := s[0]
	if r, ok := simple[c]; ok {
		b.WriteString(r)
		return 1, nil
	}
	hex := map[byte]int{'x': 2, 'u': 4, 'U': 8}
	if n, ok := hex[c]; ok {
		if len(s) < 1+n {
			return 0, fmt.Errorf("truncated \\%c escape", c)
		}
		v, err := strconv.ParseUint(s[1:1+n], 16, 32)
		if err != nil || v > unicode.MaxRune {
			return 0, fmt.Errorf("bad \\%c escape", c)
		}
		b.WriteRune(rune(v))
		return 1 + n, nil
	}
	if c >= '0' && c <= '7' {
		n := 1
		for n < 3 && n < len(s) && s[n] >= '0' && s[n] <= '7' {
			n++
		}
		v, _ := strconv.ParseUint(s[:n], 8, 32)
		b.WriteRune(rune(v))
		return n, nil
	}
	b.WriteByte('\\') // Python keeps unknown escapes as they are
	return 0, nil
}
