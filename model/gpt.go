package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/ml/model"
)

// GPT is a decoder-only transformer with the GPT-2 architecture: learned
// positions, pre-LayerNorm blocks, causal self-attention scaled by
// 1/sqrt(d_head), a tanh-GELU MLP, a final LayerNorm and a tied (or own)
// output head. Weights live in a GoMLX store under Hugging Face's GPT-2
// names ("h.0.attn.c_attn.weight" is stored at "/h/0/attn/c_attn/weight"),
// with Conv1D's [in, out] layout, so import and export are renames.
//
// Attention is written out here rather than taken from GoMLX's layer: the
// scaling and masks are then visible, and on the pure-Go backend the
// written-out form is the faster one. Measured with the backend's fused
// causal attention in its place (batch 16 × 128 tokens, 2 layers, 2 cores):
// forward 10.1 / 22.5 / 60.0 ms written out against 11.0 / 25.0 / 62.4 ms
// fused at d = 64 / 128 / 256, and the fused op has no gradient on this
// backend (FusedScaledDotProductAttentionVJP is not implemented).
type GPT struct {
	Config  Config
	Backend compute.Backend
	Store   *model.Store
}

// WeightNames lists every weight of a config, in a fixed order.
func (c Config) WeightNames() []string {
	names := []string{"wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias"}
	for l := 0; l < c.Layers; l++ {
		for _, w := range []string{"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
			"attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
			"mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"} {
			names = append(names, fmt.Sprintf("h.%d.%s", l, w))
		}
	}
	if !c.TiedHead {
		names = append(names, "lm_head.weight")
	}
	sort.Strings(names)
	return names
}

// WeightShape is the shape of a named weight.
func (c Config) WeightShape(name string) []int {
	d := c.Width
	switch {
	case name == "wte.weight":
		return []int{c.Vocab, d}
	case name == "wpe.weight":
		return []int{c.Context, d}
	case name == "lm_head.weight":
		return []int{c.Vocab, d} // as Hugging Face stores it
	case strings.HasSuffix(name, "c_attn.weight"):
		return []int{d, 3 * d}
	case strings.HasSuffix(name, "c_attn.bias"):
		return []int{3 * d}
	case strings.HasSuffix(name, "c_fc.weight"):
		return []int{d, 4 * d}
	case strings.HasSuffix(name, "c_fc.bias"):
		return []int{4 * d}
	case strings.HasSuffix(name, "mlp.c_proj.weight"):
		return []int{4 * d, d}
	case strings.HasSuffix(name, "attn.c_proj.weight"):
		return []int{d, d}
	default: // LayerNorm weights and biases, projection biases
		return []int{d}
	}
}

func weightPath(name string) string { return "/" + strings.ReplaceAll(name, ".", "/") }

// dtype is the model's GoMLX float type.
func (c Config) dtype() dtypes.DType { return c.DType.gomlx() }

// New makes a model with GPT-2's initialisation, seeded: weights N(0,
// 0.02), residual projections N(0, 0.02/sqrt(2·layers)), positions N(0,
// 0.01), LayerNorms 1 and 0, biases 0. The same seed gives the same weights.
func New(cfg Config, seed uint64, backend compute.Backend) (*GPT, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	values := map[string][]float64{}
	for _, name := range cfg.WeightNames() {
		shape := cfg.WeightShape(name)
		n := 1
		for _, s := range shape {
			n *= s
		}
		v := make([]float64, n)
		std := 0.02
		switch {
		case strings.HasSuffix(name, ".bias"):
			std = 0
		case strings.Contains(name, "ln_"):
			std = 0
			for i := range v {
				v[i] = 1
			}
		case name == "wpe.weight":
			std = 0.01
		case strings.HasSuffix(name, "c_proj.weight"):
			std = 0.02 / math.Sqrt(2*float64(cfg.Layers))
		}
		if std > 0 {
			for i := range v {
				v[i] = rng.NormFloat64() * std
			}
		}
		values[name] = v
	}
	return FromWeights(cfg, values, backend)
}

// FromWeights makes a model from named weights (flat, row-major, in the
// shapes of WeightShape), converting them to the model's dtype.
func FromWeights(cfg Config, values map[string][]float64, backend compute.Backend) (*GPT, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &GPT{Config: cfg, Backend: backend, Store: model.NewStore()}
	for _, name := range cfg.WeightNames() {
		v, ok := values[name]
		if !ok {
			return nil, fmt.Errorf("weight %s is missing", name)
		}
		shape := cfg.WeightShape(name)
		if n := product(shape); len(v) != n {
			return nil, fmt.Errorf("weight %s has %d values, want %d for shape %v", name, len(v), n, shape)
		}
		if _, err := m.Store.CreateVariable(weightPath(name), tensorOf(cfg.DType, v, shape...)); err != nil {
			return nil, fmt.Errorf("weight %s: %w", name, err)
		}
	}
	return m, nil
}

// Weights returns every weight as float64, by name.
func (m *GPT) Weights() (map[string][]float64, error) {
	out := map[string][]float64{}
	for _, name := range m.Config.WeightNames() {
		t, err := m.Store.GetVariable(weightPath(name)).Value()
		if err != nil {
			return nil, fmt.Errorf("weight %s: %w", name, err)
		}
		out[name] = toFloat64(t)
	}
	return out, nil
}

func product(dims []int) int {
	n := 1
	for _, d := range dims {
		n *= d
	}
	return n
}

// w is the value of a weight inside graph g.
func (m *GPT) w(g *Graph, name string) *Node {
	return m.Store.GetVariable(weightPath(name)).NodeValue(g)
}

