package chattemplate

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

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
