package bench

import (
	"encoding/json"
	"fmt"

	"github.com/srdpo/srdpo/stats"
)

// Figure is one measured figure: what was measured (Name, and Path for
// one of several code paths measured side by side), in which Unit, the
// spread of its timed runs or its one Value, and Setting: the shape and
// settings it was measured at (model width, batch, tokens, …). It is
// written as one flat JSON object ("figure", "unit", "median", … beside
// the setting's keys), as bench/pytorch_*.py write theirs and read
// srdpo's.
type Figure struct {
	Name   string
	Path   string
	Unit   string
	What   string // how it is computed, where the name does not say
	Note   string // why it is missing
	Spread *stats.Spread
	Value  *float64
	// PeakRSSMiB and Fits are the parent process's: the group's child's
	// peak resident memory, and false when the kernel killed it for memory.
	PeakRSSMiB float64
	Fits       *bool
	Setting    Setting
}

// Setting is the shape and settings a figure was measured at.
type Setting map[string]any

// with is a copy of s with extra's entries added: a figure's setting from
// its group's common one.
func (s Setting) with(extra Setting) Setting {
	out := Setting{}
	for k, v := range s {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

// spread is f with the spread of its runs.
func (f Figure) spread(xs []float64) Figure {
	s := stats.SpreadOf(xs)
	f.Spread = &s
	return f
}

// value is f with its one value.
func (f Figure) value(v float64) Figure {
	f.Value = &v
	return f
}

// typedKeys are the JSON keys of Figure's own fields; a setting may not
// use them.
var typedKeys = []string{"figure", "path", "unit", "what", "note", "median", "min", "max", "runs", "value", "peak_rss_mib", "fits"}

// MarshalJSON writes the figure as one flat object.
func (f Figure) MarshalJSON() ([]byte, error) {
	m := map[string]any{}
	for k, v := range f.Setting {
		m[k] = v
	}
	for _, k := range typedKeys {
		if _, ok := m[k]; ok {
			return nil, fmt.Errorf("figure %q: setting %q is one of the figure's own fields", f.Name, k)
		}
	}
	m["figure"] = f.Name
	for k, v := range map[string]string{"path": f.Path, "unit": f.Unit, "what": f.What, "note": f.Note} {
		if v != "" {
			m[k] = v
		}
	}
	if f.Spread != nil {
		m["median"], m["min"], m["max"], m["runs"] = f.Spread.Median, f.Spread.Min, f.Spread.Max, f.Spread.Runs
	}
	if f.Value != nil {
		m["value"] = *f.Value
	}
	if f.PeakRSSMiB > 0 {
		m["peak_rss_mib"] = f.PeakRSSMiB
	}
	if f.Fits != nil {
		m["fits"] = *f.Fits
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads a figure MarshalJSON wrote (a child process's).
func (f *Figure) UnmarshalJSON(b []byte) error {
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	str := func(k string) string {
		s, _ := m[k].(string)
		delete(m, k)
		return s
	}
	num := func(k string) (float64, bool) {
		v, ok := m[k].(float64)
		delete(m, k)
		return v, ok
	}
	*f = Figure{Name: str("figure"), Path: str("path"), Unit: str("unit"), What: str("what"), Note: str("note")}
	median, okMedian := num("median")
	lo, _ := num("min")
	hi, _ := num("max")
	runs, _ := num("runs")
	if okMedian {
		f.Spread = &stats.Spread{Median: median, Min: lo, Max: hi, Runs: int(runs)}
	}
	if v, ok := num("value"); ok {
		f.Value = &v
	}
	f.PeakRSSMiB, _ = num("peak_rss_mib")
	if fits, ok := m["fits"].(bool); ok {
		f.Fits = &fits
	}
	delete(m, "fits")
	if len(m) > 0 {
		f.Setting = Setting(m)
	}
	return nil
}
