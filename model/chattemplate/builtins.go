package chattemplate

import (
	"regexp"
	"strings"
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

// maxRange is jinja2's sandbox MAX_RANGE.
const maxRange = 100000
