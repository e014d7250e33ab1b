package chattemplate

import (
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// The filters, tests, globals and Python methods real chat templates use,
// as jinja2 3.1 (filters.py, tests.py, defaults.py) and Python 3 define
// them, under transformers' ImmutableSandboxedEnvironment.

type filterFunc func(r *renderer, x any, args []any, kw *Dict) (any, error)

var filters map[string]filterFunc

var tests = map[string]func(x any, args []any) (bool, error){
	"defined":   func(x any, _ []any) (bool, error) { _, u := x.(Undefined); return !u, nil },
	"undefined": func(x any, _ []any) (bool, error) { _, u := x.(Undefined); return u, nil },
	"none":      func(x any, _ []any) (bool, error) { return x == nil, nil },
	"boolean":   func(x any, _ []any) (bool, error) { _, ok := x.(bool); return ok, nil },
	"true":      func(x any, _ []any) (bool, error) { return x == true, nil },
	"false":     func(x any, _ []any) (bool, error) { return x == false, nil },
	"integer":   func(x any, _ []any) (bool, error) { _, ok := x.(int64); return ok, nil },
	"float":     func(x any, _ []any) (bool, error) { _, ok := x.(float64); return ok, nil },
	"number":    func(x any, _ []any) (bool, error) { _, ok := number(x); return ok, nil },
	"string":    func(x any, _ []any) (bool, error) { _, ok := x.(string); return ok, nil },
	"mapping": func(x any, _ []any) (bool, error) {
		_, ok := x.(*Dict)
		return ok, nil
	},
	"iterable": func(x any, _ []any) (bool, error) {
		switch x.(type) {
		case string, []any, tuple, *Dict, Undefined:
			return true, nil
		}
		return false, nil
	},
	"sequence": func(x any, _ []any) (bool, error) {
		switch x.(type) {
		case string, []any, tuple, *Dict:
			return true, nil
		}
		return false, nil
	},
	"callable": func(x any, _ []any) (bool, error) {
		switch x.(type) {
		case builtinFunc, boundMethod, *Macro:
			return true, nil
		}
		return false, nil
	},
	"lower":  func(x any, _ []any) (bool, error) { s, ok := x.(string); return ok && strings.ToLower(s) == s, nil },
	"upper":  func(x any, _ []any) (bool, error) { s, ok := x.(string); return ok && strings.ToUpper(s) == s, nil },
	"odd":    func(x any, _ []any) (bool, error) { n, err := intArg(x); return n%2 != 0, err },
	"even":   func(x any, _ []any) (bool, error) { n, err := intArg(x); return n%2 == 0, err },
	"sameas": func(x any, a []any) (bool, error) { return len(a) == 1 && sameAs(x, a[0]), nil },
	"divisibleby": func(x any, a []any) (bool, error) {
		if len(a) != 1 {
			return false, failf("divisibleby takes one argument")
		}
		n, err := intArg(x)
		d, err2 := intArg(a[0])
		if err != nil || err2 != nil || d == 0 {
			return false, failf("divisibleby needs integers and a divisor other than 0")
		}
		return n%d == 0, nil
	},
	"in": func(x any, a []any) (bool, error) {
		if len(a) != 1 {
			return false, failf("in takes one argument")
		}
		return contains(a[0], x)
	},
}

func init() {
	for op, names := range map[string][]string{"==": {"eq", "equalto", "=="}, "!=": {"ne", "!="}, "<": {"lt", "lessthan", "<"},
		"<=": {"le", "<="}, ">": {"gt", "greaterthan", ">"}, ">=": {"ge", ">="}} {
		for _, n := range names {
			tests[n] = func(x any, a []any) (bool, error) {
				if len(a) != 1 {
					return false, failf("%s takes one argument", n)
				}
				return compareOp(op, x, a[0])
			}
		}
	}
	filters = map[string]filterFunc{
		"length": filterLength, "count": filterLength,
		"first": filterFirst, "last": filterLast, "join": filterJoin,
		"default": filterDefault, "d": filterDefault,
		"trim":       strFilter(func(s string, a []any) (any, error) { return pyStrip(s, a, true, true) }),
		"upper":      strFilter(func(s string, _ []any) (any, error) { return strings.ToUpper(s), nil }),
		"lower":      strFilter(func(s string, _ []any) (any, error) { return strings.ToLower(s), nil }),
		"title":      strFilter(func(s string, _ []any) (any, error) { return jinjaTitle(s), nil }),
		"capitalize": strFilter(func(s string, _ []any) (any, error) { return capitalize(s), nil }),
		"replace":    filterReplace,
		"tojson":     filterToJSON,
		"string":     func(_ *renderer, x any, _ []any, _ *Dict) (any, error) { return str(x), nil },
		"safe":       func(_ *renderer, x any, _ []any, _ *Dict) (any, error) { return x, nil },
		"list":       func(_ *renderer, x any, _ []any, _ *Dict) (any, error) { return iterate(x) },
		"items":      filterItems,
		"dictsort":   filterDictsort,
		"reverse":    filterReverse,
		"sort":       filterSort,
		"unique":     filterUnique,
		"map":        filterMap,
		"select":     selectFilter(false, false), "reject": selectFilter(true, false),
		"selectattr": selectFilter(false, true), "rejectattr": selectFilter(true, true),
		"int":    filterInt,
		"float":  filterFloat,
		"abs":    filterAbs,
		"round":  filterRound,
		"sum":    filterSum,
		"min":    func(r *renderer, x any, a []any, kw *Dict) (any, error) { return minMax(x, kw, -1) },
		"max":    func(r *renderer, x any, a []any, kw *Dict) (any, error) { return minMax(x, kw, 1) },
		"indent": filterIndent,
		"wordcount": strFilter(func(s string, _ []any) (any, error) {
			return int64(len(regexp.MustCompile(`\w+`).FindAllString(s, -1))), nil
		}),
		"escape": filterEscape, "e": filterEscape,
		"center": strFilter(func(s string, a []any) (any, error) {
			w := int64(80)
			if len(a) > 0 {
				w, _ = a[0].(int64)
			}
			n := int(w) - len([]rune(s))
			if n <= 0 {
				return s, nil
			}
			left := n / 2
			if n%2 == 1 && int(w)%2 == 1 {
				left++
			}
			return strings.Repeat(" ", left) + s + strings.Repeat(" ", n-left), nil
		}),
	}
}

// kwArg is argument i by position, else by name, else def.
func kwArg(args []any, kw *Dict, i int, name string, def any) any {
	if i < len(args) {
		return args[i]
	}
	if v, ok := kw.Get(name); ok {
		return v
	}
	return def
}

func intArg(x any) (int64, error) {
	if n, ok := asInt(x); ok {
		return n, nil
	}
	return 0, failf("expected an integer, got %s", typeName(x))
}

// sameAs is Python's "is": identity for containers, equal values of one
// type for scalars (CPython shares small ints and interned strings).
func sameAs(a, b any) bool {
	switch a.(type) {
	case nil, bool, int64, string, *Dict, *Namespace:
		return a == b
	}
	return false
}

func strFilter(f func(s string, args []any) (any, error)) filterFunc {
	return func(_ *renderer, x any, args []any, _ *Dict) (any, error) { return f(str(x), args) }
}

func length(x any) (int, error) {
	switch v := x.(type) {
	case string:
		return len([]rune(v)), nil
	case []any:
		return len(v), nil
	case tuple:
		return len(v), nil
	case *Dict:
		return v.Len(), nil
	case Undefined:
		return 0, nil
	case *Namespace:
		return v.attrs.Len(), nil
	}
	return 0, failf("object of type '%s' has no len()", typeName(x))
}

func filterLength(_ *renderer, x any, _ []any, _ *Dict) (any, error) {
	n, err := length(x)
	return int64(n), err
}

func filterFirst(_ *renderer, x any, _ []any, _ *Dict) (any, error) {
	items, err := iterate(x)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return Undefined{"No first item, sequence was empty."}, nil
	}
	return items[0], nil
}

