package chattemplate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Values a template computes with, as Python's jinja2 sees them:
//
//	None       nil
//	bool       bool
//	int        int64
//	float      float64
//	str        string
//	list       []any
//	tuple      tuple
//	dict       *Dict (insertion order kept, as Python's dict)
//	namespace  *Namespace
//	undefined  Undefined
//	callables  *Macro, builtinFunc, boundMethod
type (
	// Undefined is a name or attribute that does not exist; it renders as
	// nothing and is false, as jinja2's default Undefined.
	Undefined struct{ hint string }

	// Dict is an insertion-ordered dict with string, int, bool or None keys.
	Dict struct {
		keys []any
		vals map[any]any
	}

	// tuple is a Python tuple: a list that prints in parentheses.
	tuple []any

	// Namespace is jinja2's namespace(): the one object whose attributes
	// a template may set.
	Namespace struct{ attrs *Dict }

	builtinFunc func(r *renderer, args []any, kw *Dict) (any, error)

	boundMethod struct {
		name string
		fn   builtinFunc
	}
)

// NewDict is an empty dict.
func NewDict() *Dict { return &Dict{vals: map[any]any{}} }

// Set sets d[k] = v, keeping the first insertion's place.
func (d *Dict) Set(k, v any) {
	k = dictKey(k)
	if _, ok := d.vals[k]; !ok {
		d.keys = append(d.keys, k)
	}
	d.vals[k] = v
}

// Get is d[k].
func (d *Dict) Get(k any) (any, bool) {
	if d == nil {
		return nil, false
	}
	v, ok := d.vals[dictKey(k)]
	return v, ok
}

// Len is the number of keys.
func (d *Dict) Len() int {
	if d == nil {
		return 0
	}
	return len(d.keys)
}

// Keys are the keys in insertion order.
func (d *Dict) Keys() []any {
	if d == nil {
		return nil
	}
	return d.keys
}

// unhashable is the panic of a dict key Python could not hash (a list, a
// dict, here also a tuple): Render turns it into Python's TypeError.
type unhashable struct{ typ string }

// dictKey makes Python-equal keys one Go map key (1 == 1.0 == True).
func dictKey(k any) any {
	if t := reflect.TypeOf(k); t != nil && (!t.Comparable() || t == reflect.TypeFor[*Dict]()) {
		panic(unhashable{typeName(k)})
	}
	switch v := k.(type) {
	case bool:
		if v {
			return int64(1)
		}
		return int64(0)
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<62 {
			return int64(v)
		}
	}
	return k
}

// ParseJSON decodes JSON text into template values as Python's json.loads
// does: objects keep their key order, integers stay integers.
func ParseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := decodeJSON(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("JSON: text after the value")
	}
	return v, nil
}

// ParseKwargs reads a JSON object of template variables (TRL's
// chat_template_kwargs) into vars, over what is there.
func ParseKwargs(raw []byte, vars map[string]any) error {
	v, err := ParseJSON(raw)
	if err != nil {
		return err
	}
	d, ok := v.(*Dict)
	if !ok {
		return fmt.Errorf("want a JSON object of template variables")
	}
	for _, k := range d.Keys() {
		vars[k.(string)], _ = d.Get(k)
	}
	return nil
}

// maxJSONDepth bounds nesting, as Python's recursion limit does.
const maxJSONDepth = 500

func decodeJSON(dec *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("JSON nested more than %d deep", maxJSONDepth)
	}
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch x := t.(type) {
	case json.Delim:
		switch x {
		case '[':
			out := []any{}
			for dec.More() {
				v, err := decodeJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			_, err := dec.Token()
			return out, err
		case '{':
			d := NewDict()
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				d.Set(k.(string), v)
			}
			_, err := dec.Token()
			return d, err
		}
		return nil, fmt.Errorf("JSON: unexpected %v", x)
	case json.Number:
		return FromJSON(x), nil
	}
	return t, nil // string, bool, nil
}

// FromJSON turns a decoded JSON value (encoding/json with UseNumber, or
// plain float64 numbers) into template values. JSON objects keep their
// key order only when given as *Dict; maps are sorted by key.
func FromJSON(v any) any {
	switch x := v.(type) {
	case map[string]any:
		d := NewDict()
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			d.Set(k, FromJSON(x[k]))
		}
		return d
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = FromJSON(e)
		}
		return out
	case float64:
		return x
	case int:
		return int64(x)
	case int64, string, bool, nil, *Dict:
		return x
	case json.Number:
		s := x.String()
		if !strings.ContainsAny(s, ".eE") {
			if i, err := strconv.ParseInt(s, 10, 64); err == nil {
				return i
			}
		}
		f, _ := strconv.ParseFloat(s, 64)
		return f
	}
	return v
}