// Logits computes next-token logits [B, T, vocab] for tokens [B, T]
// (int32). Attention is causal: position t sees positions 0..t only, so
// right padding never changes the logits of the real tokens before it.
func (m *GPT) Logits(tokens *Node) *Node {
	g := tokens.Graph()
	b, t := tokens.Shape().Dimensions[0], tokens.Shape().Dimensions[1]
	if t > m.Config.Context {
		panic(fmt.Sprintf("sequence of %d tokens is longer than the model's context of %d", t, m.Config.Context))
	}
	positions := Iota(g, shapes.Make(dtypes.Int32, b, t), 1)
	x := m.embed(tokens, positions)
	for l := 0; l < m.Config.Layers; l++ {
		x = m.layer(l, x, causalSelf)
	}
	return m.head(x)
}

// causalSelf attends a sequence to itself causally; the nil mask tells
// attention to build the causal mask.
func causalSelf(k, v *Node) (*Node, *Node, *Node) { return k, v, nil }

// embed is wte[token] + wpe[position], [B, T, d].
func (m *GPT) embed(tokens, positions *Node) *Node {
	g := tokens.Graph()
	return Add(Gather(m.w(g, "wte.weight"), InsertAxes(tokens, -1)), Gather(m.w(g, "wpe.weight"), InsertAxes(positions, -1)))
}

// head is the final LayerNorm and the output projection.
func (m *GPT) head(x *Node) *Node {
	g := x.Graph()
	x = m.layerNorm("ln_f", x)
	head := m.w(g, "wte.weight")
	if !m.Config.TiedHead {
		head = m.w(g, "lm_head.weight")
	}
	return Einsum("btd,vd->btv", x, head)
}

// layer is transformer block l on x [B, T, d]. attend receives the block's
// keys and values of x ([B, T, heads, d_head]) and returns the keys,
// values and boolean mask [B, heads, T, Tk] the queries attend over: the
// same keys with a causal mask (nil) for a full pass, or a KV cache when
// generating.
func (m *GPT) layer(l int, x *Node, attend func(k, v *Node) (keys, values, mask *Node)) *Node {
	p := fmt.Sprintf("h.%d.", l)
	x = Add(x, m.attention(p, m.layerNorm(p+"ln_1", x), attend))
	return Add(x, m.mlp(p, m.layerNorm(p+"ln_2", x)))
}

// layerNorm normalises the last axis. Inverse(Sqrt(·)) rather than Rsqrt,
// which has no gradient on the pure-Go backend.
func (m *GPT) layerNorm(prefix string, x *Node) *Node {
	g := x.Graph()
	mean := ReduceAndKeep(x, ReduceMean, -1)
	centred := Sub(x, mean)
	variance := ReduceAndKeep(Square(centred), ReduceMean, -1)
	normed := Mul(centred, Inverse(Sqrt(AddScalar(variance, m.Config.NormEps))))
	return Add(Mul(normed, m.row(m.w(g, prefix+".weight"))), m.row(m.w(g, prefix+".bias")))
}

// row lifts a [n] vector to [1, 1, n] so it broadcasts over [B, T, n].
func (m *GPT) row(v *Node) *Node { return Reshape(v, 1, 1, v.Shape().Dimensions[0]) }

// linear is GPT-2's Conv1D: x @ W + b with W stored [in, out].
func (m *GPT) linear(prefix string, x *Node) *Node {
	g := x.Graph()
	return Add(Einsum("bti,io->bto", x, m.w(g, prefix+".weight")), m.row(m.w(g, prefix+".bias")))
}

// attention is multi-head self-attention, scaled by 1/sqrt(d_head).
func (m *GPT) attention(prefix string, x *Node, attend func(k, v *Node) (keys, values, mask *Node)) *Node {
	c := m.Config
	b, t := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	dh := c.Width / c.Heads
	qkv := m.linear(prefix+"attn.c_attn", x) // [B, T, 3d]
	split := func(i int) *Node {
		part := Slice(qkv, AxisRange(), AxisRange(), AxisRange(i*c.Width, (i+1)*c.Width))
		return Reshape(part, b, t, c.Heads, dh)
	}
	keys, values, mask := attend(split(1), split(2))
	if mask == nil {
		tk := keys.Shape().Dimensions[1]
		mask = BroadcastToDims(Reshape(LowerTriangular(x.Graph(), tk), 1, 1, t, tk), b, c.Heads, t, tk)
	}
	scores := MulScalar(Einsum("bqhd,bkhd->bhqk", split(0), keys), 1/math.Sqrt(float64(dh)))
	// Masked scores get a large finite negative, not -Inf, so that no row is
	// ever all -Inf (which would give NaN through the softmax).
	scores = Where(mask, scores, Scalar(x.Graph(), scores.DType(), -1e9))
	att := Softmax(scores, -1)
	y := Reshape(Einsum("bhqk,bkhd->bqhd", att, values), b, t, c.Width)
	return m.linear(prefix+"attn.c_proj", y)
}

// mlp is the feed-forward block with GPT-2's tanh GELU ("gelu_new").
func (m *GPT) mlp(prefix string, x *Node) *Node {
	h := m.linear(prefix+"mlp.c_fc", x)
	return m.linear(prefix+"mlp.c_proj", geluTanh(h))
}

// geluTanh is 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))).
func geluTanh(x *Node) *Node {
	inner := MulScalar(Add(x, MulScalar(Mul(x, Square(x)), 0.044715)), math.Sqrt(2/math.Pi))
	return Mul(MulScalar(x, 0.5), OnePlus(Tanh(inner)))
}
