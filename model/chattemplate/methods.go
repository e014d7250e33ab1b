package chattemplate

import (
	"strings"
)

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
