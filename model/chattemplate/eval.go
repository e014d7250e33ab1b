package chattemplate

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// Limits bound what one render may cost, so a crafted template can neither
// run without end nor take the machine's memory. The budget counts work,
// not time, so a render that passes passes on every machine.
type Limits struct {
	// Work is the budget of one render: one unit a node or expression
	// evaluated or a loop iteration, one per 16 bytes of every string or
	// list built.
	Work int64
	// Output is the largest rendered text, and the largest string or list
	// (in bytes) built on the way.
	Output int
	// Depth is how deeply macro calls and recursive loops may nest.
	Depth int
}

// DefaultLimits serve real chat templates with room to spare: a long
// conversation renders in well under 1% of the work budget.
var DefaultLimits = Limits{Work: 5_000_000, Output: 16 << 20, Depth: 100}

// TemplateError is what a template raised itself (raise_exception), with
// its own message, as transformers' TemplateError.
type TemplateError struct{ Msg string }

func (e *TemplateError) Error() string { return e.Msg }

// LimitError is a render stopped by its Limits.
type LimitError struct{ Msg string }

func (e *LimitError) Error() string { return "chat template: " + e.Msg }

// RenderError is any other failure of a render, as jinja2 would raise it
// (an undefined value used, a type error, a sandbox refusal).
type RenderError struct {
	Line int
	Msg  string
}

func (e *RenderError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("chat template line %d: %s", e.Line, e.Msg)
	}
	return "chat template: " + e.Msg
}

func failf(format string, args ...any) error {
	return &RenderError{Msg: fmt.Sprintf(format, args...)}
}

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

type scope struct {
	vars   map[string]any
	parent *scope
}

func newScope(parent *scope) *scope { return &scope{vars: map[string]any{}, parent: parent} }

func (s *scope) lookup(name string) (any, bool) {
	for ; s != nil; s = s.parent {
		if v, ok := s.vars[name]; ok {
			return v, true
		}
	}
	return nil, false
}

type renderer struct {
	limits Limits
	work   int64
	depth  int
	out    *strings.Builder
	env    *Template
}

// spend charges the work budget.
func (r *renderer) spend(units int64) error {
	r.work += units
	if r.work > r.limits.Work {
		return &LimitError{fmt.Sprintf("the render exceeded its work budget of %d steps (a loop without end, or too large a computation)", r.limits.Work)}
	}
	return nil
}

// built charges for a string or list of n bytes and refuses one over the
// output limit.
func (r *renderer) built(n int) error {
	if n > r.limits.Output {
		return &LimitError{fmt.Sprintf("a value of %d bytes is larger than the limit of %d", n, r.limits.Output)}
	}
	return r.spend(int64(n/16) + 1)
}

func (r *renderer) write(s string) error {
	if r.out.Len()+len(s) > r.limits.Output {
		return &LimitError{fmt.Sprintf("the output is larger than the limit of %d bytes", r.limits.Output)}
	}
	r.out.WriteString(s)
	return r.spend(int64(len(s)/16) + 1)
}

func (r *renderer) execAll(nodes []node, s *scope) error {
	for _, n := range nodes {
		if err := r.exec(n, s); err != nil {
			return err
		}
	}
	return nil
}

func (r *renderer) exec(n node, s *scope) error {
	if err := r.spend(1); err != nil {
		return err
	}
	switch n := n.(type) {
	case *textNode:
		return r.write(n.s)
	case *outputNode:
		v, err := r.eval(n.x, s)
		if err != nil {
			return err
		}
		return r.write(str(v))
	case *ifNode:
		for i, c := range n.conds {
			v, err := r.eval(c, s)
			if err != nil {
				return err
			}
			if truth(v) {
				return r.execAll(n.bodies[i], s)
			}
		}
		return r.execAll(n.els, s)
	case *forNode:
		return r.execFor(n, s, nil, 0)
	case *setNode:
		return r.execSet(n, s)
	case *macroNode:
		m := *n.m
		m.scope = s
		s.vars[n.name] = &m
		return nil
	case *filterBlockNode:
		text, err := r.capture(n.body, s)
		if err != nil {
			return err
		}
		var v any = text
		for _, f := range n.filters {
			if v, err = r.applyFilter(f, v, s); err != nil {
				return err
			}
		}
		return r.write(str(v))
	case *loopControl:
		if n.brk {
			return errBreak
		}
		return errContinue
	case *generationNode:
		return r.execAll(n.body, s)
	}
	return failf("unknown node %T", n)
}

// capture renders nodes into a string (block set, macros, filter blocks).
func (r *renderer) capture(nodes []node, s *scope) (string, error) {
	saved := r.out
	var b strings.Builder
	r.out = &b
	err := r.execAll(nodes, s)
	r.out = saved
	return b.String(), err
}