func filterLast(_ *renderer, x any, _ []any, _ *Dict) (any, error) {
	items, err := iterate(x)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return Undefined{"No last item, sequence was empty."}, nil
	}
	return items[len(items)-1], nil
}

func filterJoin(r *renderer, x any, args []any, kw *Dict) (any, error) {
	items, err := iterate(x)
	if err != nil {
		return nil, err
	}
	sep := str(kwArg(args, kw, 0, "d", ""))
	attr := kwArg(args, kw, 1, "attribute", nil)
	var b strings.Builder
	for i, it := range items {
		if attr != nil {
			if it, err = attribute(it, attr); err != nil {
				return nil, err
			}
		}
		if i > 0 {
			b.WriteString(sep)
		}
		b.WriteString(str(it))
		if err := r.built(b.Len()); err != nil {
			return nil, err
		}
	}
	return b.String(), nil
}

// attribute is jinja2's make_attrgetter: "a.b.0" walks items and attributes.
func attribute(x, attr any) (any, error) {
	name, ok := attr.(string)
	if !ok {
		return getItem(x, attr)
	}
	for _, part := range strings.Split(name, ".") {
		var key any = part
		if n, err := strconv.ParseInt(part, 10, 64); err == nil {
			key = n
		}
		var err error
		if x, err = getItem(x, key); err != nil {
			return nil, err
		}
	}
	return x, nil
}

