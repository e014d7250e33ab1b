package model

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeHandMadeGPT2 writes, byte by byte, a one-layer GPT-2 of width 2 whose
// attention and MLP are all zeros, so each block adds nothing and the
// logits are LayerNorm(wte[token]) · wteᵀ. wte is stored as F16, the rest
// as F32, names carry the "transformer." prefix of GPT2LMHeadModel files,
// and an old-style attention-mask buffer is present.
func writeHandMadeGPT2(t *testing.T, dir string) {
	t.Helper()
	type entry struct {
		name  string
		dtype DType
		shape []int
		vals  []float64
	}
	zeros := func(n int) []float64 { return make([]float64, n) }
	ones := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = 1
		}
		return v
	}
	entries := []entry{
		{"transformer.wte.weight", "F16", []int{3, 2}, []float64{1, -1, -1, 1, 2, 0}},
		{"transformer.wpe.weight", "F32", []int{4, 2}, zeros(8)},
		{"transformer.h.0.ln_1.weight", "F32", []int{2}, ones(2)},
		{"transformer.h.0.ln_1.bias", "F32", []int{2}, zeros(2)},
		{"transformer.h.0.attn.bias", "F32", []int{1, 1, 4, 4}, ones(16)},
		{"transformer.h.0.attn.c_attn.weight", "F32", []int{2, 6}, zeros(12)},
		{"transformer.h.0.attn.c_attn.bias", "F32", []int{6}, zeros(6)},
		{"transformer.h.0.attn.c_proj.weight", "F32", []int{2, 2}, zeros(4)},
		{"transformer.h.0.attn.c_proj.bias", "F32", []int{2}, zeros(2)},
		{"transformer.h.0.ln_2.weight", "F32", []int{2}, ones(2)},
		{"transformer.h.0.ln_2.bias", "F32", []int{2}, zeros(2)},
		{"transformer.h.0.mlp.c_fc.weight", "F32", []int{2, 8}, zeros(16)},
		{"transformer.h.0.mlp.c_fc.bias", "F32", []int{8}, zeros(8)},
		{"transformer.h.0.mlp.c_proj.weight", "F32", []int{8, 2}, zeros(16)},
		{"transformer.h.0.mlp.c_proj.bias", "F32", []int{2}, zeros(2)},
		{"transformer.ln_f.weight", "F32", []int{2}, ones(2)},
		{"transformer.ln_f.bias", "F32", []int{2}, zeros(2)},
	}
	var header []string
	var data bytes.Buffer
	for _, e := range entries {
		start := data.Len()
		for _, v := range e.vals {
			if e.dtype == "F16" {
				h := map[float64]uint16{1: 0x3C00, -1: 0xBC00, 2: 0x4000, 0: 0}[v]
				binary.Write(&data, binary.LittleEndian, h)
			} else {
				binary.Write(&data, binary.LittleEndian, math.Float32bits(float32(v)))
			}
		}
		shape := strings.Trim(strings.Join(strings.Fields(fmt.Sprint(e.shape)), ","), "[]")
		header = append(header, fmt.Sprintf(`%q:{"dtype":%q,"shape":[%s],"data_offsets":[%d,%d]}`, e.name, e.dtype, shape, start, data.Len()))
	}
	h := "{" + strings.Join(header, ",") + `,"__metadata__":{"format":"pt"}}`
	var file bytes.Buffer
	binary.Write(&file, binary.LittleEndian, uint64(len(h)))
	file.WriteString(h)
	file.Write(data.Bytes())
	os.WriteFile(filepath.Join(dir, "model.safetensors"), file.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"model_type": "gpt2", "activation_function": "gelu_new",
		"vocab_size": 3, "n_positions": 4, "n_ctx": 4, "n_embd": 2, "n_layer": 1, "n_head": 1, "n_inner": null,
		"layer_norm_epsilon": 1e-05, "resid_pdrop": 0.1, "embd_pdrop": 0.1, "attn_pdrop": 0.1}`), 0o644)
}

func TestImportHandMadeSafetensorsGivesKnownLogits(t *testing.T) {
	dir := t.TempDir()
	writeHandMadeGPT2(t, dir)
	backend, _ := Backend()
	m, err := ImportHF(dir, backend, "float64")
	if err != nil {
		t.Fatal(err)
	}
	s := 1 / math.Sqrt(1+1e-5) // LayerNorm of [1,-1], [-1,1] and [2,0]: ±[1,-1]·s
	want := [][]float64{{2 * s, -2 * s, 2 * s}, {-2 * s, 2 * s, -2 * s}, {2 * s, -2 * s, 2 * s}}
	got := logits(t, m, []int32{0, 1, 2})
	for p := range want {
		for v := range want[p] {
			if math.Abs(got[p][v]-want[p][v]) > 1e-12 {
				t.Errorf("logit[%d][%d] = %.15g, want %.15g", p, v, got[p][v], want[p][v])
			}
		}
	}
}

func TestHFExportImportRoundTrip(t *testing.T) {
	backend, _ := Backend()
	for _, tied := range []bool{true, false} {
		cfg := Tiny(50)
		cfg.TiedHead = tied
		m, err := New(cfg, 5, backend)
		if err != nil {
			t.Fatal(err)
		}
		a, b := t.TempDir(), t.TempDir()
		if err := m.ExportHF(a); err != nil {
			t.Fatal(err)
		}
		back, err := ImportHF(a, backend, "float32")
		if err != nil {
			t.Fatal(err)
		}
		if back.Config != m.Config {
			t.Errorf("config %+v came back as %+v", m.Config, back.Config)
		}
		if err := back.ExportHF(b); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"config.json", "model.safetensors"} {
			x, _ := os.ReadFile(filepath.Join(a, f))
			y, _ := os.ReadFile(filepath.Join(b, f))
			if !bytes.Equal(x, y) {
				t.Errorf("tied=%v: %s differs after import and export", tied, f)
			}
		}
		if fa, fb := mustFingerprint(t, m), mustFingerprint(t, back); fa != fb {
			t.Errorf("fingerprint changed over the round trip: %s, %s", fa, fb)
		}
	}
}

func TestImportHFRejectsOtherArchitectures(t *testing.T) {
	dir := t.TempDir()
	writeHandMadeGPT2(t, dir)
	backend, _ := Backend()
	cfg, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	os.WriteFile(filepath.Join(dir, "config.json"), bytes.Replace(cfg, []byte("gelu_new"), []byte("relu"), 1), 0o644)
	if _, err := ImportHF(dir, backend, "float32"); err == nil || !strings.Contains(err.Error(), "activation_function") {
		t.Errorf("got %v", err)
	}
}
