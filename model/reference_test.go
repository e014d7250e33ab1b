package model

import (
	"fmt"
	"math"
	"testing"
)

// referenceLogits is GPT-2's forward pass written out in plain Go float64,
// loop by loop, as the hand computation the GoMLX graph is checked against:
// attention scaled by 1/sqrt(d_head), causal, LayerNorm with eps, tanh GELU.
func referenceLogits(c Config, w map[string][]float64, seq []int32) [][]float64 {
	d, T, H := c.Width, len(seq), c.Heads
	dh := d / H
	mat := func(name string, rows, cols int) func(i, j int) float64 {
		v := w[name]
		return func(i, j int) float64 { return v[i*cols+j] }
	}
	x := make([][]float64, T)
	wte, wpe := mat("wte.weight", c.Vocab, d), mat("wpe.weight", c.Context, d)
	for t := range x {
		x[t] = make([]float64, d)
		for j := 0; j < d; j++ {
			x[t][j] = wte(int(seq[t]), j) + wpe(t, j)
		}
	}
	ln := func(name string, in [][]float64) [][]float64 {
		out := make([][]float64, len(in))
		for t, row := range in {
			var mean, v float64
			for _, a := range row {
				mean += a
			}
			mean /= float64(d)
			for _, a := range row {
				v += (a - mean) * (a - mean)
			}
			v /= float64(d)
			out[t] = make([]float64, d)
			for j, a := range row {
				out[t][j] = (a-mean)/math.Sqrt(v+c.NormEps)*w[name+".weight"][j] + w[name+".bias"][j]
			}
		}
		return out
	}
	linear := func(name string, in [][]float64, nin, nout int) [][]float64 {
		W := mat(name+".weight", nin, nout)
		out := make([][]float64, len(in))
		for t, row := range in {
			out[t] = make([]float64, nout)
			for o := 0; o < nout; o++ {
				s := w[name+".bias"][o]
				for i := 0; i < nin; i++ {
					s += row[i] * W(i, o)
				}
				out[t][o] = s
			}
		}
		return out
	}
	for l := 0; l < c.Layers; l++ {
		p := fmt.Sprintf("h.%d.", l)
		qkv := linear(p+"attn.c_attn", ln(p+"ln_1", x), d, 3*d)
		y := make([][]float64, T)
		for t := range y {
			y[t] = make([]float64, d)
		}
		for h := 0; h < H; h++ {
			for q := 0; q < T; q++ {
				scores := make([]float64, q+1)
				mx := math.Inf(-1)
				for k := 0; k <= q; k++ {
					var s float64
					for j := 0; j < dh; j++ {
						s += qkv[q][h*dh+j] * qkv[k][d+h*dh+j]
					}
					scores[k] = s / math.Sqrt(float64(dh))
					mx = math.Max(mx, scores[k])
				}
				var z float64
				for k := range scores {
					scores[k] = math.Exp(scores[k] - mx)
					z += scores[k]
				}
				for k := range scores {
					for j := 0; j < dh; j++ {
						y[q][h*dh+j] += scores[k] / z * qkv[k][2*d+h*dh+j]
					}
				}
			}
		}
		att := linear(p+"attn.c_proj", y, d, d)
		for t := range x {
			for j := range x[t] {
				x[t][j] += att[t][j]
			}
		}
		hid := linear(p+"mlp.c_fc", ln(p+"ln_2", x), d, 4*d)
		for t := range hid {
			for j, a := range hid[t] {
				hid[t][j] = 0.5 * a * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(a+0.044715*a*a*a)))
			}
		}
		mlp := linear(p+"mlp.c_proj", hid, 4*d, d)
		for t := range x {
			for j := range x[t] {
				x[t][j] += mlp[t][j]
			}
		}
	}
	x = ln("ln_f", x)
	head := "wte.weight"
	if !c.TiedHead {
		head = "lm_head.weight"
	}
	H2 := mat(head, c.Vocab, d)
	out := make([][]float64, T)
	for t := range out {
		out[t] = make([]float64, c.Vocab)
		for v := 0; v < c.Vocab; v++ {
			for j := 0; j < d; j++ {
				out[t][v] += x[t][j] * H2(v, j)
			}
		}
	}
	return out
}

// The GoMLX network equals the plain-Go forward pass, tied and untied, with
// non-trivial LayerNorm and bias values.
func TestNetworkMatchesHandComputation(t *testing.T) {
	for _, tied := range []bool{true, false} {
		backend, _ := Backend()
		cfg := Config{Vocab: 23, Context: 16, Layers: 2, Heads: 4, Width: 16, NormEps: 1e-5, TiedHead: tied, DType: "float64"}
		m0, err := New(cfg, 11, backend)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := m0.Weights()
		// Give LayerNorms and biases values away from 1 and 0, and make the
		// weights large enough that attention is far from uniform.
		for name, v := range w {
			for i := range v {
				v[i] = v[i]*20 + 0.1*math.Sin(float64(i+len(name)))
			}
		}
		m, err := FromWeights(cfg, w, backend)
		if err != nil {
			t.Fatal(err)
		}
		seq := []int32{3, 17, 0, 22, 9, 9, 4, 11, 1}
		got := logits(t, m, seq)
		want := referenceLogits(cfg, w, seq)
		for p := range want {
			for v := range want[p] {
				if math.Abs(got[p][v]-want[p][v]) > 1e-9*math.Max(1, math.Abs(want[p][v])) {
					t.Fatalf("tied=%v position %d token %d: got %.12g, want %.12g", tied, p, v, got[p][v], want[p][v])
				}
			}
		}
	}
}
