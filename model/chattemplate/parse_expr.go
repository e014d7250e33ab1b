package chattemplate

import (
	"strconv"
)

// tuple is an expression, or several separated by commas (a tuple).
func (p *parser) tuple(condexpr bool) (expr, error) {
	var items []expr
	trailing := false
	for {
		if len(items) > 0 && (p.peek().kind == tokEnd || p.isOp(")") || p.isName("if") || p.isName("recursive")) {
			break
		}
		x, err := p.expression(condexpr)
		if err != nil {
			return nil, err
		}
		items = append(items, x)
		trailing = p.skipOp(",")
		if !trailing {
			break
		}
	}
	if len(items) == 1 && !trailing {
		return items[0], nil
	}
	return &listExpr{items: items, tuple: true}, nil
}

func (p *parser) expression(condexpr bool) (expr, error) {
	if err := p.nest(); err != nil {
		return nil, err
	}
	defer func() { p.depth-- }()
	if !condexpr {
		return p.or()
	}
	x, err := p.or()
	if err != nil {
		return nil, err
	}
	for p.skipName("if") {
		c, err := p.or()
		if err != nil {
			return nil, err
		}
		var els expr
		if p.skipName("else") {
			if els, err = p.expression(true); err != nil {
				return nil, err
			}
		}
		x = &condExpr{cond: c, then: x, els: els}
	}
	return x, nil
}

func (p *parser) or() (expr, error) {
	return p.joined("or", p.and, func(a, b expr) expr { return &orExpr{a, b} })
}

func (p *parser) and() (expr, error) {
	return p.joined("and", p.not, func(a, b expr) expr { return &andExpr{a, b} })
}

// joined parses operands joined by a keyword, left to right.
func (p *parser) joined(word string, next func() (expr, error), join func(a, b expr) expr) (expr, error) {
	x, err := next()
	for err == nil && p.skipName(word) {
		var y expr
		y, err = next()
		x = join(x, y)
	}
	return x, err
}