func filterDefault(_ *renderer, x any, args []any, kw *Dict) (any, error) {
	def := kwArg(args, kw, 0, "default_value", "")
	boolean := truth(kwArg(args, kw, 1, "boolean", false))
	if _, u := x.(Undefined); u || boolean && !truth(x) {
		return def, nil
	}
	return x, nil
}

func filterReplace(r *renderer, x any, args []any, kw *Dict) (any, error) {
	if len(args) < 2 {
		return nil, failf("replace needs the old and the new text")
	}
	n := int64(-1)
	if c := kwArg(args, kw, 2, "count", nil); c != nil {
		n, _ = c.(int64)
	}
	out := strings.Replace(str(x), str(args[0]), str(args[1]), int(n))
	return out, r.built(len(out))
}

func filterItems(_ *renderer, x any, _ []any, _ *Dict) (any, error) {
	switch d := x.(type) {
	case *Dict:
		return dictItems(d), nil
	case Undefined:
		return []any{}, nil
	}
	return nil, failf("Can only get item pairs from a mapping.")
}

func dictItems(d *Dict) []any {
	out := make([]any, d.Len())
	for i, k := range d.keys {
		out[i] = tuple{k, d.vals[k]}
	}
	return out
}

func filterDictsort(_ *renderer, x any, args []any, kw *Dict) (any, error) {
	d, ok := x.(*Dict)
	if !ok {
		return nil, failf("dictsort needs a mapping")
	}
	items := dictItems(d)
	byValue := str(kwArg(args, kw, 1, "by", "key")) == "value"
	col := 0
	if byValue {
		col = 1
	}
	var err error
	sort.SliceStable(items, func(i, j int) bool {
		c, e := compare(sortKey(items[i].(tuple)[col], false), sortKey(items[j].(tuple)[col], false))
		if e != nil {
			err = e
		}
		return c < 0
	})
	if truth(kwArg(args, kw, 2, "reverse", false)) {
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
	}
	return items, err
}

func filterReverse(_ *renderer, x any, _ []any, _ *Dict) (any, error) {
	if s, ok := x.(string); ok {
		rs := []rune(s)
		for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
			rs[i], rs[j] = rs[j], rs[i]
		}
		return string(rs), nil
	}
	items, err := iterate(x)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(items))
	for i, it := range items {
		out[len(items)-1-i] = it
	}
	return out, nil
}

// sortKey lowers strings unless case matters (jinja2's ignore_case).
func sortKey(x any, caseSensitive bool) any {
	if s, ok := x.(string); ok && !caseSensitive {
		return strings.ToLower(s)
	}
	return x
}

func filterSort(_ *renderer, x any, args []any, kw *Dict) (any, error) {
	items, err := iterate(x)
	if err != nil {
		return nil, err
	}
	items = append([]any(nil), items...)
	reverse := truth(kwArg(args, kw, 0, "reverse", false))
	cs := truth(kwArg(args, kw, 1, "case_sensitive", false))
	attr := kwArg(args, kw, 2, "attribute", nil)
	keys := make([]any, len(items))
	for i, it := range items {
		k := it
		if attr != nil {
			if k, err = attribute(it, attr); err != nil {
				return nil, err
			}
		}
		keys[i] = sortKey(k, cs)
	}
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool {
		c, e := compare(keys[idx[a]], keys[idx[b]])
		if e != nil {
			err = e
		}
		if reverse {
			return c > 0
		}
		return c < 0
	})
	out := make([]any, len(items))
	for i, j := range idx {
		out[i] = items[j]
	}
	return out, err
}

