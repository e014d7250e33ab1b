package chattemplate

import (
	"fmt"
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