// truth is Python's bool(v).
func truth(v any) bool {
	switch x := v.(type) {
	case nil, Undefined:
		return false
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	case string:
		return x != ""
	case []any:
		return len(x) > 0
	case tuple:
		return len(x) > 0
	case *Dict:
		return x.Len() > 0
	}
	return true
}

// typeName is Python's type name of v, for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case Undefined:
		return "Undefined"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case tuple:
		return "tuple"
	case *Dict:
		return "dict"
	case *Namespace:
		return "Namespace"
	case *Macro:
		return "Macro"
	case *loopInfo:
		return "LoopContext"
	}
	return "builtin_function_or_method"
}

// str is Python's str(v), as {{ v }} prints it.
func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case Undefined:
		return ""
	}
	return repr(v)
}

// repr is Python's repr(v).
func repr(v any) string {
	var b strings.Builder
	writeRepr(&b, v)
	return b.String()
}

func writeRepr(b *strings.Builder, v any) {
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case Undefined:
		b.WriteString("")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		b.WriteString(formatFloat(x))
	case string:
		writeStringRepr(b, x)
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e)
		}
		b.WriteByte(']')
	case tuple:
		b.WriteByte('(')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e)
		}
		if len(x) == 1 {
			b.WriteByte(',')
		}
		b.WriteByte(')')
	case *Dict:
		b.WriteByte('{')
		for i, k := range x.keys {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, k)
			b.WriteString(": ")
			writeRepr(b, x.vals[k])
		}
		b.WriteByte('}')
	case *Namespace:
		b.WriteString("<Namespace ")
		writeRepr(b, x.attrs)
		b.WriteByte('>')
	case *Macro:
		fmt.Fprintf(b, "<Macro '%s'>", x.name)
	default:
		b.WriteString("<function>")
	}
}

// formatFloat is Python's repr of a float: the shortest digits that read
// back, with ".0" on integral values and exponents from 1e16 and below 1e-4.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	abs := math.Abs(f)
	if abs != 0 && (abs >= 1e16 || abs < 1e-4) {
		s := strconv.FormatFloat(f, 'e', -1, 64)
		// Go writes e+16 and e-05 as Python does; nothing to change.
		return s
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// writeStringRepr is Python's repr of a str: single quotes unless the text
// has a single quote and no double quote.
func writeStringRepr(b *strings.Builder, s string) {
	q := byte('\'')
	if strings.ContainsRune(s, '\'') && !strings.ContainsRune(s, '"') {
		q = '"'
	}
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(b, `\x%02x`, r)
		case r >= 0x80 && !unicode.IsPrint(r) && r != utf8.RuneError:
			switch {
			case r <= 0xff:
				fmt.Fprintf(b, `\x%02x`, r)
			case r <= 0xffff:
				fmt.Fprintf(b, `\u%04x`, r)
			default:
				fmt.Fprintf(b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
}

// equal is Python's ==.
func equal(a, b any) bool {
	if na, ok := number(a); ok {
		if nb, ok := number(b); ok {
			return na == nb
		}
		return false
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case Undefined:
		_, ok := b.(Undefined)
		return ok
	case string:
		y, ok := b.(string)
		return ok && x == y
	case tuple:
		y, ok := b.(tuple)
		return ok && equal([]any(x), []any(y))
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case *Dict:
		y, ok := b.(*Dict)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for _, k := range x.keys {
			w, ok := y.vals[k]
			if !ok || !equal(x.vals[k], w) {
				return false
			}
		}
		return true
	}
	if ta := reflect.TypeOf(a); ta != reflect.TypeOf(b) || !ta.Comparable() {
		// Values FromJSON did not make (Go maps given to Render): == on
		// them would panic.
		return ta == reflect.TypeOf(b) && reflect.DeepEqual(a, b)
	}
	return a == b
}

// seqOf is a list's or a tuple's items.
func seqOf(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case tuple:
		return x, true
	}
	return nil, false
}

// number is v as a float64 when v is a Python number (bool included).
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// compare is Python's ordering of two numbers or two strings.
func compare(a, b any) (int, error) {
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	}
	if _, ok := a.(bool); !ok {
		if _, ok := b.(bool); !ok {
			if x, ok := a.(int64); ok {
				if y, ok := b.(int64); ok {
					switch {
					case x < y:
						return -1, nil
					case x > y:
						return 1, nil
					}
					return 0, nil
				}
			}
		}
	}
	x, ok1 := number(a)
	y, ok2 := number(b)
	if !ok1 || !ok2 {
		return 0, fmt.Errorf("'<' not supported between instances of '%s' and '%s'", typeName(a), typeName(b))
	}
	switch {
	case x < y:
		return -1, nil
	case x > y:
		return 1, nil
	}
	return 0, nil
}
