package model

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// safetensorsBytes is a file of a header (as given) and data bytes.
func safetensorsBytes(header string, data int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), make([]byte, data)...)
}

// FuzzSafetensors: any bytes read as a safetensors file give tensors or an
// error, never a panic, and allocate no more than the file holds (a
// tensor's values are read only when its shape and offsets fit the data
// section; overlapping tensors are refused).
func FuzzSafetensors(f *testing.F) {
	dir := f.TempDir()
	good := filepath.Join(dir, "good.safetensors")
	if err := WriteSafetensors(good, map[string]Tensor{"a": {Shape: []int{2, 3}, Data: []float64{1, 2, 3, 4, 5, 6}},
		"b": {Shape: []int{1}, Data: []float64{7}}}, map[string]string{"format": "pt"}); err != nil {
		f.Fatal(err)
	}
	b, _ := os.ReadFile(good)
	f.Add(b)
	for _, h := range []string{
		`{"a":{"dtype":"F32","shape":[-1,4],"data_offsets":[16,0]}}`,                                                    // a negative dimension
		`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,0]}}`,                                  // a product that overflows
		`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}`, // overlap
		`{"a":{"dtype":"F64","shape":[1000000000],"data_offsets":[0,8000000000]}}`,                                      // past the end
		`{"__metadata__":{"x":"y"},"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}`,
		`[1,2]`, `{"a":1}`, strings.Repeat("[", 10000),
	} {
		f.Add(safetensorsBytes(h, 16))
	}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f}) // a header that claims 2^62 bytes
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "f.safetensors")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ts, err := ReadSafetensors(path)
		if err != nil {
			return
		}
		var n int64
		for _, tn := range ts {
			n += int64(len(tn.Data))
		}
		if n > int64(len(data)) {
			t.Errorf("%d values read from a file of %d bytes", n, len(data))
		}
	})
}

// FuzzSafetensorsIndex: any model.safetensors.index.json opens the shards
// it names or is an error, never a panic, and never opens a file outside
// the model's directory (a safetensors file waits one level up, where
// "../outside.safetensors" would find it).
func FuzzSafetensorsIndex(f *testing.F) {
	root := f.TempDir()
	dir := filepath.Join(root, "model")
	if err := os.Mkdir(dir, 0o755); err != nil {
		f.Fatal(err)
	}
	for name, tensors := range map[string]map[string]Tensor{
		filepath.Join(dir, "model-00001-of-00002.safetensors"): {"a": {Shape: []int{2}, Data: []float64{1, 2}}},
		filepath.Join(dir, "model-00002-of-00002.safetensors"): {"b": {Shape: []int{1}, Data: []float64{3}}},
		filepath.Join(root, "outside.safetensors"):             {"c": {Shape: []int{1}, Data: []float64{4}}},
	} {
		if err := WriteSafetensors(name, tensors, nil); err != nil {
			f.Fatal(err)
		}
	}
	for _, s := range []string{
		`{"metadata":{"total_size":12},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}`,
		`{"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors","c":"../outside.safetensors"}}`,
		`{"weight_map":{"c":"` + filepath.Join(root, "outside.safetensors") + `"}}`,
		`{"weight_map":{"a":"model-00002-of-00002.safetensors"}}`,
		`{"weight_map":{"a":"."}}`, `{"weight_map":[]}`, `null`, strings.Repeat(`{"a":`, 10000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, index []byte) {
		if err := os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), index, 0o644); err != nil {
			t.Fatal(err)
		}
		w, err := openHFWeights(dir)
		if err != nil {
			return
		}
		defer w.Close()
		for _, sf := range w.files {
			if filepath.Dir(sf.path) != dir {
				t.Errorf("the index made the loader open %s, outside %s", sf.path, dir)
			}
		}
	})
}