func (r *renderer) execSet(n *setNode, s *scope) error {
	var v any
	var err error
	if n.body != nil {
		text, err := r.capture(n.body, s)
		if err != nil {
			return err
		}
		v = text
		for _, f := range n.filters {
			if v, err = r.applyFilter(f, v, s); err != nil {
				return err
			}
		}
	} else if v, err = r.eval(n.x, s); err != nil {
		return err
	}
	if n.ns != "" {
		obj, _ := s.lookup(n.ns)
		ns, ok := obj.(*Namespace)
		if !ok {
			return failf("cannot assign attribute on non-namespace object")
		}
		ns.attrs.Set(n.targets[0], v)
		return nil
	}
	return assign(s, n.targets, v)
}

// assign binds names, unpacking a sequence when there are several.
func assign(s *scope, names []string, v any) error {
	if len(names) == 1 {
		s.vars[names[0]] = v
		return nil
	}
	items, err := iterate(v)
	if err != nil {
		return err
	}
	if len(items) != len(names) {
		return failf("cannot unpack %d values into %d names", len(items), len(names))
	}
	for i, name := range names {
		s.vars[name] = items[i]
	}
	return nil
}

func (r *renderer) execFor(n *forNode, s *scope, seq any, depth int) error {
	if seq == nil {
		var err error
		if seq, err = r.eval(n.iter, s); err != nil {
			return err
		}
	}
	all, err := iterate(seq)
	if err != nil {
		return err
	}
	ls := newScope(s)
	items := all
	if n.cond != nil {
		items = nil
		for _, it := range all {
			if err := assign(ls, n.targets, it); err != nil {
				return err
			}
			ok, err := r.eval(n.cond, ls)
			if err != nil {
				return err
			}
			if truth(ok) {
				items = append(items, it)
			}
		}
	}
	if len(items) == 0 {
		return r.execAll(n.els, s)
	}
	for i, it := range items {
		if err := r.spend(1); err != nil {
			return err
		}
		ls := newScope(s) // jinja2: what the body sets lasts one iteration
		if err := assign(ls, n.targets, it); err != nil {
			return err
		}
		ls.vars["loop"] = r.loopObject(n, items, i, depth)
		err := r.execAll(n.body, ls)
		if err == errBreak {
			break
		}
		if err != nil && err != errContinue {
			return err
		}
	}
	return nil
}

// loopObject is jinja2's loop variable, its attributes computed when read.
func (r *renderer) loopObject(n *forNode, items []any, i, depth int) *loopInfo {
	return &loopInfo{n: n, items: items, i: i, depth: depth}
}

type loopInfo struct {
	n        *forNode
	items    []any
	i, depth int
}

func (l *loopInfo) attr(name string) any {
	cnt, idx := int64(len(l.items)), int64(l.i)
	switch name {
	case "index":
		return idx + 1
	case "index0":
		return idx
	case "revindex":
		return cnt - idx
	case "revindex0":
		return cnt - idx - 1
	case "first":
		return l.i == 0
	case "last":
		return l.i == len(l.items)-1
	case "length":
		return cnt
	case "depth":
		return int64(l.depth + 1)
	case "depth0":
		return int64(l.depth)
	case "previtem":
		if l.i > 0 {
			return l.items[l.i-1]
		}
		return Undefined{"there is no previous item"}
	case "nextitem":
		if l.i+1 < len(l.items) {
			return l.items[l.i+1]
		}
		return Undefined{"there is no next item"}
	case "cycle":
		return builtinFunc(func(_ *renderer, args []any, _ *Dict) (any, error) {
			if len(args) == 0 {
				return nil, failf("no items for cycling given")
			}
			return args[l.i%len(args)], nil
		})
	}
	return Undefined{fmt.Sprintf("'LoopContext object' has no attribute '%s'", name)}
}

// call is loop(…) in a recursive loop.
func (l *loopInfo) call(r *renderer, args []any) (any, error) {
	if !l.n.recursive {
		return nil, failf("Tried to call non recursive loop. Maybe you forgot the 'recursive' modifier.")
	}
	if len(args) != 1 {
		return nil, failf("loop() takes one argument")
	}
	if r.depth >= r.limits.Depth {
		return nil, &LimitError{fmt.Sprintf("recursion deeper than %d", r.limits.Depth)}
	}
	r.depth++
	defer func() { r.depth-- }()
	saved := r.out
	var b strings.Builder
	r.out = &b
	err := r.execFor(l.n, newScope(nil), args[0], l.depth+1)
	r.out = saved
	return b.String(), err
}

// iterate is Python's iteration over a value.
func iterate(v any) ([]any, error) {
	switch x := v.(type) {
	case []any:
		return x, nil
	case tuple:
		return x, nil
	case *Dict:
		return append([]any(nil), x.keys...), nil
	case string:
		out := make([]any, 0, len(x))
		for _, c := range x {
			out = append(out, string(c))
		}
		return out, nil
	case Undefined:
		return nil, nil
	}
	return nil, failf("'%s' object is not iterable", typeName(v))
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
