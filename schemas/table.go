package schemas

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Row is implemented by every row type. Key is the row's stable id: shards
// are assigned and sorted by it. Validate names the offending column.
type Row interface {
	Key() string
	Validate() error
}

// Table is one Arrow contract: a named, versioned schema bound to a Go type.
type Table struct {
	Name    string // e.g. "preference"; recorded in file metadata
	Version string // bumped on any incompatible column change

	rowType reflect.Type
	columns []column
	schema  *arrow.Schema // without file metadata
}

type column struct {
	name  string
	field int // index in the Go struct
	kind  kind
}

type kind int

const (
	kindString kind = iota
	kindInt64
	kindInt32
	kindFloat64
	kindBool
	kindOptFloat64 // *float64: nullable
	kindInt32List  // []int32
)

var kindTypes = map[kind]arrow.DataType{
	kindString:     arrow.BinaryTypes.String,
	kindInt64:      arrow.PrimitiveTypes.Int64,
	kindInt32:      arrow.PrimitiveTypes.Int32,
	kindFloat64:    arrow.PrimitiveTypes.Float64,
	kindBool:       arrow.FixedWidthTypes.Boolean,
	kindOptFloat64: arrow.PrimitiveTypes.Float64,
	kindInt32List:  arrow.ListOf(arrow.PrimitiveTypes.Int32),
}

func kindOf(t reflect.Type) (kind, bool) {
	switch {
	case t.Kind() == reflect.String:
		return kindString, true
	case t.Kind() == reflect.Int64:
		return kindInt64, true
	case t.Kind() == reflect.Int32:
		return kindInt32, true
	case t.Kind() == reflect.Float64:
		return kindFloat64, true
	case t.Kind() == reflect.Bool:
		return kindBool, true
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Float64:
		return kindOptFloat64, true
	case t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Int32:
		return kindInt32List, true
	}
	return 0, false
}

var (
	registryMu sync.Mutex
	registry   = map[string]*Table{}
)

// newTable builds and registers a table from a row prototype. It panics on an
// unsupported field type: that is a programming error caught at init.
func newTable(name, version string, proto Row) *Table {
	t := reflect.TypeOf(proto)
	if t.Kind() != reflect.Struct {
		panic(fmt.Sprintf("schemas: %s row type %v is not a struct", name, t))
	}
	tb := &Table{Name: name, Version: version, rowType: t}
	var fields []arrow.Field
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		col := f.Tag.Get("arrow")
		if col == "" {
			panic(fmt.Sprintf("schemas: %s field %s has no arrow tag", name, f.Name))
		}
		k, ok := kindOf(f.Type)
		if !ok {
			panic(fmt.Sprintf("schemas: %s field %s has unsupported type %v", name, f.Name, f.Type))
		}
		tb.columns = append(tb.columns, column{name: col, field: i, kind: k})
		fields = append(fields, arrow.Field{Name: col, Type: kindTypes[k], Nullable: k == kindOptFloat64})
	}
	tb.schema = arrow.NewSchema(fields, nil)
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("schemas: table registered twice: " + name)
	}
	registry[name] = tb
	return tb
}

