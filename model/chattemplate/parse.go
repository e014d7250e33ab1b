package chattemplate

import (
	"fmt"
)

// The parser follows jinja2's parser.py: the same statements, the same
// operator precedence (condexpr < or < and < not < compare < +,- < ~ <
// *,/,//,% < ** < unary < postfix and filters).

type (
	node interface{}
	expr interface{}

	textNode   struct{ s string }
	outputNode struct{ x expr }
	ifNode     struct {
		conds  []expr
		bodies [][]node
		els    []node
	}
	forNode struct {
		targets   []string
		iter      expr
		cond      expr
		body, els []node
		recursive bool
		line      int
	}
	setNode struct {
		targets []string // one name, or names to unpack
		ns      string   // set ns.attr = …
		x       expr
		body    []node // {% set x %}…{% endset %}
		filters []*filterExpr
	}
	macroNode struct {
		name string
		m    *Macro
	}
	filterBlockNode struct {
		filters []*filterExpr
		body    []node
	}
	loopControl struct{ brk bool }
	// generationNode is transformers' {% generation %} block: rendered as
	// its body (it only marks assistant text for masks).
	generationNode struct{ body []node }

	literal  struct{ v any }
	nameExpr struct{ name string }
	listExpr struct {
		items []expr
		tuple bool
	}
	dictExpr struct{ keys, vals []expr }
	attrExpr struct {
		x    expr
		name string
	}
	itemExpr  struct{ x, key expr }
	sliceExpr struct{ x, start, stop, step expr }
	callExpr  struct {
		fn      expr
		args    []expr
		kwNames []string
		kwVals  []expr
	}
	filterExpr struct {
		x       expr // nil inside a filter block or chain head
		name    string
		args    []expr
		kwNames []string
		kwVals  []expr
	}
	testExpr struct {
		x      expr
		name   string
		args   []expr
		negate bool
	}
	unaryExpr struct {
		op string
		x  expr
	}
	binExpr struct {
		op   string
		a, b expr
	}
	concatExpr  struct{ parts []expr }
	compareExpr struct {
		first expr
		ops   []string
		rest  []expr
	}
	andExpr  struct{ a, b expr }
	orExpr   struct{ a, b expr }
	notExpr  struct{ x expr }
	condExpr struct{ cond, then, els expr }
)

// maxNesting bounds how deeply expressions and blocks nest, so a crafted
// template cannot exhaust the parser's stack.
const maxNesting = 200

type parser struct {
	toks  []token
	pos   int
	depth int
}

func parse(toks []token) ([]node, error) {
	p := &parser{toks: toks}
	body, end, err := p.body()
	if err != nil {
		return nil, err
	}
	if end != "" {
		return nil, p.errorf("unexpected {%% %s %%}", end)
	}
	return body, nil
}

func (p *parser) peek() token { return p.toks[p.pos] }

func (p *parser) advance() token {
	t := p.toks[p.pos]
	if t.kind != tokEOF {
		p.pos++
	}
	return t
}