func filterUnique(_ *renderer, x any, args []any, kw *Dict) (any, error) {
	items, err := iterate(x)
	if err != nil {
		return nil, err
	}
	cs := truth(kwArg(args, kw, 0, "case_sensitive", false))
	var out, seen []any
	for _, it := range items {
		k := sortKey(it, cs)
		dup := false
		for _, s := range seen {
			if equal(s, k) {
				dup = true
				break
			}
		}
		if !dup {
			seen, out = append(seen, k), append(out, it)
		}
	}
	if out == nil {
		out = []any{}
	}
	return out, nil
}

func filterMap(r *renderer, x any, args []any, kw *Dict) (any, error) {
	items, err := iterate(x)
	if err != nil {
		return nil, err
	}
	out := make([]any, 0, len(items))
	if attr, ok := kw.Get("attribute"); ok {
		def, hasDef := kw.Get("default")
		for _, it := range items {
			v, err := attribute(it, attr)
			if err != nil {
				return nil, err
			}
			if _, u := v.(Undefined); u && hasDef {
				v = def
			}
			out = append(out, v)
		}
		return out, nil
	}
	if len(args) == 0 {
		return nil, failf("map requires a filter argument")
	}
	name := str(args[0])
	f, ok := filters[name]
	if !ok {
		return nil, failf("no filter named '%s'", name)
	}
	for _, it := range items {
		v, err := f(r, it, args[1:], kw)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// selectFilter is select / reject (by a test) and selectattr / rejectattr
// (by a test on an attribute; without a test, the attribute's truth).
func selectFilter(reject, byAttr bool) filterFunc {
	return func(_ *renderer, x any, args []any, _ *Dict) (any, error) {
		items, err := iterate(x)
		if err != nil {
			return nil, err
		}
		var attr any
		if byAttr {
			if len(args) == 0 {
				return nil, failf("missing parameter for attribute name")
			}
			attr, args = args[0], args[1:]
		}
		out := []any{}
		for _, it := range items {
			v := it
			if byAttr {
				if v, err = attribute(it, attr); err != nil {
					return nil, err
				}
			}
			ok := truth(v)
			if len(args) > 0 {
				t, found := tests[str(args[0])]
				if !found {
					return nil, failf("no test named '%s'", str(args[0]))
				}
				if ok, err = t(v, args[1:]); err != nil {
					return nil, err
				}
			}
			if ok != reject {
				out = append(out, it)
			}
		}
		return out, nil
	}
}

func filterInt(_ *renderer, x any, args []any, kw *Dict) (any, error) {
	def := kwArg(args, kw, 0, "default", int64(0))
	switch v := x.(type) {
	case int64:
		return v, nil
	case bool:
		n, _ := asInt(v)
		return n, nil
	case float64:
		return int64(v), nil
	case string:
		s := strings.TrimSpace(v)
		if n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64); err == nil {
			return n, nil
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return int64(f), nil
		}
	}
	return def, nil
}

func filterFloat(_ *renderer, x any, args []any, kw *Dict) (any, error) {
	def := kwArg(args, kw, 0, "default", 0.0)
	if f, ok := number(x); ok {
		return f, nil
	}
	if s, ok := x.(string); ok {
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return f, nil
		}
	}
	return def, nil
}

func filterAbs(_ *renderer, x any, _ []any, _ *Dict) (any, error) {
	switch v := x.(type) {
	case int64:
		if v < 0 {
			return -v, nil
		}
		return v, nil
	case float64:
		return math.Abs(v), nil
	}
	return nil, failf("bad operand type for abs(): '%s'", typeName(x))
}

func filterRound(_ *renderer, x any, args []any, kw *Dict) (any, error) {
	f, ok := number(x)
	if !ok {
		return nil, failf("round needs a number")
	}
	prec, _ := kwArg(args, kw, 0, "precision", int64(0)).(int64)
	method := str(kwArg(args, kw, 1, "method", "common"))
	p := math.Pow(10, float64(prec))
	switch method {
	case "ceil":
		return math.Ceil(f*p) / p, nil
	case "floor":
		return math.Floor(f*p) / p, nil
	}
	return math.RoundToEven(f*p) / p, nil
}

