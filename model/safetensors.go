package model

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"github.com/srdpo/srdpo/atomicfile"
)

// Tensor is one array of a safetensors file, as float64 for convenience.
type Tensor struct {
	Shape []int
	Data  []float64
}

type safetensorsEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// safetensorsFile is an open safetensors file whose header has been
// read; tensors are read one at a time (ReadAt), so that loading a model
// never holds the whole file in memory.
type safetensorsFile struct {
	f       *os.File
	path    string
	base    int64 // where the data starts
	size    int64 // bytes of data
	entries map[string]safetensorsEntry
}

// openSafetensors reads a file's header.
func openSafetensors(path string) (*safetensorsFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	var n uint64
	if err := binary.Read(f, binary.LittleEndian, &n); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: no safetensors header: %w", path, err)
	}
	if n > 100<<20 || int64(n)+8 > st.Size() {
		f.Close()
		return nil, fmt.Errorf("%s: header of %d bytes: not a safetensors file", path, n)
	}
	header := make([]byte, n)
	if _, err := io.ReadFull(f, header); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: short header: %w", path, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	s := &safetensorsFile{f: f, path: path, base: 8 + int64(n), size: st.Size() - 8 - int64(n), entries: map[string]safetensorsEntry{}}
	for name, r := range raw {
		if name == "__metadata__" {
			continue
		}
		var e safetensorsEntry
		if err := json.Unmarshal(r, &e); err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: tensor %s: %w", path, name, err)
		}
		if dtypeSize(e.DType) == 0 {
			continue // integer buffers (attention masks of old GPT-2 files) are not weights
		}
		// The shape is checked against the data section before anything
		// is allocated from it: no negative dimension, no product past
		// what the file holds (which also rules out overflow).
		count, ok := boundedCount(e.Shape, s.size/dtypeSize(e.DType))
		if !ok {
			f.Close()
			return nil, fmt.Errorf("%s: tensor %s: shape %v does not fit the file's %d data bytes", path, name, e.Shape, s.size)
		}
		if e.Offsets[0] < 0 || e.Offsets[1] < e.Offsets[0] || e.Offsets[1] > s.size || e.Offsets[1]-e.Offsets[0] != count*dtypeSize(e.DType) {
			f.Close()
			return nil, fmt.Errorf("%s: tensor %s: offsets %v do not hold %d %s values", path, name, e.Offsets, count, e.DType)
		}
		s.entries[name] = e
	}
	if a, b, ok := overlapping(s.entries); ok {
		f.Close()
		return nil, fmt.Errorf("%s: tensors %s and %s overlap in the data section", path, a, b)
	}
	return s, nil
}

// boundedCount is the product of dims when every one is non-negative and
// the product is at most limit.
func boundedCount(dims []int, limit int64) (int64, bool) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, false
		}
		if d == 0 {
			n = 0
			continue
		}
		if n > limit/int64(d) {
			return 0, false
		}
		n *= int64(d)
	}
	return n, n <= limit
}

// overlapping names two tensors whose byte ranges overlap, if any.
func overlapping(entries map[string]safetensorsEntry) (string, string, bool) {
	names := make([]string, 0, len(entries))
	for n, e := range entries {
		if e.Offsets[1] > e.Offsets[0] {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := entries[names[i]].Offsets, entries[names[j]].Offsets
		return a[0] < b[0] || a[0] == b[0] && names[i] < names[j]
	})
	for i := 1; i < len(names); i++ {
		if entries[names[i]].Offsets[0] < entries[names[i-1]].Offsets[1] {
			return names[i-1], names[i], true
		}
	}
	return "", "", false
}

func (s *safetensorsFile) Close() error { return s.f.Close() }

func dtypeSize(d string) int64 { return map[string]int64{"F64": 8, "F32": 4, "F16": 2, "BF16": 2}[d] }

