package model

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCheckpoint: any variable list and data file in a checkpoint's
// weights folder load as a model of its config or are an error, never a
// panic; the variables listed are checked against the data file before
// GoMLX allocates them, so a list that claims 2^40 bytes or a gzip bomb is
// refused without the memory.
func FuzzCheckpoint(f *testing.F) {
	backend, err := Backend()
	if err != nil {
		f.Fatal(err)
	}
	src := f.TempDir()
	m, err := New(Config{Vocab: 11, Context: 8, Layers: 1, Heads: 2, Width: 4, NormEps: 1e-5, DType: Float32}, 1, backend)
	if err != nil {
		f.Fatal(err)
	}
	if err := m.Save(src); err != nil {
		f.Fatal(err)
	}
	jsons, _ := filepath.Glob(filepath.Join(src, checkpointWeights, "*.json"))
	if len(jsons) != 1 {
		f.Fatalf("saved %v", jsons)
	}
	list, _ := os.ReadFile(jsons[0])
	bin, _ := os.ReadFile(strings.TrimSuffix(jsons[0], ".json") + ".bin")
	config, _ := os.ReadFile(filepath.Join(src, "config.json"))
	f.Add(list, bin)
	var raw bytes.Buffer // the same variables, uncompressed
	zr, err := gzip.NewReader(bytes.NewReader(bin[len(gomlxBinHeader)+1+len(gomlxGzipHeader):]))
	if err != nil {
		f.Fatal(err)
	}
	raw.ReadFrom(zr)
	f.Add(list, raw.Bytes())
	var bomb bytes.Buffer
	bomb.WriteString(gomlxBinHeader + "\x04" + gomlxGzipHeader)
	zw := gzip.NewWriter(&bomb)
	zw.Write(make([]byte, 8<<20))
	zw.Close()
	f.Add([]byte(`{"Variables":[{"ParameterName":"var:/x","Dimensions":[2097152],"DType":"Float32","Pos":0,"Length":8388608}]}`), bomb.Bytes())
	f.Add([]byte(`{"Variables":[{"ParameterName":"var:/x","Dimensions":[1099511627776],"DType":"Float32","Pos":0,"Length":4398046511104}]}`), raw.Bytes())
	f.Add([]byte(`{"Variables":[{"ParameterName":"var:/x","Dimensions":[-4],"DType":"Float32","Pos":0,"Length":-16}]}`), raw.Bytes())
	f.Add([]byte(`{"Variables":[{"ParameterName":"var:/x","Dimensions":[4294967296,4294967296],"DType":"Float64","Pos":0,"Length":0}]}`), raw.Bytes())
	load := func(dir string, list, bin []byte) (*Decoder, error) {
		weights := filepath.Join(dir, checkpointWeights)
		os.Mkdir(weights, 0o755)
		os.WriteFile(filepath.Join(dir, "config.json"), config, 0o644)
		os.WriteFile(filepath.Join(weights, "checkpoint-n0000001.json"), list, 0o644)
		os.WriteFile(filepath.Join(weights, "checkpoint-n0000001.bin"), bin, 0o644)
		return Load(dir, backend)
	}
	for _, b := range [][]byte{bin, raw.Bytes()} {
		if _, err := load(f.TempDir(), list, b); err != nil {
			f.Fatalf("the saved checkpoint does not load: %v", err)
		}
	}
	f.Fuzz(func(t *testing.T, list, bin []byte) {
		got, err := load(t.TempDir(), list, bin)
		if err != nil {
			return
		}
		for _, name := range got.Config.WeightNames() {
			if got.Store.GetVariable(weightPath(name)) == nil {
				t.Errorf("loaded without %s", name)
			}
		}
	})
}
