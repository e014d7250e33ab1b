package chattemplate

import (
	"errors"
	"fmt"
	"strings"
)

var (
	errBreak    = errors.New("break outside a loop")
	errContinue = errors.New("continue outside a loop")
)

// Macro is a {% macro %}: a callable that renders its body.
type Macro struct {
	name     string
	params   []string
	defaults []expr
	body     []node
	scope    *scope // where it was defined
}

// getAttr is jinja2's getattr under the immutable sandbox: the object's
// attribute (a method) first, then its item.
func getAttr(x any, name string) (any, error) {
	if u, ok := x.(Undefined); ok {
		return nil, undefinedError(u)
	}
	if strings.HasPrefix(name, "__") && strings.HasSuffix(name, "__") {
		// Python's dunder attributes are the sandbox's way out; jinja2's
		// sandbox refuses them, and so does this one.
		return nil, failf("access to attribute '%s' of '%s' object is unsafe.", name, typeName(x))
	}
	if m, ok := method(x, name); ok {
		return m, nil
	}
	switch o := x.(type) {
	case *Dict:
		if v, ok := o.Get(name); ok {
			return v, nil
		}
	case *Namespace:
		if v, ok := o.attrs.Get(name); ok {
			return v, nil
		}
	case *loopInfo:
		return o.attr(name), nil
	}
	return Undefined{fmt.Sprintf("'%s object' has no attribute '%s'", objName(x), name)}, nil
}

func objName(x any) string {
	if _, ok := x.(*Namespace); ok {
		return "jinja2.utils.Namespace"
	}
	return typeName(x)
}

// getItem is jinja2's getitem: the item first, then (for a string key) the
// attribute; an index out of range is undefined.
func getItem(x, k any) (any, error) {
	if u, ok := x.(Undefined); ok {
		return nil, undefinedError(u)
	}
	switch o := x.(type) {
	case *Dict:
		if v, ok := o.Get(k); ok {
			return v, nil
		}
	case []any, tuple:
		l, _ := seqOf(o)
		if i, ok := index(k, len(l)); ok {
			return l[i], nil
		}
	case string:
		rs := []rune(o)
		if i, ok := index(k, len(rs)); ok {
			return string(rs[i]), nil
		}
	case *Namespace:
		if name, ok := k.(string); ok {
			if v, ok := o.attrs.Get(name); ok {
				return v, nil
			}
		}
	}
	if name, ok := k.(string); ok {
		if m, ok := method(x, name); ok {
			return m, nil
		}
		return Undefined{fmt.Sprintf("'%s object' has no attribute '%s'", objName(x), name)}, nil
	}
	return Undefined{fmt.Sprintf("'%s object' has no element %s", objName(x), repr(k))}, nil
}

// index is an int key as a position in a sequence of n (negative from the end).
func index(k any, n int) (int, bool) {
	var i int64
	switch v := k.(type) {
	case int64:
		i = v
	case bool:
		if v {
			i = 1
		}
	default:
		return 0, false
	}
	if i < 0 {
		i += int64(n)
	}
	return int(i), i >= 0 && i < int64(n)
}

// sliceIndices are the positions Python's seq[start:stop:step] takes.
func sliceIndices(b [3]*int64, n int) ([]int, error) {
	step := int64(1)
	if b[2] != nil {
		step = *b[2]
	}
	if step == 0 {
		return nil, failf("slice step cannot be zero")
	}
	clamp := func(p *int64, def int64) int64 {
		if p == nil {
			return def
		}
		v := *p
		if v < 0 {
			v += int64(n)
			if v < 0 {
				if step < 0 {
					return -1
				}
				return 0
			}
		}
		if v >= int64(n) {
			if step < 0 {
				return int64(n) - 1
			}
			return int64(n)
		}
		return v
	}
	var out []int
	if step > 0 {
		for i := clamp(b[0], 0); i < clamp(b[1], int64(n)); i += step {
			out = append(out, int(i))
		}
	} else {
		for i := clamp(b[0], int64(n)-1); i > clamp(b[1], -1); i += step {
			out = append(out, int(i))
		}
	}
	return out, nil
}