func filterSum(_ *renderer, x any, args []any, kw *Dict) (any, error) {
	items, err := iterate(x)
	if err != nil {
		return nil, err
	}
	attr := kwArg(args, kw, 0, "attribute", nil)
	var total any = kwArg(args, kw, 1, "start", int64(0))
	for _, it := range items {
		if attr != nil {
			if it, err = attribute(it, attr); err != nil {
				return nil, err
			}
		}
		if total, err = arithmetic("+", total, it); err != nil {
			return nil, err
		}
	}
	return total, nil
}

func minMax(x any, kw *Dict, sign int) (any, error) {
	items, err := iterate(x)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return Undefined{"No aggregated item, sequence was empty."}, nil
	}
	cs := truth(kwArg(nil, kw, 0, "case_sensitive", false))
	attr := kwArg(nil, kw, 0, "attribute", nil)
	best, bestKey := items[0], any(nil)
	for i, it := range items {
		k := it
		if attr != nil {
			if k, err = attribute(it, attr); err != nil {
				return nil, err
			}
		}
		k = sortKey(k, cs)
		if i == 0 {
			bestKey = k
			continue
		}
		c, err := compare(k, bestKey)
		if err != nil {
			return nil, err
		}
		if c*sign > 0 {
			best, bestKey = it, k
		}
	}
	return best, nil
}

func filterIndent(_ *renderer, x any, args []any, kw *Dict) (any, error) {
	s := str(x)
	w := kwArg(args, kw, 0, "width", int64(4))
	pad := ""
	switch v := w.(type) {
	case string:
		pad = v
	case int64:
		pad = strings.Repeat(" ", int(max(v, 0)))
	}
	first := truth(kwArg(args, kw, 1, "first", false))
	blank := truth(kwArg(args, kw, 2, "blank", false))
	s += "\n" // jinja2 adds a newline, then drops it
	lines := strings.Split(s, "\n")
	lines = lines[:len(lines)-1]
	for i := range lines {
		if i == 0 && !first {
			continue
		}
		if lines[i] != "" || blank {
			lines[i] = pad + lines[i]
		}
	}
	return strings.Join(lines, "\n"), nil
}

func filterEscape(_ *renderer, x any, _ []any, _ *Dict) (any, error) {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(str(x)), nil
}

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

var globals = map[string]any{
	"range":           builtinFunc(globalRange),
	"namespace":       builtinFunc(globalNamespace),
	"dict":            builtinFunc(globalDict),
	"raise_exception": builtinFunc(globalRaise),
}

// maxRange is jinja2's sandbox MAX_RANGE.
const maxRange = 100000

func globalRange(r *renderer, args []any, _ *Dict) (any, error) {
	var b [3]int64
	b[2] = 1
	for i, a := range args {
		n, ok := asInt(a)
		if !ok || i > 2 {
			return nil, failf("range() takes up to three integers")
		}
		b[i] = n
	}
	start, stop, step := b[0], b[1], b[2]
	if len(args) == 1 {
		start, stop = 0, b[0]
	}
	if step == 0 {
		return nil, failf("range() arg 3 must not be zero")
	}
	n := int64(0)
	if step > 0 && stop > start {
		n = (stop - start + step - 1) / step
	} else if step < 0 && stop < start {
		n = (start - stop - step - 1) / -step
	}
	if n > maxRange {
		return nil, failf("Range too big. The sandbox blocks ranges larger than MAX_RANGE (%d).", maxRange)
	}
	if err := r.built(16 * int(n)); err != nil {
		return nil, err
	}
	out := make([]any, n)
	for i := range out {
		out[i] = start + int64(i)*step
	}
	return out, nil
}

func globalNamespace(_ *renderer, args []any, kw *Dict) (any, error) {
	ns := &Namespace{attrs: NewDict()}
	for _, a := range args {
		d, ok := a.(*Dict)
		if !ok {
			return nil, failf("namespace() takes a mapping or keyword arguments")
		}
		for _, k := range d.keys {
			ns.attrs.Set(k, d.vals[k])
		}
	}
	for _, k := range kw.Keys() {
		v, _ := kw.Get(k)
		ns.attrs.Set(k, v)
	}
	return ns, nil
}

