// Package chattemplate renders Hugging Face chat templates: the Jinja
// program a model's tokenizer_config.json carries to turn a conversation
// into the text the model was trained on. It reproduces what transformers'
// apply_chat_template renders (utils/chat_template_utils.py): jinja2's
// ImmutableSandboxedEnvironment with trim_blocks and lstrip_blocks, the
// loopcontrols and {% generation %} extensions, transformers' tojson,
// raise_exception and strftime_now, and the variables it passes.
//
// It is its own interpreter, not a binding, so that a template is a
// program in a sandbox: it reaches nothing but the values it is given, and
// every render is bounded in work, output size and nesting (Limits) — a
// template that loops, recurses or builds a huge string fails with an
// error, in bounded time and memory.
package chattemplate

import (
	"fmt"
	"strings"
	"time"
)

// MaxSourceBytes bounds a template's text (real ones are under 20 KB).
const MaxSourceBytes = 1 << 20

// Template is a compiled template. It is safe for concurrent renders.
type Template struct {
	nodes  []node
	limits Limits
	now    func() time.Time
}

// Compile parses a template.
func Compile(src string) (*Template, error) {
	if len(src) > MaxSourceBytes {
		return nil, fmt.Errorf("chat template: %d bytes is over the limit of %d", len(src), MaxSourceBytes)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, err
	}
	nodes, err := parse(toks)
	if err != nil {
		return nil, err
	}
	return &Template{nodes: nodes, limits: DefaultLimits, now: time.Now}, nil
}

// WithLimits is the template with other limits.
func (t *Template) WithLimits(l Limits) *Template {
	c := *t
	c.limits = l
	return &c
}

// WithClock is the template with strftime_now reading the given clock
// (tests pin it; transformers reads the local time).
func (t *Template) WithClock(now func() time.Time) *Template {
	c := *t
	c.now = now
	return &c
}

// Render renders the template with the given variables (values as FromJSON
// makes them).
func (t *Template) Render(vars map[string]any) (_ string, err error) {
	defer func() {
		switch p := recover().(type) {
		case nil:
		case unhashable:
			err = failf("unhashable type: '%s'", p.typ)
		default:
			panic(p)
		}
	}()
	var out strings.Builder
	r := &renderer{limits: t.limits, out: &out}
	s := newScope(nil)
	s.vars["strftime_now"] = builtinFunc(func(_ *renderer, args []any, _ *Dict) (any, error) {
		if len(args) != 1 {
			return nil, failf("strftime_now takes one format")
		}
		return strftime(t.now(), str(args[0])), nil
	})
	top := newScope(s)
	for k, v := range vars {
		top.vars[k] = v
	}
	err = r.execAll(t.nodes, top)
	switch err {
	case nil:
		return out.String(), nil
	case errBreak, errContinue:
		return "", failf("%v", err)
	}
	return "", err
}

// strftime is Python's datetime.strftime for the directives templates use.
func strftime(t time.Time, format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 == len(format) {
			b.WriteByte(format[i])
			continue
		}
		i++
		switch format[i] {
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'e':
			fmt.Fprintf(&b, "%2d", t.Day())
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'Y':
			fmt.Fprintf(&b, "%d", t.Year())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'I':
			fmt.Fprintf(&b, "%02d", (t.Hour()+11)%12+1)
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'p':
			b.WriteString(map[bool]string{true: "AM", false: "PM"}[t.Hour() < 12])
		case 'b', 'h':
			b.WriteString(t.Month().String()[:3])
		case 'B':
			b.WriteString(t.Month().String())
		case 'a':
			b.WriteString(t.Weekday().String()[:3])
		case 'A':
			b.WriteString(t.Weekday().String())
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'w':
			fmt.Fprintf(&b, "%d", int(t.Weekday()))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}
