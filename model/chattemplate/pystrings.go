package chattemplate

import (
	"strings"
	"unicode"
)

// jinjaTitle is jinja2's do_title: words start after "-", white space and
// opening brackets.
func jinjaTitle(s string) string {
	var b strings.Builder
	start := true
	for _, c := range s {
		if strings.ContainsRune("-({[<", c) || unicode.IsSpace(c) {
			b.WriteRune(c)
			start = true
			continue
		}
		if start {
			b.WriteString(strings.ToUpper(string(c)))
		} else {
			b.WriteString(strings.ToLower(string(c)))
		}
		start = false
	}
	return b.String()
}

func capitalize(s string) string {
	rs := []rune(s)
	if len(rs) == 0 {
		return s
	}
	return strings.ToUpper(string(rs[0])) + strings.ToLower(string(rs[1:]))
}

// pyIsSpace is Python's str.isspace for one character.
func pyIsSpace(c rune) bool {
	return unicode.IsSpace(c) || c >= 0x1c && c <= 0x1f
}

// pyStrip is Python's str.strip / lstrip / rstrip.
func pyStrip(s string, args []any, left, right bool) (any, error) {
	cut := pyIsSpace
	if len(args) > 0 && args[0] != nil {
		chars, ok := args[0].(string)
		if !ok {
			return nil, failf("strip arg must be None or str")
		}
		cut = func(c rune) bool { return strings.ContainsRune(chars, c) }
	}
	if left {
		s = strings.TrimLeftFunc(s, cut)
	}
	if right {
		s = strings.TrimRightFunc(s, cut)
	}
	return s, nil
}

func strPredicate(s, name string) bool {
	if s == "" {
		return false
	}
	switch name {
	case "isupper", "islower":
		cased := false
		for _, c := range s {
			if unicode.IsUpper(c) || unicode.IsLower(c) || unicode.IsTitle(c) {
				cased = true
				if name == "isupper" && !unicode.IsUpper(c) || name == "islower" && !unicode.IsLower(c) {
					return false
				}
			}
		}
		return cased
	}
	for _, c := range s {
		ok := map[string]bool{"isdigit": unicode.IsDigit(c), "isalpha": unicode.IsLetter(c),
			"isalnum": unicode.IsLetter(c) || unicode.IsDigit(c) || unicode.IsNumber(c), "isspace": pyIsSpace(c)}[name]
		if !ok {
			return false
		}
	}
	return true
}

// pyTitle is Python's str.title: a letter after a non-letter is upper-cased.
func pyTitle(s string) string {
	var b strings.Builder
	prevCased := false
	for _, c := range s {
		if prevCased {
			b.WriteString(strings.ToLower(string(c)))
		} else {
			b.WriteString(strings.ToTitle(string(c)))
		}
		prevCased = unicode.IsLetter(c)
	}
	return b.String()
}

// pySplit is Python's str.split / rsplit.
func pySplit(s string, sep any, n int64, fromRight bool) (any, error) {
	var parts []string
	switch sp := sep.(type) {
	case nil:
		fields := strings.FieldsFunc(s, pyIsSpace)
		if n >= 0 && int64(len(fields)) > n+1 {
			// Python keeps the rest of the text after maxsplit splits, from
			// the first field's start, trailing white space removed.
			if fromRight {
				rest := strings.TrimRightFunc(s, pyIsSpace)
				for i := int64(0); i < n; i++ {
					j := strings.LastIndexFunc(rest, pyIsSpace)
					parts = append([]string{rest[j+1:]}, parts...)
					rest = strings.TrimRightFunc(rest[:j+1], pyIsSpace)
				}
				parts = append([]string{rest}, parts...)
			} else {
				rest := strings.TrimLeftFunc(s, pyIsSpace)
				for i := int64(0); i < n; i++ {
					j := strings.IndexFunc(rest, pyIsSpace)
					parts = append(parts, rest[:j])
					rest = strings.TrimLeftFunc(rest[j:], pyIsSpace)
				}
				parts = append(parts, rest)
			}
		} else {
			parts = fields
		}
	case string:
		if sp == "" {
			return nil, failf("empty separator")
		}
		if fromRight && n >= 0 {
			all := strings.Split(s, sp)
			if int64(len(all)) > n+1 {
				head := strings.Join(all[:int64(len(all))-n], sp)
				parts = append([]string{head}, all[int64(len(all))-n:]...)
			} else {
				parts = all
			}
		} else {
			parts = strings.SplitN(s, sp, int(max(n+1, -1)))
			if n < 0 {
				parts = strings.Split(s, sp)
			}
		}
	default:
		return nil, failf("must be str or None, not %s", typeName(sep))
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}
