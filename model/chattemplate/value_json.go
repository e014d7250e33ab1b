package chattemplate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

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