func (r *renderer) eval(e expr, s *scope) (any, error) {
	if err := r.spend(1); err != nil {
		return nil, err
	}
	switch e := e.(type) {
	case *literal:
		return e.v, nil
	case *nameExpr:
		if v, ok := s.lookup(e.name); ok {
			return v, nil
		}
		if v, ok := globals[e.name]; ok {
			return v, nil
		}
		return Undefined{fmt.Sprintf("'%s' is undefined", e.name)}, nil
	case *listExpr:
		out := make([]any, len(e.items))
		for i, it := range e.items {
			v, err := r.eval(it, s)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		if e.tuple {
			return tuple(out), nil
		}
		return out, nil
	case *dictExpr:
		d := NewDict()
		for i := range e.keys {
			k, err := r.eval(e.keys[i], s)
			if err != nil {
				return nil, err
			}
			v, err := r.eval(e.vals[i], s)
			if err != nil {
				return nil, err
			}
			d.Set(k, v)
		}
		return d, nil
	case *attrExpr:
		x, err := r.eval(e.x, s)
		if err != nil {
			return nil, err
		}
		return getAttr(x, e.name)
	case *itemExpr:
		x, err := r.eval(e.x, s)
		if err != nil {
			return nil, err
		}
		k, err := r.eval(e.key, s)
		if err != nil {
			return nil, err
		}
		return getItem(x, k)
	case *sliceExpr:
		return r.evalSlice(e, s)
	case *callExpr:
		return r.evalCall(e, s)
	case *filterExpr:
		x, err := r.eval(e.x, s)
		if err != nil {
			return nil, err
		}
		return r.applyFilter(e, x, s)
	case *testExpr:
		return r.evalTest(e, s)
	case *unaryExpr:
		x, err := r.eval(e.x, s)
		if err != nil {
			return nil, err
		}
		return unary(e.op, x)
	case *binExpr:
		a, err := r.eval(e.a, s)
		if err != nil {
			return nil, err
		}
		b, err := r.eval(e.b, s)
		if err != nil {
			return nil, err
		}
		return r.binary(e.op, a, b)
	case *concatExpr:
		var b strings.Builder
		for _, p := range e.parts {
			v, err := r.eval(p, s)
			if err != nil {
				return nil, err
			}
			b.WriteString(str(v))
			if err := r.built(b.Len()); err != nil {
				return nil, err
			}
		}
		return b.String(), nil
	case *compareExpr:
		return r.evalCompare(e, s)
	case *andExpr:
		a, err := r.eval(e.a, s)
		if err != nil || !truth(a) {
			return a, err
		}
		return r.eval(e.b, s)
	case *orExpr:
		a, err := r.eval(e.a, s)
		if err != nil || truth(a) {
			return a, err
		}
		return r.eval(e.b, s)
	case *notExpr:
		x, err := r.eval(e.x, s)
		return !truth(x), err
	case *condExpr:
		c, err := r.eval(e.cond, s)
		if err != nil {
			return nil, err
		}
		if truth(c) {
			return r.eval(e.then, s)
		}
		if e.els == nil {
			return Undefined{"the inline if-expression evaluated to false and no else section was defined"}, nil
		}
		return r.eval(e.els, s)
	}
	return nil, failf("unknown expression %T", e)
}

// undefinedError is the error of using an undefined value.
func undefinedError(u Undefined) error {
	if u.hint == "" {
		return failf("value is undefined")
	}
	return failf("%s", u.hint)
}

func (r *renderer) evalSlice(e *sliceExpr, s *scope) (any, error) {
	x, err := r.eval(e.x, s)
	if err != nil {
		return nil, err
	}
	var bounds [3]*int64
	for i, p := range []expr{e.start, e.stop, e.step} {
		if p == nil {
			continue
		}
		v, err := r.eval(p, s)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		n, ok := v.(int64)
		if !ok {
			return nil, failf("slice indices must be integers or None")
		}
		bounds[i] = &n
	}
	var n int
	var rs []rune
	switch o := x.(type) {
	case []any:
		n = len(o)
	case tuple:
		n = len(o)
	case string:
		rs = []rune(o)
		n = len(rs)
	case Undefined:
		return nil, undefinedError(o)
	default:
		return nil, failf("'%s' object is not subscriptable", typeName(x))
	}
	idx, err := sliceIndices(bounds, n)
	if err != nil {
		return nil, err
	}
	if err := r.spend(int64(len(idx))); err != nil {
		return nil, err
	}
	if rs != nil || x == "" {
		var b strings.Builder
		for _, i := range idx {
			b.WriteRune(rs[i])
		}
		return b.String(), nil
	}
	src, _ := seqOf(x)
	out := make([]any, len(idx))
	for j, i := range idx {
		out[j] = src[i]
	}
	if _, ok := x.(tuple); ok {
		return tuple(out), nil
	}
	return out, nil
}

func (r *renderer) evalArgs(args []expr, kwNames []string, kwVals []expr, s *scope) ([]any, *Dict, error) {
	pos := make([]any, len(args))
	for i, a := range args {
		v, err := r.eval(a, s)
		if err != nil {
			return nil, nil, err
		}
		pos[i] = v
	}
	var kw *Dict
	if len(kwNames) > 0 {
		kw = NewDict()
		for i, name := range kwNames {
			v, err := r.eval(kwVals[i], s)
			if err != nil {
				return nil, nil, err
			}
			kw.Set(name, v)
		}
	}
	return pos, kw, nil
}

func (r *renderer) evalCall(e *callExpr, s *scope) (any, error) {
	fn, err := r.eval(e.fn, s)
	if err != nil {
		return nil, err
	}
	args, kw, err := r.evalArgs(e.args, e.kwNames, e.kwVals, s)
	if err != nil {
		return nil, err
	}
	return r.call(fn, args, kw)
}

func (r *renderer) call(fn any, args []any, kw *Dict) (any, error) {
	switch f := fn.(type) {
	case builtinFunc:
		return f(r, args, kw)
	case boundMethod:
		return f.fn(r, args, kw)
	case *Macro:
		return r.callMacro(f, args, kw)
	case *loopInfo:
		return f.call(r, args)
	case Undefined:
		return nil, undefinedError(f)
	}
	return nil, failf("'%s' object is not callable", typeName(fn))
}

func (r *renderer) callMacro(m *Macro, args []any, kw *Dict) (any, error) {
	if r.depth >= r.limits.Depth {
		return nil, &LimitError{fmt.Sprintf("macro %s: calls nested deeper than %d", m.name, r.limits.Depth)}
	}
	r.depth++
	defer func() { r.depth-- }()
	ms := newScope(m.scope)
	var varargs []any
	for i, a := range args {
		if i < len(m.params) {
			ms.vars[m.params[i]] = a
		} else {
			varargs = append(varargs, a)
		}
	}
	extra := NewDict()
	for _, k := range kw.Keys() {
		v, _ := kw.Get(k)
		name, _ := k.(string)
		found := false
		for _, p := range m.params {
			if p == name {
				ms.vars[p], found = v, true
			}
		}
		if !found {
			extra.Set(k, v)
		}
	}
	for i, p := range m.params {
		if _, ok := ms.vars[p]; ok {
			continue
		}
		if m.defaults[i] == nil {
			ms.vars[p] = Undefined{fmt.Sprintf("parameter '%s' was not provided", p)}
			continue
		}
		v, err := r.eval(m.defaults[i], ms)
		if err != nil {
			return nil, err
		}
		ms.vars[p] = v
	}
	ms.vars["varargs"], ms.vars["kwargs"] = tuple(append([]any{}, varargs...)), extra
	return r.capture(m.body, ms)
}

func (r *renderer) evalTest(e *testExpr, s *scope) (any, error) {
	x, err := r.eval(e.x, s)
	if err != nil {
		return nil, err
	}
	args, _, err := r.evalArgs(e.args, nil, nil, s)
	if err != nil {
		return nil, err
	}
	t, ok := tests[e.name]
	if !ok {
		return nil, failf("no test named '%s'", e.name)
	}
	ok, err = t(x, args)
	if err != nil {
		return nil, err
	}
	return ok != e.negate, nil
}

func (r *renderer) applyFilter(f *filterExpr, x any, s *scope) (any, error) {
	fn, ok := filters[f.name]
	if !ok {
		return nil, failf("no filter named '%s'", f.name)
	}
	args, kw, err := r.evalArgs(f.args, f.kwNames, f.kwVals, s)
	if err != nil {
		return nil, err
	}
	return fn(r, x, args, kw)
}