// Lookup returns the registered table of that name; Beam DoFns carry table
// names, not tables, because DoFn fields must serialise.
func Lookup(name string) (*Table, error) {
	registryMu.Lock()
	defer registryMu.Unlock()
	tb, ok := registry[name]
	if !ok {
		names := make([]string, 0, len(registry))
		for n := range registry {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("schemas: unknown table %q (known: %v)", name, names)
	}
	return tb, nil
}

// Tables lists every registered table, by name.
func Tables() []*Table {
	registryMu.Lock()
	defer registryMu.Unlock()
	out := make([]*Table, 0, len(registry))
	for _, tb := range registry {
		out = append(out, tb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// RowType is the Go struct type of the table's rows.
func (tb *Table) RowType() reflect.Type { return tb.rowType }

// Schema returns the Arrow schema with md attached as file metadata. The
// table name and version are always part of it.
func (tb *Table) Schema(md Metadata) *arrow.Schema {
	md = md.With(KeyTable, tb.Name).With(KeySchemaVersion, tb.Version)
	m := md.arrow()
	return arrow.NewSchema(tb.schema.Fields(), &m)
}

// ColumnNames lists the columns in schema order.
func (tb *Table) ColumnNames() []string {
	out := make([]string, len(tb.columns))
	for i, c := range tb.columns {
		out[i] = c.name
	}
	return out
}

// Encode turns rows (values of the row type) into one record batch with md
// as schema metadata. Rows are validated first; the error names the row.
func (tb *Table) Encode(mem memory.Allocator, rows []Row, md Metadata) (arrow.RecordBatch, error) {
	if err := tb.ValidateRows(rows); err != nil {
		return nil, err
	}
	b := array.NewRecordBuilder(mem, tb.Schema(md))
	defer b.Release()
	for _, r := range rows {
		v := reflect.ValueOf(r)
		for ci, c := range tb.columns {
			appendValue(b.Field(ci), c.kind, v.Field(c.field))
		}
	}
	return b.NewRecordBatch(), nil
}

func appendValue(fb array.Builder, k kind, v reflect.Value) {
	switch k {
	case kindString:
		fb.(*array.StringBuilder).Append(v.String())
	case kindInt64:
		fb.(*array.Int64Builder).Append(v.Int())
	case kindInt32:
		fb.(*array.Int32Builder).Append(int32(v.Int()))
	case kindFloat64:
		fb.(*array.Float64Builder).Append(v.Float())
	case kindBool:
		fb.(*array.BooleanBuilder).Append(v.Bool())
	case kindOptFloat64:
		if v.IsNil() {
			fb.AppendNull()
		} else {
			fb.(*array.Float64Builder).Append(v.Elem().Float())
		}
	case kindInt32List:
		lb := fb.(*array.ListBuilder)
		lb.Append(true)
		vb := lb.ValueBuilder().(*array.Int32Builder)
		vb.AppendValues(v.Interface().([]int32), nil)
	}
}

// CheckSchema reports the first column of s that is missing or has another
// type than the table's, or a table name / schema version mismatch.
func (tb *Table) CheckSchema(s *arrow.Schema) error {
	md := MetadataFrom(s.Metadata())
	if got := md.Get(KeyTable); got != tb.Name {
		return fmt.Errorf("schema metadata %s is %q, want %q", KeyTable, got, tb.Name)
	}
	if got := md.Get(KeySchemaVersion); got != tb.Version {
		return fmt.Errorf("%s schema version is %q, this srdpo reads version %q", tb.Name, got, tb.Version)
	}
	for _, c := range tb.columns {
		idx := s.FieldIndices(c.name)
		if len(idx) == 0 {
			return fmt.Errorf("%s: column %q is missing", tb.Name, c.name)
		}
		if got := s.Field(idx[0]).Type; !arrow.TypeEqual(got, kindTypes[c.kind]) {
			return fmt.Errorf("%s: column %q has type %s, want %s", tb.Name, c.name, got, kindTypes[c.kind])
		}
	}
	return nil
}

// Decode reads every row of rec back into values of the row type, checking
// the schema and validating each row; errors name the column and row.
func (tb *Table) Decode(rec arrow.RecordBatch) ([]Row, error) {
	if err := tb.CheckSchema(rec.Schema()); err != nil {
		return nil, err
	}
	return tb.decode(rec, 0)
}

// decode reads rec, whose schema has been checked; base is the index of its
// first row in the file, so errors name the file's row.
func (tb *Table) decode(rec arrow.RecordBatch, base int) ([]Row, error) {
	n := int(rec.NumRows())
	vals := make([]reflect.Value, n)
	for i := range vals {
		vals[i] = reflect.New(tb.rowType).Elem()
	}
	for _, c := range tb.columns {
		arr := rec.Column(rec.Schema().FieldIndices(c.name)[0])
		for i := 0; i < n; i++ {
			if err := setValue(vals[i].Field(c.field), c.kind, arr, i); err != nil {
				return nil, fmt.Errorf("%s: row %d: column %q: %w", tb.Name, base+i, c.name, err)
			}
		}
	}
	rows := make([]Row, n)
	for i, v := range vals {
		rows[i] = v.Interface().(Row)
	}
	if err := tb.validateRows(rows, base); err != nil {
		return nil, err
	}
	return rows, nil
}

func setValue(dst reflect.Value, k kind, arr arrow.Array, i int) error {
	if arr.IsNull(i) {
		if k == kindOptFloat64 {
			return nil
		}
		return fmt.Errorf("null in a non-nullable column")
	}
	switch k {
	case kindString:
		// A copy: Arrow's string shares the file's buffer, which may be a
		// memory-mapped file that is unmapped after.
		dst.SetString(strings.Clone(arr.(*array.String).Value(i)))
	case kindInt64:
		dst.SetInt(arr.(*array.Int64).Value(i))
	case kindInt32:
		dst.SetInt(int64(arr.(*array.Int32).Value(i)))
	case kindFloat64:
		dst.SetFloat(arr.(*array.Float64).Value(i))
	case kindBool:
		dst.SetBool(arr.(*array.Boolean).Value(i))
	case kindOptFloat64:
		f := arr.(*array.Float64).Value(i)
		dst.Set(reflect.ValueOf(&f))
	case kindInt32List:
		l := arr.(*array.List)
		start, end := l.ValueOffsets(i)
		if start == end {
			break // an empty list reads as nil, as it was most likely written
		}
		vals := l.ListValues().(*array.Int32).Int32Values()[start:end]
		dst.Set(reflect.ValueOf(append([]int32{}, vals...)))
	}
	return nil
}

// RowError is a validation failure located by row and column.
type RowError struct {
	Table  string
	Row    int // -1 when not known
	Column string
	Reason string
}

func (e *RowError) Error() string {
	if e.Row < 0 {
		return fmt.Sprintf("%s: column %q: %s", e.Table, e.Column, e.Reason)
	}
	return fmt.Sprintf("%s: row %d: column %q: %s", e.Table, e.Row, e.Column, e.Reason)
}

// ValidateRows checks each row's type and its own Validate, naming the row.
func (tb *Table) ValidateRows(rows []Row) error { return tb.validateRows(rows, 0) }

func (tb *Table) validateRows(rows []Row, base int) error {
	for j, r := range rows {
		i := base + j
		if reflect.TypeOf(r) != tb.rowType {
			return fmt.Errorf("%s: row %d has type %T, want %v", tb.Name, i, r, tb.rowType)
		}
		if err := r.Validate(); err != nil {
			if re, ok := err.(*RowError); ok {
				re.Table, re.Row = tb.Name, i
				return re
			}
			return fmt.Errorf("%s: row %d: %w", tb.Name, i, err)
		}
	}
	return nil
}

// invalid is how a row's Validate reports a bad column.
func invalid(col, format string, args ...any) *RowError {
	return &RowError{Row: -1, Column: col, Reason: fmt.Sprintf(format, args...)}
}
