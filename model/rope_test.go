package model

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// RoPE turns each pair (x_j, x_{j+r/2}) by the angle p/θ^(2j/r), leaves
// the dimensions past r as they are, and so keeps q·k a function of the
// distance between positions only.
func TestRoPEClosedForm(t *testing.T) {
	c := Config{Family: FamilyNeoX, Vocab: 8, Context: 32, Layers: 1, Heads: 1, Width: 8, NormEps: 1e-5, DType: Float64,
		RopeTheta: 100, RotaryPct: 0.75} // d_head 8, 6 of them rotary
	backend, _ := Backend()
	m, err := New(c, 1, backend)
	if err != nil {
		t.Fatal(err)
	}
	x := []float64{0.3, -1.2, 0.7, 2.0, -0.4, 1.1, 0.9, -2.5}
	positions := []int32{0, 1, 5, 31}
	out, err := ExecOnce(backend, func(g *Graph) *Node {
		xs := make([]float64, 0, len(positions)*8)
		for range positions {
			xs = append(xs, x...)
		}
		in := Const(g, tensors.FromFlatDataAndDimensions(xs, 1, len(positions), 1, 8))
		return m.rope(in, m.rotation(Const(g, tensors.FromFlatDataAndDimensions(positions, 1, len(positions)))))
	})
	if err != nil {
		t.Fatal(err)
	}
	got := tensors.MustCopyFlatData[float64](out)
	const r = 6
	for i, p := range positions {
		for j := 0; j < 8; j++ {
			want := x[j]
			if j < r {
				k := j % (r / 2)
				a := float64(p) / math.Pow(100, float64(2*k)/r)
				if j < r/2 {
					want = x[j]*math.Cos(a) - x[j+r/2]*math.Sin(a)
				} else {
					want = x[j]*math.Cos(a) + x[j-r/2]*math.Sin(a)
				}
			}
			if math.Abs(got[i*8+j]-want) > 1e-12 {
				t.Errorf("position %d dim %d: %.15g, want %.15g", p, j, got[i*8+j], want)
			}
		}
	}
	// q·k depends on p − s only.
	dot := func(p, s int32) float64 {
		o, err := ExecOnce(backend, func(g *Graph) *Node {
			in := Const(g, tensors.FromFlatDataAndDimensions(append(append([]float64{}, x...), x[3], x[0], x[5], x[1], x[7], x[2], x[4], x[6]), 1, 2, 1, 8))
			return m.rope(in, m.rotation(Const(g, tensors.FromFlatDataAndDimensions([]int32{p, s}, 1, 2))))
		})
		if err != nil {
			t.Fatal(err)
		}
		v := tensors.MustCopyFlatData[float64](o)
		d := 0.0
		for j := 0; j < 8; j++ {
			d += v[j] * v[8+j]
		}
		return d
	}
	if a, b := dot(3, 1), dot(20, 18); math.Abs(a-b) > 1e-12 {
		t.Errorf("q·k at distance 2: %.15g at (3, 1), %.15g at (20, 18)", a, b)
	}
}

// A grouped-query model equals the multi-head model whose key and value
// heads are the grouped ones repeated (Hugging Face's repeat_kv).
func TestGQAEqualsRepeatedHeads(t *testing.T) {
	gqa := familyConfigs()["llama GQA 4:2"]
	m := randomWeights(t, gqa, 9)
	w, _ := m.Weights()
	mha := gqa
	mha.KVHeads = 0
	hd, rep := gqa.headDim(), gqa.Heads/gqa.kvHeads()
	for l := 0; l < gqa.Layers; l++ {
		for _, p := range []string{"model.layers.%d.self_attn.k_proj.weight", "model.layers.%d.self_attn.v_proj.weight"} {
			name := at(p, l)
			src := w[name] // [kv heads · hd, d]
			var full []float64
			for h := 0; h < gqa.Heads; h++ {
				kv := h / rep
				full = append(full, src[kv*hd*gqa.Width:(kv+1)*hd*gqa.Width]...)
			}
			w[name] = full
		}
	}
	backend, _ := Backend()
	m2, err := FromWeights(mha, w, backend)
	if err != nil {
		t.Fatal(err)
	}
	seq := []int32{4, 8, 15, 16, 23, 36}
	a, b := logits(t, m, seq), logits(t, m2, seq)
	for i := range a {
		for j := range a[i] {
			if math.Abs(a[i][j]-b[i][j]) > 1e-12*math.Max(1, math.Abs(a[i][j])) {
				t.Fatalf("position %d token %d: GQA %.15g, repeated %.15g", i, j, a[i][j], b[i][j])
			}
		}
	}
}