func globalDict(_ *renderer, args []any, kw *Dict) (any, error) {
	d := NewDict()
	for _, a := range args {
		src, ok := a.(*Dict)
		if !ok {
			return nil, failf("dict() takes a mapping or keyword arguments")
		}
		for _, k := range src.keys {
			d.Set(k, src.vals[k])
		}
	}
	for _, k := range kw.Keys() {
		v, _ := kw.Get(k)
		d.Set(k, v)
	}
	return d, nil
}

func globalRaise(_ *renderer, args []any, _ *Dict) (any, error) {
	if len(args) != 1 {
		return nil, failf("raise_exception takes one message")
	}
	return nil, &TemplateError{Msg: str(args[0])}
}

// method is a Python method of x by name, if it has one that the
// immutable sandbox allows.
func method(x any, name string) (any, bool) {
	var fn builtinFunc
	switch v := x.(type) {
	case string:
		fn = stringMethod(v, name)
	case *Dict:
		fn = dictMethod(v, name)
	case []any:
		fn = listMethod(v, name)
	}
	if fn == nil {
		if unsafeMethods[name] {
			if _, ok := x.(*Namespace); !ok {
				return boundMethod{name, func(*renderer, []any, *Dict) (any, error) {
					return nil, failf("access to attribute '%s' of '%s' object is unsafe.", name, typeName(x))
				}}, true
			}
		}
		return nil, false
	}
	return boundMethod{name, fn}, true
}

// unsafeMethods are the mutating methods ImmutableSandboxedEnvironment
// refuses (sandbox.py's _mutable_spec).
var unsafeMethods = map[string]bool{"append": true, "extend": true, "insert": true, "pop": true, "remove": true,
	"reverse": true, "sort": true, "clear": true, "update": true, "setdefault": true, "popitem": true,
	"add": true, "discard": true, "difference_update": true, "intersection_update": true,
	"symmetric_difference_update": true}

func dictMethod(d *Dict, name string) builtinFunc {
	switch name {
	case "items":
		return func(*renderer, []any, *Dict) (any, error) { return dictItems(d), nil }
	case "keys":
		return func(*renderer, []any, *Dict) (any, error) { return append([]any{}, d.keys...), nil }
	case "values":
		return func(*renderer, []any, *Dict) (any, error) {
			out := make([]any, d.Len())
			for i, k := range d.keys {
				out[i] = d.vals[k]
			}
			return out, nil
		}
	case "get":
		return func(_ *renderer, a []any, _ *Dict) (any, error) {
			if len(a) == 0 {
				return nil, failf("get expected at least 1 argument, got 0")
			}
			if v, ok := d.Get(a[0]); ok {
				return v, nil
			}
			if len(a) > 1 {
				return a[1], nil
			}
			return nil, nil
		}
	case "copy":
		return func(*renderer, []any, *Dict) (any, error) {
			c := NewDict()
			for _, k := range d.keys {
				c.Set(k, d.vals[k])
			}
			return c, nil
		}
	}
	return nil
}

func listMethod(l []any, name string) builtinFunc {
	switch name {
	case "index":
		return func(_ *renderer, a []any, _ *Dict) (any, error) {
			for i, e := range l {
				if len(a) > 0 && equal(e, a[0]) {
					return int64(i), nil
				}
			}
			return nil, failf("value is not in list")
		}
	case "count":
		return func(_ *renderer, a []any, _ *Dict) (any, error) {
			n := int64(0)
			for _, e := range l {
				if len(a) > 0 && equal(e, a[0]) {
					n++
				}
			}
			return n, nil
		}
	}
	return nil
}