// read decodes one tensor, calling set for each value in order.
func (s *safetensorsFile) read(name string, set func(i int, v float64)) error {
	e := s.entries[name]
	b := make([]byte, e.Offsets[1]-e.Offsets[0])
	if _, err := s.f.ReadAt(b, s.base+e.Offsets[0]); err != nil {
		return fmt.Errorf("%s: tensor %s: %w", s.path, name, err)
	}
	n := product(e.Shape)
	for i := 0; i < n; i++ {
		switch e.DType {
		case "F64":
			set(i, math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
		case "F32":
			set(i, float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))))
		case "F16":
			set(i, float16(binary.LittleEndian.Uint16(b[2*i:])))
		case "BF16":
			set(i, float64(math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:]))<<16)))
		}
	}
	return nil
}

// ReadSafetensors reads every floating-point tensor of a safetensors file
// (F64, F32, F16 or BF16), converting to float64.
func ReadSafetensors(path string) (map[string]Tensor, error) {
	s, err := openSafetensors(path)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	out := map[string]Tensor{}
	for name, e := range s.entries {
		v := make([]float64, product(e.Shape))
		if err := s.read(name, func(i int, x float64) { v[i] = x }); err != nil {
			return nil, err
		}
		out[name] = Tensor{Shape: e.Shape, Data: v}
	}
	return out, nil
}

func float16(h uint16) float64 {
	sign := 1.0
	if h&0x8000 != 0 {
		sign = -1
	}
	exp, frac := int(h>>10)&0x1f, float64(h&0x3ff)
	switch exp {
	case 0:
		return sign * frac / 1024 * math.Pow(2, -14)
	case 0x1f:
		if frac == 0 {
			return sign * math.Inf(1)
		}
		return math.NaN()
	}
	return sign * (1 + frac/1024) * math.Pow(2, float64(exp-15))
}

// WriteSafetensors writes tensors as F32, in name order, with metadata.
func WriteSafetensors(path string, tensors map[string]Tensor, metadata map[string]string) error {
	return writeSafetensors(path, tensorSource(tensors), metadata)
}

// weightStream gives named weights one at a time, so that a writer holds
// one weight's float64 values, not the whole model's (8 bytes a
// parameter: 25 GB at 3B).
type weightStream struct {
	names  []string // sorted
	shapes map[string][]int
	get    func(name string) ([]float64, error)
}

// tensorSource is a source of tensors already in memory.
func tensorSource(tensors map[string]Tensor) weightStream {
	src := weightStream{shapes: map[string][]int{}, get: func(n string) ([]float64, error) { return tensors[n].Data, nil }}
	for n, t := range tensors {
		src.names = append(src.names, n)
		src.shapes[n] = t.Shape
	}
	sort.Strings(src.names)
	return src
}

// bytes is the float32 data size of the named weights.
func (src weightStream) bytes(names []string) int64 {
	var n int64
	for _, name := range names {
		n += 4 * int64(product(src.shapes[name]))
	}
	return n
}

// writeSafetensors writes the named weights of src as float32, in name
// order, reading one weight at a time into a buffered stream.
func writeSafetensors(path string, src weightStream, metadata map[string]string) error {
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var offset int64
	for _, n := range src.names {
		end := offset + 4*int64(product(src.shapes[n]))
		header[n] = safetensorsEntry{DType: "F32", Shape: src.shapes[n], Offsets: [2]int64{offset, end}}
		offset = end
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hb)%8 != 0 { // the format pads the header with spaces to 8 bytes
		hb = append(hb, ' ')
	}
	return atomicfile.Stream(path, func(w io.Writer) error {
		if _, err := w.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(hb)))); err != nil {
			return err
		}
		if _, err := w.Write(hb); err != nil {
			return err
		}
		var buf []byte
		for _, n := range src.names {
			data, err := src.get(n)
			if err != nil {
				return err
			}
			if len(data) != product(src.shapes[n]) {
				return fmt.Errorf("tensor %s: %d values for shape %v", n, len(data), src.shapes[n])
			}
			buf = buf[:0]
			for _, v := range data {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(float32(v)))
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
		}
		return nil
	})
}
