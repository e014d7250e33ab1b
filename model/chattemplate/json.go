package chattemplate

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// filterToJSON is transformers' tojson (utils/chat_template_utils.py), which
// replaces jinja2's: json.dumps(x, ensure_ascii=False, indent=indent,
// separators=separators, sort_keys=sort_keys), with no HTML escaping.
func filterToJSON(r *renderer, x any, args []any, kw *Dict) (any, error) {
	o := jsonOptions{ensureASCII: truth(kwArg(args, kw, 0, "ensure_ascii", false)), itemSep: ", ", keySep: ": "}
	switch ind := kwArg(args, kw, 1, "indent", nil).(type) {
	case nil:
	case int64:
		o.indent, o.indented = strings.Repeat(" ", int(max(ind, 0))), true
	case string:
		o.indent, o.indented = ind, true
	default:
		return nil, failf("tojson: indent must be an int or a string")
	}
	if o.indented {
		o.itemSep = ","
	}
	if sep := kwArg(args, kw, 2, "separators", nil); sep != nil {
		l, ok := seqOf(sep)
		if !ok || len(l) != 2 {
			return nil, failf("tojson: separators must be a pair of strings")
		}
		o.itemSep, o.keySep = str(l[0]), str(l[1])
	}
	o.sortKeys = truth(kwArg(args, kw, 3, "sort_keys", false))
	var b strings.Builder
	if err := o.write(&b, x, 0, r); err != nil {
		return nil, err
	}
	return b.String(), nil
}

// ToJSON is a template value as compact JSON (object keys in their order,
// non-ASCII kept), as json.dumps(x, ensure_ascii=False, separators=(",", ":")).
func ToJSON(x any) (string, error) {
	r := &renderer{limits: DefaultLimits, out: &strings.Builder{}}
	var b strings.Builder
	err := jsonOptions{itemSep: ",", keySep: ":"}.write(&b, x, 0, r)
	return b.String(), err
}

type jsonOptions struct {
	ensureASCII, indented, sortKeys bool
	indent, itemSep, keySep         string
}

func (o jsonOptions) newline(b *strings.Builder, level int) {
	if o.indented {
		b.WriteByte('\n')
		b.WriteString(strings.Repeat(o.indent, level))
	}
}

func (o jsonOptions) write(b *strings.Builder, x any, level int, r *renderer) error {
	if level > maxNesting {
		return failf("tojson: nested more than %d deep", maxNesting)
	}
	if err := r.built(b.Len()); err != nil {
		return err
	}
	switch v := x.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case float64:
		switch {
		case math.IsNaN(v):
			b.WriteString("NaN")
		case math.IsInf(v, 1):
			b.WriteString("Infinity")
		case math.IsInf(v, -1):
			b.WriteString("-Infinity")
		default:
			b.WriteString(formatFloat(v))
		}
	case string:
		o.writeString(b, v)
	case []any, tuple:
		items, _ := seqOf(x)
		return o.writeList(b, items, level, r)
	case *Dict:
		return o.writeDict(b, v, level, r)
	default:
		return failf("Object of type %s is not JSON serializable", typeName(x))
	}
	return nil
}

// writeList writes a list or tuple as a JSON array.
func (o jsonOptions) writeList(b *strings.Builder, items []any, level int, r *renderer) error {
	if len(items) == 0 {
		b.WriteString("[]")
		return nil
	}
	b.WriteByte('[')
	for i, e := range items {
		if i > 0 {
			b.WriteString(o.itemSep)
		}
		o.newline(b, level+1)
		if err := o.write(b, e, level+1, r); err != nil {
			return err
		}
	}
	o.newline(b, level)
	b.WriteByte(']')
	return nil
}

// jsonItem is one of a dict's entries with its key as JSON writes it.
type jsonItem struct {
	key string
	val any
}

// writeDict writes a dict as a JSON object; keys that are not strings are
// written as Python's json writes them (None as "null", numbers and
// booleans in their JSON form).
func (o jsonOptions) writeDict(b *strings.Builder, v *Dict, level int, r *renderer) error {
	if v.Len() == 0 {
		b.WriteString("{}")
		return nil
	}
	items := make([]jsonItem, 0, v.Len())
	for _, k := range v.keys {
		var ks string
		switch kk := k.(type) {
		case string:
			ks = kk
		case nil:
			ks = "null"
		case int64, float64, bool:
			var kb strings.Builder
			_ = o.write(&kb, kk, level, r)
			ks = kb.String()
		default:
			return failf("keys must be str, int, float, bool or None, not %s", typeName(k))
		}
		items = append(items, jsonItem{ks, v.vals[k]})
	}
	if o.sortKeys {
		sort.SliceStable(items, func(i, j int) bool { return items[i].key < items[j].key })
	}
	b.WriteByte('{')
	for i, it := range items {
		if i > 0 {
			b.WriteString(o.itemSep)
		}
		o.newline(b, level+1)
		o.writeString(b, it.key)
		b.WriteString(o.keySep)
		if err := o.write(b, it.val, level+1, r); err != nil {
			return err
		}
	}
	o.newline(b, level)
	b.WriteByte('}')
	return nil
}

// writeString is Python json's string encoder (ensure_ascii as given).
func (o jsonOptions) writeString(b *strings.Builder, s string) {
	b.WriteByte('"')
	for _, c := range s {
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case c < 0x20:
				fmt.Fprintf(b, `\u%04x`, c)
			case o.ensureASCII && c > 0x7e:
				if c > 0xffff {
					c -= 0x10000
					fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(c>>10), 0xdc00+(c&0x3ff))
				} else {
					fmt.Fprintf(b, `\u%04x`, c)
				}
			default:
				b.WriteRune(c)
			}
		}
	}
	b.WriteByte('"')
}