func stringMethod(s, name string) builtinFunc {
	strArg := func(a []any, i int) (string, error) {
		if i >= len(a) {
			return "", failf("%s() missing an argument", name)
		}
		v, ok := a[i].(string)
		if !ok {
			return "", failf("%s() argument must be str, not %s", name, typeName(a[i]))
		}
		return v, nil
	}
	switch name {
	case "strip":
		return func(_ *renderer, a []any, _ *Dict) (any, error) { return pyStrip(s, a, true, true) }
	case "lstrip":
		return func(_ *renderer, a []any, _ *Dict) (any, error) { return pyStrip(s, a, true, false) }
	case "rstrip":
		return func(_ *renderer, a []any, _ *Dict) (any, error) { return pyStrip(s, a, false, true) }
	case "upper":
		return func(*renderer, []any, *Dict) (any, error) { return strings.ToUpper(s), nil }
	case "lower":
		return func(*renderer, []any, *Dict) (any, error) { return strings.ToLower(s), nil }
	case "title":
		return func(*renderer, []any, *Dict) (any, error) { return pyTitle(s), nil }
	case "capitalize":
		return func(*renderer, []any, *Dict) (any, error) { return capitalize(s), nil }
	case "startswith", "endswith":
		return func(_ *renderer, a []any, _ *Dict) (any, error) {
			if len(a) == 0 {
				return nil, failf("%s() takes at least 1 argument", name)
			}
			cands := []any{a[0]}
			if l, ok := seqOf(a[0]); ok {
				cands = l
			}
			for _, c := range cands {
				p, ok := c.(string)
				if !ok {
					return nil, failf("%s first arg must be str or a tuple of str, not %s", name, typeName(c))
				}
				if name == "startswith" && strings.HasPrefix(s, p) || name == "endswith" && strings.HasSuffix(s, p) {
					return true, nil
				}
			}
			return false, nil
		}
	case "split", "rsplit":
		return func(_ *renderer, a []any, kw *Dict) (any, error) {
			sep := kwArg(a, kw, 0, "sep", nil)
			n := int64(-1)
			if m, ok := kwArg(a, kw, 1, "maxsplit", int64(-1)).(int64); ok {
				n = m
			}
			return pySplit(s, sep, n, name == "rsplit")
		}
	case "splitlines":
		return func(*renderer, []any, *Dict) (any, error) {
			out := []any{}
			for _, line := range strings.SplitAfter(s, "\n") {
				if line == "" {
					continue
				}
				out = append(out, strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"))
			}
			return out, nil
		}
	case "replace":
		return func(r *renderer, a []any, _ *Dict) (any, error) {
			old, err := strArg(a, 0)
			if err != nil {
				return nil, err
			}
			nw, err := strArg(a, 1)
			if err != nil {
				return nil, err
			}
			n := int64(-1)
			if len(a) > 2 {
				n, _ = a[2].(int64)
			}
			out := strings.Replace(s, old, nw, int(n))
			return out, r.built(len(out))
		}
	case "find", "rfind", "index", "rindex":
		return func(_ *renderer, a []any, _ *Dict) (any, error) {
			sub, err := strArg(a, 0)
			if err != nil {
				return nil, err
			}
			i := strings.Index(s, sub)
			if name[0] == 'r' {
				i = strings.LastIndex(s, sub)
			}
			if i < 0 {
				if strings.HasSuffix(name, "index") {
					return nil, failf("substring not found")
				}
				return int64(-1), nil
			}
			return int64(len([]rune(s[:i]))), nil
		}
	case "count":
		return func(_ *renderer, a []any, _ *Dict) (any, error) {
			sub, err := strArg(a, 0)
			if err != nil {
				return nil, err
			}
			if sub == "" {
				return int64(len([]rune(s)) + 1), nil
			}
			return int64(strings.Count(s, sub)), nil
		}
	case "join":
		return func(r *renderer, a []any, _ *Dict) (any, error) {
			if len(a) != 1 {
				return nil, failf("join() takes exactly one argument")
			}
			items, err := iterate(a[0])
			if err != nil {
				return nil, err
			}
			parts := make([]string, len(items))
			for i, it := range items {
				p, ok := it.(string)
				if !ok {
					return nil, failf("sequence item %d: expected str instance, %s found", i, typeName(it))
				}
				parts[i] = p
			}
			out := strings.Join(parts, s)
			return out, r.built(len(out))
		}
	case "isdigit", "isalpha", "isalnum", "isspace", "isupper", "islower":
		return func(*renderer, []any, *Dict) (any, error) { return strPredicate(s, name), nil }
	}
	return nil
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
