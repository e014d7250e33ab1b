package chattemplate

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Hostile templates fail with a clear error, in bounded time and memory,
// and reach nothing outside the values they are given.
func TestSandboxBoundsHostileTemplates(t *testing.T) {
	for _, c := range []struct {
		name, src, want string
		limit           bool // a LimitError, not jinja2's own error
	}{
		{"nested loops without end", "{% for a in range(100000) %}{% for b in range(100000) %}{{ '' }}{% endfor %}{% endfor %}", "work budget", true},
		{"recursion", "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "nested deeper than 100", true},
		{"recursive loop", "{% for x in [[1]] recursive %}{{ loop([x]) }}{% endfor %}", "recursion deeper than 100", true},
		{"gigabyte string", "{% set s = 'x' * 1000000000 %}{{ s }}", "larger than the limit", true},
		{"doubling string", "{% set ns = namespace(s='xx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}", "larger than the limit", true},
		{"huge output", "{% for i in range(100000) %}{{ 'y' * 1000 }}{% endfor %}", "output is larger than the limit", true},
		{"huge list", "{% set l = [0] * 100000000 %}{{ l | length }}", "larger than the limit", true},
		{"list doubling", "{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = ns.l + ns.l %}{% endfor %}", "larger than the limit", true},
		{"range", "{{ range(1000000) | length }}", "Range too big", false},
		{"python internals", "{{ ''.__class__.__mro__ }}", "access to attribute '__class__' of 'str' object is unsafe", false},
		{"globals of a function", "{{ namespace.__globals__ }}", "unsafe", false},
		{"mutation", "{% set d = {} %}{{ d.update({'a': 1}) }}", "access to attribute 'update' of 'dict' object is unsafe", false},
		{"deep parentheses", strings.Repeat("{{ ", 1) + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000) + " }}", "nested more than 200 deep", false},
		{"deep blocks", strings.Repeat("{% if true %}", 10000) + "x" + strings.Repeat("{% endif %}", 10000), "nested more than 200 deep", false},
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		start := time.Now()
		tmpl, err := Compile(c.src)
		if err == nil {
			_, err = tmpl.Render(map[string]any{"messages": []any{}})
		}
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: want an error with %q, got %v", c.name, c.want, err)
			continue
		}
		var le *LimitError
		if c.limit != errors.As(err, &le) {
			t.Errorf("%s: %v is a limit error: %v, want %v", c.name, err, errors.As(err, &le), c.limit)
		}
		// Bounded: the default limits allow 16 MiB values and 5M steps.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<30 {
			t.Errorf("%s: allocated %d MB", c.name, alloc>>20)
		}
		t.Logf("%s: %v after %v, %d MB allocated", c.name, err, elapsed.Round(time.Millisecond), (after.TotalAlloc-before.TotalAlloc)>>20)
	}
}

// Names the program has are not the template's: only what it is given.
func TestSandboxSeesOnlyItsValues(t *testing.T) {
	tmpl, err := Compile("[{{ os }}{{ self }}{{ config }}{{ request }}{{ environ }}{{ cycler }}{{ lipsum }}]{{ x }}")
	if err != nil {
		t.Fatal(err)
	}
	got, err := tmpl.Render(map[string]any{"x": "given"})
	if err != nil || got != "[]given" {
		t.Errorf("got %q, %v", got, err)
	}
}

// The limits are the caller's to set.
func TestLimitsAreSettable(t *testing.T) {
	tmpl, err := Compile("{% for i in range(1000) %}{{ i }}{% endfor %}")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmpl.WithLimits(Limits{Work: 500, Output: 1 << 20, Depth: 10}).Render(nil); err == nil {
		t.Error("a 500-step budget let 1,000 iterations through")
	}
	if _, err := tmpl.Render(nil); err != nil {
		t.Error(err)
	}
}

// tokenizer_config.json's list of named templates: "tool_use" when tools
// are given and it exists, else "default"; a name picks one; without a
// default the error lists the names (transformers' get_chat_template).
func TestNamedTemplates(t *testing.T) {
	cfg := `{"bos_token": {"content": "<s>", "__type": "AddedToken"}, "chat_template": [
		{"name": "default", "template": "D{{ bos_token }}"}, {"name": "tool_use", "template": "T{{ tools | length }}"}, {"name": "rag", "template": "R"}]}`
	c, ok, err := FromTokenizerConfig("cfg", []byte(cfg))
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	for _, r := range []struct {
		req  Request
		want string
	}{
		{Request{}, "D<s>"},
		{Request{Tools: []any{"a", "b"}}, "T2"},
		{Request{Name: "rag"}, "R"},
	} {
		if got, err := c.Apply(r.req); err != nil || got != r.want {
			t.Errorf("%+v: %q, %v; want %q", r.req, got, err, r.want)
		}
	}
	if _, err := c.Apply(Request{Name: "nope"}); err == nil || !strings.Contains(err.Error(), "default, rag, tool_use") {
		t.Errorf("unknown name: %v", err)
	}
	c, _, _ = FromTokenizerConfig("cfg", []byte(`{"chat_template": [{"name": "a", "template": "A"}, {"name": "b", "template": "B"}]}`))
	if _, err := c.Apply(Request{}); err == nil || !strings.Contains(err.Error(), "none named default (it has a, b)") {
		t.Errorf("no default: %v", err)
	}
	if _, ok, err := FromTokenizerConfig("cfg", []byte(`{"eos_token": "</s>"}`)); ok || err != nil {
		t.Errorf("a config without a template: %v %v", ok, err)
	}
}
