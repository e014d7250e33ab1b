package chattemplate

import (
	"fmt"
	"strings"
)

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
