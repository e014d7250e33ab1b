package stages

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// A Hugging Face dataset folder is Parquet files under data/ whose schema
// metadata key "huggingface" holds {"info": {"features": …}} and a
// README.md dataset card naming the config, splits and features (the
// layout `datasets` writes with push_to_hub). Features are written in the
// forms every `datasets` release reads: Value, Sequence of a Value, and a
// list of structs as a JSON list of one {field: Value} object.

// hfColumn is one column of an exported dataset.
type hfColumn struct {
	name string
	typ  arrow.DataType
}

// hfFeature is a column's `datasets` feature as JSON.
func hfFeature(t arrow.DataType) (any, error) {
	switch t := t.(type) {
	case *arrow.StringType, *arrow.Int64Type, *arrow.Int32Type, *arrow.Float32Type, *arrow.Float64Type, *arrow.BooleanType:
		return orderedJSON{{"dtype", hfDtype(t)}, {"_type", "Value"}}, nil
	case *arrow.ListType:
		elem, err := hfFeature(t.Elem())
		if err != nil {
			return nil, err
		}
		if _, ok := t.Elem().(*arrow.StructType); ok {
			return []any{elem}, nil
		}
		return orderedJSON{{"feature", elem}, {"_type", "Sequence"}}, nil
	case *arrow.StructType:
		out := orderedJSON{}
		for _, f := range t.Fields() {
			v, err := hfFeature(f.Type)
			if err != nil {
				return nil, err
			}
			out = append(out, orderedField{f.Name, v})
		}
		return out, nil
	}
	return nil, fmt.Errorf("no datasets feature for Arrow type %s", t)
}

// orderedJSON is a JSON object that keeps its fields in order.
type orderedJSON []orderedField

type orderedField struct {
	k string
	v any
}

func (o orderedJSON) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.k)
		v, err := json.Marshal(f.v)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// hfFeaturesJSON is the value of the Parquet metadata key "huggingface".
func hfFeaturesJSON(cols []hfColumn) (string, error) {
	features := orderedJSON{}
	for _, c := range cols {
		f, err := hfFeature(c.typ)
		if err != nil {
			return "", fmt.Errorf("column %s: %w", c.name, err)
		}
		features = append(features, orderedField{c.name, f})
	}
	b, err := json.Marshal(map[string]any{"info": map[string]any{"features": features}})
	return string(b), err
}

// hfCardFeature is a column in the card's YAML (dataset_info.features).
func hfCardFeature(b *strings.Builder, indent string, name string, t arrow.DataType) {
	fmt.Fprintf(b, "%s- name: %s\n", indent, name)
	switch t := t.(type) {
	case *arrow.ListType:
		if st, ok := t.Elem().(*arrow.StructType); ok {
			fmt.Fprintf(b, "%s  list:\n", indent)
			for _, f := range st.Fields() {
				hfCardFeature(b, indent+"  ", f.Name, f.Type)
			}
			return
		}
		fmt.Fprintf(b, "%s  sequence: %s\n", indent, hfDtype(t.Elem()))
	default:
		fmt.Fprintf(b, "%s  dtype: %s\n", indent, hfDtype(t))
	}
}

// hfDtype is a Value's dtype as datasets names it.
func hfDtype(t arrow.DataType) string {
	switch t.ID() {
	case arrow.BOOL:
		return "bool"
	case arrow.STRING:
		return "string"
	}
	return t.Name() // int32, int64, float32, float64
}

// hfSplit is one split of an export: its name, rows and files.
type hfSplit struct {
	name  string
	rows  int64
	files int
	bytes int64
}

// hfCard is the README.md of an exported dataset: the YAML `datasets` and
// the Hub read (configs with data_files per split, dataset_info with the
// features and split sizes), then what srdpo recorded, so a user can check
// that both sides of a TRL run agree.
func hfCard(config string, cols []hfColumn, splits []hfSplit, provenance map[string]string) string {
	var b strings.Builder
	b.WriteString("---\nconfigs:\n")
	fmt.Fprintf(&b, "- config_name: %s\n  data_files:\n", config)
	for _, s := range splits {
		fmt.Fprintf(&b, "  - split: %s\n    path: data/%s-*\n", s.name, s.name)
	}
	b.WriteString("dataset_info:\n")
	fmt.Fprintf(&b, "  config_name: %s\n  features:\n", config)
	for _, c := range cols {
		hfCardFeature(&b, "  ", c.name, c.typ)
	}
	b.WriteString("  splits:\n")
	var total int64
	for _, s := range splits {
		fmt.Fprintf(&b, "  - name: %s\n    num_bytes: %d\n    num_examples: %d\n", s.name, s.bytes, s.rows)
		total += s.bytes
	}
	fmt.Fprintf(&b, "  download_size: %d\n  dataset_size: %d\n---\n\n", total, total)
	b.WriteString("# Preference pairs scored by srdpo\n\n")
	b.WriteString("Reference log-probs of each pair, computed by `srdpo score`. `ref_chosen_logps` and\n")
	b.WriteString("`ref_rejected_logps` are sums over the completion tokens only (prompt and padding excluded),\n")
	b.WriteString("as TRL's DPOTrainer defines them. Columns named `srdpo_*` are srdpo's own: the sums on\n")
	b.WriteString("p⊕x (the prompt with the augmentation prompt p) for Sr-DPO / Sr-IPO, exact float64 copies,\n")
	b.WriteString("token counts, gold scores and the pair's id.\n\n")
	b.WriteString("## Settings both sides must share\n\n| setting | value |\n| --- | --- |\n")
	keys := make([]string, 0, len(provenance))
	for k := range provenance {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "| `%s` | `%s` |\n", k, strings.ReplaceAll(provenance[k], "|", `\|`))
	}
	return b.String()
}
