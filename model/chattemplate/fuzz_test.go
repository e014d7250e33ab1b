package chattemplate

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// FuzzRender: any template source compiles or is refused, and renders a
// conversation or stops with an error — never a panic, never past its
// limits (a small work budget here, so that a template that loops forever
// stops at once; the output bound is checked on what comes back).
func FuzzRender(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "templates", "*.jinja"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	for _, src := range []string{
		`{% for m in messages %}{{ m.role }}: {{ m.content }}{% endfor %}`,
		`{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}`, // a loop that would not end
		`{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}`,                            // unbounded recursion
		`{% set s = "x" %}{% for i in range(60) %}{% set s = s ~ s %}{% endfor %}{{ s }}`,   // doubling output
		`{% set d = {[1]: 2} %}`, `{{ {(1, 2): 3} }}`, // unhashable keys
		`{{ raise_exception("no") }}`, `{{ messages[0].__class__ }}`, `{% if %}`,
	} {
		f.Add(src)
	}
	limits := Limits{Work: 200_000, Output: 1 << 20, Depth: 50}
	vars := map[string]any{"messages": FromJSON([]any{map[string]any{"role": "user", "content": "hi"}, map[string]any{"role": "assistant", "content": "hello"}}),
		"add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>"}
	f.Fuzz(func(t *testing.T, src string) {
		tpl, err := Compile(src)
		if err != nil {
			return
		}
		start := time.Now()
		out, err := tpl.WithLimits(limits).Render(vars)
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("a render took %v", d)
		}
		var le *LimitError
		if err != nil && errors.As(err, &le) {
			return
		}
		if len(out) > limits.Output {
			t.Errorf("%d bytes rendered past the output limit %d", len(out), limits.Output)
		}
	})
}
