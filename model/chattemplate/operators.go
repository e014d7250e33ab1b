package chattemplate

import (
	"math"
	"strings"
)

func (r *renderer) evalCompare(e *compareExpr, s *scope) (any, error) {
	a, err := r.eval(e.first, s)
	if err != nil {
		return nil, err
	}
	for i, op := range e.ops {
		b, err := r.eval(e.rest[i], s)
		if err != nil {
			return nil, err
		}
		ok, err := compareOp(op, a, b)
		if err != nil || !ok {
			return false, err
		}
		a = b
	}
	return true, nil
}

func compareOp(op string, a, b any) (bool, error) {
	switch op {
	case "==":
		return equal(a, b), nil
	case "!=":
		return !equal(a, b), nil
	case "in":
		return contains(b, a)
	case "notin":
		ok, err := contains(b, a)
		return !ok, err
	}
	for _, v := range []any{a, b} {
		if u, ok := v.(Undefined); ok {
			return false, undefinedError(u)
		}
	}
	c, err := compare(a, b)
	if err != nil {
		return false, failf("%s", strings.Replace(err.Error(), "'<'", "'"+op+"'", 1))
	}
	switch op {
	case "<":
		return c < 0, nil
	case ">":
		return c > 0, nil
	case "<=":
		return c <= 0, nil
	}
	return c >= 0, nil
}

// contains is Python's "x in container".
func contains(container, x any) (bool, error) {
	switch c := container.(type) {
	case string:
		s, ok := x.(string)
		if !ok {
			return false, failf("'in <string>' requires string as left operand, not %s", typeName(x))
		}
		return strings.Contains(c, s), nil
	case []any, tuple:
		l, _ := seqOf(c)
		for _, e := range l {
			if equal(e, x) {
				return true, nil
			}
		}
		return false, nil
	case *Dict:
		_, ok := c.Get(x)
		return ok, nil
	case Undefined:
		return false, nil // an undefined value iterates as empty
	}
	return false, failf("argument of type '%s' is not iterable", typeName(container))
}

func unary(op string, x any) (any, error) {
	switch v := x.(type) {
	case int64:
		if op == "-" {
			return -v, nil
		}
		return v, nil
	case float64:
		if op == "-" {
			return -v, nil
		}
		return v, nil
	case bool:
		n := int64(0)
		if v {
			n = 1
		}
		if op == "-" {
			return -n, nil
		}
		return n, nil
	case Undefined:
		return nil, undefinedError(v)
	}
	return nil, failf("bad operand type for unary %s: '%s'", op, typeName(x))
}

func (r *renderer) binary(op string, a, b any) (any, error) {
	for _, v := range []any{a, b} {
		if u, ok := v.(Undefined); ok {
			return nil, undefinedError(u)
		}
	}
	switch op {
	case "+":
		switch x := a.(type) {
		case string:
			y, ok := b.(string)
			if !ok {
				return nil, failf(`can only concatenate str (not "%s") to str`, typeName(b))
			}
			if err := r.built(len(x) + len(y)); err != nil {
				return nil, err
			}
			return x + y, nil
		case tuple:
			y, ok := b.(tuple)
			if !ok {
				return nil, failf(`can only concatenate tuple (not "%s") to tuple`, typeName(b))
			}
			return append(append(tuple{}, x...), y...), nil
		case []any:
			y, ok := b.([]any)
			if !ok {
				return nil, failf(`can only concatenate list (not "%s") to list`, typeName(b))
			}
			if err := r.built(16 * (len(x) + len(y))); err != nil {
				return nil, err
			}
			return append(append(make([]any, 0, len(x)+len(y)), x...), y...), nil
		}
	case "*":
		if s, n, ok := repetition(a, b); ok {
			return r.repeat(s, n)
		}
	}
	return arithmetic(op, a, b)
}

// repetition recognises str*int, int*str, list*int and int*list.
func repetition(a, b any) (any, int64, bool) {
	if n, ok := b.(int64); ok {
		switch a.(type) {
		case string, []any:
			return a, n, true
		}
	}
	if n, ok := a.(int64); ok {
		switch b.(type) {
		case string, []any:
			return b, n, true
		}
	}
	return nil, 0, false
}

func (r *renderer) repeat(v any, n int64) (any, error) {
	n = max(n, 0)
	switch x := v.(type) {
	case string:
		if len(x) > 0 && n > int64(r.limits.Output) {
			return nil, r.built(r.limits.Output + 1)
		}
		if err := r.built(len(x) * int(n)); err != nil {
			return nil, err
		}
		return strings.Repeat(x, int(n)), nil
	default:
		l := x.([]any)
		if len(l) > 0 && n > int64(r.limits.Output) {
			return nil, r.built(r.limits.Output + 1)
		}
		if err := r.built(16 * len(l) * int(n)); err != nil {
			return nil, err
		}
		out := make([]any, 0, len(l)*int(n))
		for range n {
			out = append(out, l...)
		}
		return out, nil
	}
}

// arithmetic is Python's numeric operators; int stays int where Python's does.
func arithmetic(op string, a, b any) (any, error) {
	ai, aInt := asInt(a)
	bi, bInt := asInt(b)
	x, ok1 := number(a)
	y, ok2 := number(b)
	if !ok1 || !ok2 {
		return nil, failf("unsupported operand type(s) for %s: '%s' and '%s'", op, typeName(a), typeName(b))
	}
	both := aInt && bInt
	switch op {
	case "+":
		if both {
			return ai + bi, nil
		}
		return x + y, nil
	case "-":
		if both {
			return ai - bi, nil
		}
		return x - y, nil
	case "*":
		if both {
			return ai * bi, nil
		}
		return x * y, nil
	case "/":
		if y == 0 {
			return nil, failf("division by zero")
		}
		return x / y, nil
	case "//":
		if y == 0 {
			return nil, failf("integer division or modulo by zero")
		}
		if both {
			q := ai / bi
			if (ai%bi != 0) && ((ai < 0) != (bi < 0)) {
				q--
			}
			return q, nil
		}
		return math.Floor(x / y), nil
	case "%":
		if y == 0 {
			return nil, failf("integer division or modulo by zero")
		}
		if both {
			m := ai % bi
			if m != 0 && (m < 0) != (bi < 0) {
				m += bi
			}
			return m, nil
		}
		m := math.Mod(x, y)
		if m != 0 && (m < 0) != (y < 0) {
			m += y
		}
		return m, nil
	case "**":
		if both && bi >= 0 {
			out := int64(1)
			for range min(bi, 64) {
				out *= ai
			}
			return out, nil
		}
		return math.Pow(x, y), nil
	}
	return nil, failf("unknown operator %s", op)
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}