func (p *parser) not() (expr, error) {
	if p.skipName("not") {
		if err := p.nest(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		x, err := p.not()
		return &notExpr{x}, err
	}
	return p.compare()
}

func (p *parser) compare() (expr, error) {
	x, err := p.math1()
	if err != nil {
		return nil, err
	}
	c := &compareExpr{first: x}
	for {
		t := p.peek()
		var op string
		switch {
		case t.kind == tokOp && (t.val == "==" || t.val == "!=" || t.val == "<" || t.val == ">" || t.val == "<=" || t.val == ">="):
			op = t.val
			p.pos++
		case t.kind == tokName && t.val == "in":
			op = "in"
			p.pos++
		case t.kind == tokName && t.val == "not" && p.toks[p.pos+1].kind == tokName && p.toks[p.pos+1].val == "in":
			op = "notin"
			p.pos += 2
		default:
			if len(c.ops) == 0 {
				return x, nil
			}
			return c, nil
		}
		y, err := p.math1()
		if err != nil {
			return nil, err
		}
		c.ops, c.rest = append(c.ops, op), append(c.rest, y)
	}
}

func (p *parser) binary(next func() (expr, error), ops ...string) (expr, error) {
	x, err := next()
	for err == nil {
		op := ""
		for _, o := range ops {
			if p.isOp(o) {
				op = o
			}
		}
		if op == "" {
			break
		}
		p.pos++
		var y expr
		y, err = next()
		x = &binExpr{op, x, y}
	}
	return x, err
}

func (p *parser) math1() (expr, error) { return p.binary(p.concat, "+", "-") }

func (p *parser) concat() (expr, error) {
	x, err := p.math2()
	if err != nil || !p.isOp("~") {
		return x, err
	}
	c := &concatExpr{parts: []expr{x}}
	for p.skipOp("~") {
		y, err := p.math2()
		if err != nil {
			return nil, err
		}
		c.parts = append(c.parts, y)
	}
	return c, nil
}

func (p *parser) math2() (expr, error) { return p.binary(p.pow, "*", "/", "//", "%") }

func (p *parser) pow() (expr, error) {
	return p.binary(func() (expr, error) { return p.unary(true) }, "**")
}

func (p *parser) unary(withFilter bool) (expr, error) {
	var x expr
	var err error
	switch {
	case p.isOp("-") || p.isOp("+"):
		op := p.advance().val
		if err := p.nest(); err != nil {
			return nil, err
		}
		defer func() { p.depth-- }()
		var y expr
		if y, err = p.unary(false); err != nil {
			return nil, err
		}
		x = &unaryExpr{op, y}
	default:
		if x, err = p.primary(); err != nil {
			return nil, err
		}
		if x, err = p.postfix(x); err != nil {
			return nil, err
		}
	}
	if withFilter {
		return p.filterChain(x)
	}
	return x, nil
}

func (p *parser) primary() (expr, error) {
	t := p.advance()
	switch t.kind {
	case tokName:
		switch t.val {
		case "true", "True":
			return &literal{true}, nil
		case "false", "False":
			return &literal{false}, nil
		case "none", "None":
			return &literal{nil}, nil
		}
		return &nameExpr{t.val}, nil
	case tokString:
		s := t.val
		for p.peek().kind == tokString {
			s += p.advance().val
		}
		return &literal{s}, nil
	case tokInt:
		v, err := strconv.ParseInt(t.val, 10, 64)
		if err != nil {
			return nil, p.errorf("integer %s out of range", t.val)
		}
		return &literal{v}, nil
	case tokFloat:
		v, err := strconv.ParseFloat(t.val, 64)
		if err != nil {
			return nil, p.errorf("bad float %s", t.val)
		}
		return &literal{v}, nil
	case tokOp:
		switch t.val {
		case "(":
			if p.skipOp(")") {
				return &listExpr{tuple: true}, nil
			}
			x, err := p.tuple(true)
			if err != nil {
				return nil, err
			}
			return x, p.expectOp(")")
		case "[":
			items, err := p.list("]")
			return &listExpr{items: items}, err
		case "{":
			d := &dictExpr{}
			for !p.skipOp("}") {
				if len(d.keys) > 0 {
					if err := p.expectOp(","); err != nil {
						return nil, err
					}
					if p.skipOp("}") {
						break
					}
				}
				k, err := p.expression(true)
				if err != nil {
					return nil, err
				}
				if err := p.expectOp(":"); err != nil {
					return nil, err
				}
				v, err := p.expression(true)
				if err != nil {
					return nil, err
				}
				d.keys, d.vals = append(d.keys, k), append(d.vals, v)
			}
			return d, nil
		}
	}
	p.pos--
	return nil, p.errorf("unexpected %s", t)
}

// list parses comma-separated expressions up to end (a trailing comma allowed).
func (p *parser) list(end string) ([]expr, error) {
	var items []expr
	for !p.skipOp(end) {
		if len(items) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
			if p.skipOp(end) {
				break
			}
		}
		x, err := p.expression(true)
		if err != nil {
			return nil, err
		}
		items = append(items, x)
	}
	return items, nil
}

func (p *parser) postfix(x expr) (expr, error) {
	for {
		switch {
		case p.skipOp("."):
			t := p.advance()
			switch t.kind {
			case tokName:
				x = &attrExpr{x, t.val}
			case tokInt:
				v, _ := strconv.ParseInt(t.val, 10, 64)
				x = &itemExpr{x, &literal{v}}
			default:
				return nil, p.errorf("expected an attribute name, got %s", t)
			}
		case p.skipOp("["):
			s, err := p.subscript(x)
			if err != nil {
				return nil, err
			}
			x = s
		case p.isOp("("):
			c, err := p.call(x)
			if err != nil {
				return nil, err
			}
			x = c
		default:
			return x, nil
		}
	}
}