func (p *parser) errorf(format string, args ...any) error {
	return &SyntaxError{Line: p.peek().line, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) isOp(op string) bool {
	t := p.peek()
	return t.kind == tokOp && t.val == op
}

func (p *parser) isName(n string) bool {
	t := p.peek()
	return t.kind == tokName && t.val == n
}

func (p *parser) skipOp(op string) bool {
	if p.isOp(op) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) skipName(n string) bool {
	if p.isName(n) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expectOp(op string) error {
	if !p.skipOp(op) {
		return p.errorf("expected %q, got %s", op, p.peek())
	}
	return nil
}

func (p *parser) expectEnd() error {
	if p.peek().kind != tokEnd {
		return p.errorf("expected end of tag, got %s", p.peek())
	}
	p.pos++
	return nil
}

func (p *parser) name() (string, error) {
	t := p.peek()
	if t.kind != tokName {
		return "", p.errorf("expected a name, got %s", t)
	}
	p.pos++
	return t.val, nil
}

func (p *parser) nest() error {
	p.depth++
	if p.depth > maxNesting {
		return p.errorf("nested more than %d deep", maxNesting)
	}
	return nil
}

// body parses nodes up to a block tag it does not know (an end or else
// tag), which it returns by name, leaving the parser after that name.
func (p *parser) body() ([]node, string, error) {
	if err := p.nest(); err != nil {
		return nil, "", err
	}
	defer func() { p.depth-- }()
	var out []node
	for {
		t := p.advance()
		switch t.kind {
		case tokEOF:
			return out, "", nil
		case tokText:
			out = append(out, &textNode{t.val})
		case tokVar:
			x, err := p.tuple(true)
			if err != nil {
				return nil, "", err
			}
			if err := p.expectEnd(); err != nil {
				return nil, "", err
			}
			out = append(out, &outputNode{x})
		case tokBlock:
			kw, err := p.name()
			if err != nil {
				return nil, "", err
			}
			n, err := p.statement(kw)
			if err != nil {
				return nil, "", err
			}
			if n == nil {
				return out, kw, nil
			}
			out = append(out, n)
		default:
			return nil, "", p.errorf("unexpected %s", t)
		}
	}
}

// statement parses the block tag kw; nil for a tag that ends a body.
func (p *parser) statement(kw string) (node, error) {
	switch kw {
	case "if":
		return p.ifStatement()
	case "for":
		return p.forStatement()
	case "set":
		return p.setStatement()
	case "macro":
		return p.macroStatement()
	case "filter":
		return p.filterBlock()
	case "break", "continue":
		return &loopControl{brk: kw == "break"}, p.expectEnd()
	case "generation":
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		body, err := p.until("endgeneration")
		return &generationNode{body}, err
	case "endif", "elif", "else", "endfor", "endset", "endmacro", "endfilter", "endgeneration":
		return nil, nil
	}
	return nil, p.errorf("unknown tag %q", kw)
}

// until parses a body that must end with {% end %}.
func (p *parser) until(end string) ([]node, error) {
	body, kw, err := p.body()
	if err != nil {
		return nil, err
	}
	if kw != end {
		return nil, p.errorf("expected {%% %s %%}, got %s", end, orEOF(kw))
	}
	return body, p.expectEnd()
}

func orEOF(kw string) string {
	if kw == "" {
		return "the end of the template"
	}
	return "{% " + kw + " %}"
}

func (p *parser) ifStatement() (node, error) {
	n := &ifNode{}
	for {
		c, err := p.tuple(true)
		if err != nil {
			return nil, err
		}
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		body, kw, err := p.body()
		if err != nil {
			return nil, err
		}
		n.conds, n.bodies = append(n.conds, c), append(n.bodies, body)
		if kw != "elif" {
			n.els, err = p.elseThenEnd(kw, "endif")
			return n, err
		}
	}
}

// elseThenEnd finishes a block whose body ended at tag kw: an {% else %}
// body then {% end %}, or {% end %} alone.
func (p *parser) elseThenEnd(kw, end string) ([]node, error) {
	switch kw {
	case "else":
		if err := p.expectEnd(); err != nil {
			return nil, err
		}
		return p.until(end)
	case end:
		return nil, p.expectEnd()
	}
	return nil, p.errorf("expected {%% %s %%}, got %s", end, orEOF(kw))
}

// names parses "a" or "a, b, …".
func (p *parser) names() ([]string, error) {
	var out []string
	for {
		t, err := p.name()
		if err != nil {
			return nil, err
		}
		out = append(out, t)
		if !p.skipOp(",") {
			return out, nil
		}
	}
}

func (p *parser) forStatement() (node, error) {
	n := &forNode{line: p.peek().line}
	var err error
	if n.targets, err = p.names(); err != nil {
		return nil, err
	}
	if !p.skipName("in") {
		return nil, p.errorf("expected 'in' in a for tag, got %s", p.peek())
	}
	if n.iter, err = p.tuple(false); err != nil {
		return nil, err
	}
	if p.skipName("if") {
		if n.cond, err = p.expression(true); err != nil {
			return nil, err
		}
	}
	n.recursive = p.skipName("recursive")
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	body, kw, err := p.body()
	if err != nil {
		return nil, err
	}
	n.body = body
	n.els, err = p.elseThenEnd(kw, "endfor")
	return n, err
}

func (p *parser) setStatement() (node, error) {
	n := &setNode{}
	first, err := p.name()
	if err != nil {
		return nil, err
	}
	switch {
	case p.skipOp("."):
		attr, err := p.name()
		if err != nil {
			return nil, err
		}
		n.ns, n.targets = first, []string{attr}
	case p.skipOp(","):
		rest, err := p.names()
		if err != nil {
			return nil, err
		}
		n.targets = append([]string{first}, rest...)
	default:
		n.targets = []string{first}
	}
	if p.skipOp("=") {
		if n.x, err = p.tuple(true); err != nil {
			return nil, err
		}
		return n, p.expectEnd()
	}
	// {% set x | filters %}…{% endset %}
	for p.skipOp("|") {
		f, err := p.filterCall(nil)
		if err != nil {
			return nil, err
		}
		n.filters = append(n.filters, f)
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	n.body, err = p.until("endset")
	return n, err
}

func (p *parser) macroStatement() (node, error) {
	name, err := p.name()
	if err != nil {
		return nil, err
	}
	m := &Macro{name: name}
	if err := p.expectOp("("); err != nil {
		return nil, err
	}
	for !p.skipOp(")") {
		if len(m.params) > 0 {
			if err := p.expectOp(","); err != nil {
				return nil, err
			}
		}
		a, err := p.name()
		if err != nil {
			return nil, err
		}
		var def expr
		if p.skipOp("=") {
			if def, err = p.expression(true); err != nil {
				return nil, err
			}
		} else if len(m.defaults) > 0 && m.defaults[len(m.defaults)-1] != nil {
			return nil, p.errorf("non-default argument follows default argument")
		}
		m.params, m.defaults = append(m.params, a), append(m.defaults, def)
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	m.body, err = p.until("endmacro")
	return &macroNode{name: name, m: m}, err
}

func (p *parser) filterBlock() (node, error) {
	n := &filterBlockNode{}
	for {
		f, err := p.filterCall(nil)
		if err != nil {
			return nil, err
		}
		n.filters = append(n.filters, f)
		if !p.skipOp("|") {
			break
		}
	}
	if err := p.expectEnd(); err != nil {
		return nil, err
	}
	var err error
	n.body, err = p.until("endfilter")
	return n, err
}
