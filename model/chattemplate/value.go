package chattemplate

import (
	"fmt"
	"math"
	"reflect"
	"strings"
)

// Values a template computes with, as Python's jinja2 sees them:
//
//	None       nil
//	bool       bool
//	int        int64
//	float      float64
//	str        string
//	list       []any
//	tuple      tuple
//	dict       *Dict (insertion order kept, as Python's dict)
//	namespace  *Namespace
//	undefined  Undefined
//	callables  *Macro, builtinFunc, boundMethod
type (
	// Undefined is a name or attribute that does not exist; it renders as
	// nothing and is false, as jinja2's default Undefined.
	Undefined struct{ hint string }

	// Dict is an insertion-ordered dict with string, int, bool or None keys.
	Dict struct {
		keys []any
		vals map[any]any
	}

	// tuple is a Python tuple: a list that prints in parentheses.
	tuple []any

	// Namespace is jinja2's namespace(): the one object whose attributes
	// a template may set.
	Namespace struct{ attrs *Dict }

	builtinFunc func(r *renderer, args []any, kw *Dict) (any, error)

	boundMethod struct {
		name string
		fn   builtinFunc
	}
)

// NewDict is an empty dict.
func NewDict() *Dict { return &Dict{vals: map[any]any{}} }

// Set sets d[k] = v, keeping the first insertion's place.
func (d *Dict) Set(k, v any) {
	k = dictKey(k)
	if _, ok := d.vals[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.vals[k] = v
}

// Get is d[k].
func (d *Dict) Get(k any) (any, bool) {
	if d == nil {
		return nil, false
	}
	v, ok := d.vals[dictKey(k)]
	return v, ok
}

// Len is the number of keys.
func (d *Dict) Len() int {
	if d == nil {
		return 0
	}
	return len(d.keys)
}

// Keys are the keys in insertion order.
func (d *Dict) Keys() []any {
	if d == nil {
		return nil
	}
	return d.keys
}

// unhashable is the panic of a dict key Python could not hash (a list, a
// dict, here also a tuple): Render turns it into Python's TypeError.
type unhashable struct{ typ string }

// dictKey makes Python-equal keys one Go map key (1 == 1.0 == True).
func dictKey(k any) any {
	if t := reflect.TypeOf(k); t != nil && (!t.Comparable() || t == reflect.TypeFor[*Dict]()) {
		panic(unhashable{typeName(k)})
	}
	switch v := k.(type) {
	case bool:
		if v {
			return int64(1)
		}
		return int64(0)
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<62 {
			return int64(v)
		}
	}
	return k
}

// truth is Python's bool(v).
func truth(v any) bool {
	switch x := v.(type) {
	case nil, Undefined:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case tuple:
		return len(x) > 0
	case *Dict:
		return x.Len() > 0
	}
	return true
}

// typeName is Python's type name of v, for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case Undefined:
		return "Undefined"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case tuple:
		return "tuple"
	case *Dict:
		return "dict"
	case *Namespace:
		return "Namespace"
	case *Macro:
		return "Macro"
	case *loopInfo:
		return "LoopContext"
	}
	return "builtin_function_or_method"
}

// equal is Python's ==.
func equal(a, b any) bool {
	if na, ok := number(a); ok {
		if nb, ok := number(b); ok {
			return na == nb
		}
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case Undefined:
		_, ok := b.(Undefined)
		return ok
	case string:
		y, ok := b.(string)
		return ok && x == y
	case tuple:
		y, ok := b.(tuple)
		return ok && equal([]any(x), []any(y))
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case *Dict:
		y, ok := b.(*Dict)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for _, k := range x.keys {
			w, ok := y.vals[k]
			if !ok || !equal(x.vals[k], w) {
				return false
			}
		}
		return true
	}
	if ta := reflect.TypeOf(a); ta != reflect.TypeOf(b) || !ta.Comparable() {
		// Values FromJSON did not make (Go maps given to Render): == on
		// them would panic.
		return ta == reflect.TypeOf(b) && reflect.DeepEqual(a, b)
	}
	return a == b
}

// seqOf is a list's or a tuple's items.
func seqOf(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case tuple:
		return x, true
	}
	return nil, false
}

// number is v as a float64 when v is a Python number (bool included).
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// compare is Python's ordering of two numbers or two strings.
func compare(a, b any) (int, error) {
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	}
	if _, ok := a.(bool); !ok {
		if _, ok := b.(bool); !ok {
			if x, ok := a.(int64); ok {
				if y, ok := b.(int64); ok {
					switch {
					case x < y:
						return -1, nil
					case x > y:
						return 1, nil
					}
					return 0, nil
				}
			}
		}
	}
	x, ok1 := number(a)
	y, ok2 := number(b)
	if !ok1 || !ok2 {
		return 0, fmt.Errorf("'<' not supported between instances of '%s' and '%s'", typeName(a), typeName(b))
	}
	switch {
	case x < y:
		return -1, nil
	case x > y:
		return 1, nil
	}
	return 0, nil
}