func (p *parser) subscript(x expr) (expr, error) {
	var parts [3]expr
	i, slice := 0, false
	for {
		if p.skipOp("]") {
			break
		}
		if p.skipOp(":") {
			slice = true
			i++
			if i > 2 {
				return nil, p.errorf("too many ':' in a subscript")
			}
			continue
		}
		if parts[i] != nil {
			return nil, p.errorf("expected ']' or ':', got %s", p.peek())
		}
		e, err := p.expression(true)
		if err != nil {
			return nil, err
		}
		parts[i] = e
	}
	if !slice {
		if parts[0] == nil {
			return nil, p.errorf("empty subscript")
		}
		return &itemExpr{x, parts[0]}, nil
	}
	return &sliceExpr{x, parts[0], parts[1], parts[2]}, nil
}

// args parses a call's arguments after "(".
func (p *parser) args() (args []expr, kwNames []string, kwVals []expr, err error) {
	if err := p.expectOp("("); err != nil {
		return nil, nil, nil, err
	}
	for !p.skipOp(")") {
		if len(args)+len(kwNames) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, nil, nil, err
			}
			if p.skipOp(")") {
				break
			}
		}
		t := p.peek()
		if t.kind == tokName && p.toks[p.pos+1].kind == tokOp && p.toks[p.pos+1].val == "=" {
			p.pos += 2
			v, err := p.expression(true)
			if err != nil {
				return nil, nil, nil, err
			}
			kwNames, kwVals = append(kwNames, t.val), append(kwVals, v)
			continue
		}
		if len(kwNames) > 0 {
			return nil, nil, nil, p.errorf("positional argument follows keyword argument")
		}
		v, err := p.expression(true)
		if err != nil {
			return nil, nil, nil, err
		}
		args = append(args, v)
	}
	return args, kwNames, kwVals, nil
}

func (p *parser) call(fn expr) (expr, error) {
	a, kn, kv, err := p.args()
	return &callExpr{fn: fn, args: a, kwNames: kn, kwVals: kv}, err
}

// filterChain parses "| filter", "is test" and calls after a value.
func (p *parser) filterChain(x expr) (expr, error) {
	for {
		switch {
		case p.skipOp("|"):
			f, err := p.filterCall(x)
			if err != nil {
				return nil, err
			}
			x = f
		case p.skipName("is"):
			t, err := p.test(x)
			if err != nil {
				return nil, err
			}
			x = t
		case p.isOp("("):
			c, err := p.call(x)
			if err != nil {
				return nil, err
			}
			x = c
		default:
			return x, nil
		}
	}
}

func (p *parser) filterCall(x expr) (*filterExpr, error) {
	name, err := p.name()
	if err != nil {
		return nil, err
	}
	for p.isOp(".") && p.toks[p.pos+1].kind == tokName { // dotted filter names
		p.pos++
		name += "." + p.advance().val
	}
	f := &filterExpr{x: x, name: name}
	if p.isOp("(") {
		f.args, f.kwNames, f.kwVals, err = p.args()
	}
	return f, err
}

func (p *parser) test(x expr) (expr, error) {
	t := &testExpr{x: x, negate: p.skipName("not")}
	name, err := p.name()
	if err != nil {
		return nil, err
	}
	t.name = name
	if p.isOp("(") {
		var kn []string
		t.args, kn, _, err = p.args()
		if err == nil && len(kn) > 0 {
			err = p.errorf("test %q takes no keyword arguments", name)
		}
		return t, err
	}
	// One argument without parentheses: "is divisibleby 3", "is sameas none".
	nt := p.peek()
	startsPrimary := nt.kind == tokString || nt.kind == tokInt || nt.kind == tokFloat ||
		nt.kind == tokOp && (nt.val == "(" || nt.val == "[" || nt.val == "{") ||
		nt.kind == tokName && !map[string]bool{"else": true, "or": true, "and": true, "if": true, "in": true, "is": true, "not": true, "recursive": true}[nt.val]
	if startsPrimary {
		a, err := p.primary()
		if err != nil {
			return nil, err
		}
		a, err = p.postfix(a)
		if err != nil {
			return nil, err
		}
		t.args = []expr{a}
	}
	return t, nil
}
