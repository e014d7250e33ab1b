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
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Decoder is the one decoder-only transformer srdpo runs, every family
// (family.go) a row of parts on it, as LitGPT's model.py serves its
// configs: token embeddings (plus learned positions, GPT-2), pre-norm
// blocks (LayerNorm or RMSNorm) of causal self-attention scaled by
// 1/sqrt(d_head) (fused or separate q/k/v, grouped-query, per-head q/k
// norms, rotary positions) and an MLP (GELU or SwiGLU), sequential or
// parallel residuals, a final norm and a tied (or own) output head.
// Weights live in a GoMLX store under Hugging Face's names for the family
// ("h.0.attn.c_attn.weight" is stored at "/h/0/attn/c_attn/weight"), in
// Hugging Face's layouts (GPT-2's Conv1D [in, out]), so import and export
// are renames.
//
// Attention is written out here rather than taken from GoMLX's layer: the
// scaling and masks are then visible, and on the pure-Go backend the
// written-out form is the faster one. Measured with the backend's fused
// causal attention in its place (batch 16 × 128 tokens, 2 layers, 2 cores):
// forward 10.1 / 22.5 / 60.0 ms written out against 11.0 / 25.0 / 62.4 ms
// fused at d = 64 / 128 / 256, and the fused op has no gradient on this
// backend (FusedScaledDotProductAttentionVJP is not implemented).
type Decoder struct {
	Config  Config
	Backend compute.Backend
	Store   *model.Store
	lora    *adapter // a LoRA adapter on some maps (lora.go), or nil
	// Recompute makes training graphs keep only each block's input for the
	// backward pass and compute the block again there (gradient
	// checkpointing): less memory, one more forward pass of time.
	Recompute bool
}

// WeightNames lists every weight of a config, in name order.
func (c Config) WeightNames() []string {
	var names []string
	for n := range c.weightShapes() {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// WeightShape is the shape of a named weight, as Hugging Face stores it.
func (c Config) WeightShape(name string) []int { return c.weightShapes()[name] }

func weightPath(name string) string { return "/" + strings.ReplaceAll(name, ".", "/") }

// New makes a model with GPT-2's initialisation, seeded: weights N(0,
// 0.02), projections into the residual stream N(0, 0.02/sqrt(2·layers)),
// learned positions N(0, 0.01), norms 1 and 0, biases 0. The same seed
// gives the same weights.
func New(cfg Config, seed uint64, backend compute.Backend) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	residual := map[string]bool{}
	for l := 0; l < cfg.Layers; l++ {
		for _, p := range cfg.projections(l) {
			residual[p.name+".weight"] = p.residual
		}
	}
	// One weight at a time, in name order (the order the draws always
	// had): a float64 copy of every weight at once would be twice the
	// float32 model (24.7 GB for a 3B shape).
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	return fromSource(cfg, backend, func(name string, shape []int) (*tensors.Tensor, error) {
		v := make([]float64, product(shape))
		std := 0.02
		switch {
		case strings.HasSuffix(name, ".bias"):
			std = 0
		case cfg.isNorm(name):
			std = 0
			for i := range v {
				v[i] = 1
			}
		case name == cfg.layout().pos:
			std = 0.01
		case residual[name]:
			std = 0.02 / math.Sqrt(2*float64(cfg.Layers))
		}
		if std > 0 {
			for i := range v {
				v[i] = rng.NormFloat64() * std
			}
		}
		return tensorOf(cfg.DType, v, shape...), nil
	})
}

// FromWeights makes a model from named weights (flat, row-major, in the
// shapes of WeightShape), converting them to the model's dtype.
func FromWeights(cfg Config, values map[string][]float64, backend compute.Backend) (*Decoder, error) {
	return fromSource(cfg, backend, func(name string, shape []int) (*tensors.Tensor, error) {
		v, ok := values[name]
		if !ok {
			return nil, fmt.Errorf("weight %s is missing", name)
		}
		if n := product(shape); len(v) != n {
			return nil, fmt.Errorf("weight %s has %d values, want %d for shape %v", name, len(v), n, shape)
		}
		return tensorOf(cfg.DType, v, shape...), nil
	})
}

// fromSource makes a model whose weights load gives, one at a time, in
// the model's dtype.
func fromSource(cfg Config, backend compute.Backend, load func(name string, shape []int) (*tensors.Tensor, error)) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Decoder{Config: cfg, Backend: backend, Store: model.NewStore()}
	for _, name := range cfg.WeightNames() {
		t, err := load(name, cfg.WeightShape(name))
		if err != nil {
			return nil, err
		}
		if _, err := m.Store.CreateVariable(weightPath(name), t); err != nil {
			return nil, fmt.Errorf("weight %s: %w", name, err)
		}
	}
	return m, nil
}

// Weights returns every base weight as float64, by name (an adapter's
// are AdapterWeights; MergedWeights joins them).
func (m *Decoder) Weights() (map[string][]float64, error) {
	return m.values(m.Config.WeightNames())
}

// values reads named weights out of the store as float64.
func (m *Decoder) values(names []string) (map[string][]float64, error) {
	out := map[string][]float64{}
	for _, name := range names {
		v := m.Store.GetVariable(weightPath(name))
		if v == nil {
			return nil, fmt.Errorf("weight %s is not in the model", name)
		}
		t, err := v.Value()
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
func (m *Decoder) w(g *Graph, name string) *Node {
	return m.Store.GetVariable(weightPath(name)).NodeValue(g)
}

// Logits computes next-token logits [B, T, vocab] for tokens [B, T]
// (int32). Attention is causal: position t sees positions 0..t only, so
// right padding never changes the logits of the real tokens before it.
func (m *Decoder) Logits(tokens *Node) *Node {
	return m.head(m.causalHidden(tokens))
}

// causalHidden is the network up to the head over tokens [B, T] at
// positions 0…T−1, attending causally: [B, T, d] before the final norm.
func (m *Decoder) causalHidden(tokens *Node) *Node {
	g := tokens.Graph()
	b, t := tokens.Shape().Dimensions[0], tokens.Shape().Dimensions[1]
	if t > m.Config.Context {
		panic(fmt.Sprintf("sequence of %d tokens is longer than the model's context of %d", t, m.Config.Context))
	}
	positions := Iota(g, shapes.Make(dtypes.Int32, b, t), 1)
	x, rot := m.embed(tokens, positions), m.rotation(positions)
	return m.blocks(x, rot, causalSelf)
}

// blocks runs every transformer block on x; with Recompute, each block's
// input is a checkpoint (GoMLX's Node.Checkpoint) from which the backward
// pass computes the block again.
func (m *Decoder) blocks(x *Node, rot *rotation, attend func(k, v *Node) (keys, values, mask *Node)) *Node {
	for l := 0; l < m.Config.Layers; l++ {
		if m.Recompute {
			x = x.Checkpoint()
		}
		x = m.layer(l, x, rot, attend)
	}
	if m.Recompute {
		x = x.StopCheckpoint()
	}
	return x
}

// causalSelf attends a sequence to itself causally; the nil mask tells
// attention to build the causal mask.
func causalSelf(k, v *Node) (*Node, *Node, *Node) { return k, v, nil }

// embed is the token embedding, plus the learned position embedding in
// GPT-2 ([B, T, d]); rotary families add positions in attention.
func (m *Decoder) embed(tokens, positions *Node) *Node {
	g := tokens.Graph()
	lay := m.Config.layout()
	x := Gather(m.w(g, lay.embed), InsertAxes(tokens, -1))
	if lay.pos != "" {
		x = Add(x, Gather(m.w(g, lay.pos), InsertAxes(positions, -1)))
	}
	return x
}

// head is the final norm and the output projection.
func (m *Decoder) head(x *Node) *Node {
	g := x.Graph()
	lay := m.Config.layout()
	x = m.norm(lay.finalNorm, x)
	head := m.w(g, lay.embed)
	if !m.Config.TiedHead {
		head = m.w(g, lay.head)
	}
	return Einsum("btd,vd->btv", x, head)
}

// layer is transformer block l on x [B, T, d], turned by rot at its
// positions (nil for learned positions). attend
// receives the block's keys and values of x ([B, T, kv heads, d_head],
// keys already rotated) and returns the keys, values and boolean mask
// [B, heads, T, Tk] the queries attend over: the same keys with a causal
// mask (nil) for a full pass, or a KV cache when generating. Blocks are
// pre-norm; NeoX's parallel residual adds attention and MLP of the same
// input.
func (m *Decoder) layer(l int, x *Node, rot *rotation, attend func(k, v *Node) (keys, values, mask *Node)) *Node {
	lay := m.Config.layout()
	attn := func(x *Node) *Node { return m.attention(l, m.norm(at(lay.norm1, l), x), rot, attend) }
	mlp := func(x *Node) *Node { return m.mlp(l, m.norm(at(lay.norm2, l), x)) }
	if m.Config.ParallelResidual {
		return Add(Add(x, attn(x)), mlp(x))
	}
	x = Add(x, attn(x))
	return Add(x, mlp(x))
}

// norm is the family's norm over the last axis: LayerNorm with weight and
// bias, or RMSNorm (x / sqrt(mean(x²) + eps) · weight, as Hugging Face's
// LlamaRMSNorm). Inverse(Sqrt(·)) rather than Rsqrt, which has no gradient
// on the pure-Go backend.
func (m *Decoder) norm(prefix string, x *Node) *Node {
	g := x.Graph()
	bcast := func(v *Node) *Node { // [n] → [1, …, 1, n]
		dims := make([]int, x.Rank())
		for i := range dims {
			dims[i] = 1
		}
		dims[len(dims)-1] = v.Shape().Dimensions[0]
		return Reshape(v, dims...)
	}
	if m.Config.arch().norm == rmsNorm {
		ms := ReduceAndKeep(Square(x), ReduceMean, -1)
		return Mul(Mul(x, Inverse(Sqrt(AddScalar(ms, m.Config.NormEps)))), bcast(m.w(g, prefix+".weight")))
	}
	mean := ReduceAndKeep(x, ReduceMean, -1)
	centred := Sub(x, mean)
	variance := ReduceAndKeep(Square(centred), ReduceMean, -1)
	normed := Mul(centred, Inverse(Sqrt(AddScalar(variance, m.Config.NormEps))))
	return Add(Mul(normed, bcast(m.w(g, prefix+".weight"))), bcast(m.w(g, prefix+".bias")))
}

// project applies a linear map of layer l to x [B, T, in].
func (m *Decoder) project(p projection, x *Node) *Node {
	g := x.Graph()
	eq := "bti,oi->bto"
	if p.conv1D {
		eq = "bti,io->bto"
	}
	y := Einsum(eq, x, m.w(g, p.name+".weight"))
	if p.hasBias {
		y = Add(y, Reshape(m.w(g, p.name+".bias"), 1, 1, p.out))
	}
	if d := m.loraDelta(p, x); d != nil {
		y = Add(y, d)
	}
	return y
}

// qkv projects x [B, T, d] to queries [B, T, heads, d_head] and keys and
// values [B, T, kv heads, d_head], by the family's layout: GPT-2's fused
// Conv1D (q, k, v blocks side by side), NeoX's fused map (per head: q, k,
// v), or three maps.
func (m *Decoder) qkv(l int, x *Node) (q, k, v *Node) {
	c := m.Config
	b, t := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	h, kvh, hd := c.Heads, c.kvHeads(), c.headDim()
	ps := c.attentionProjections(l)
	switch c.arch().qkv {
	case qkvFusedBlocks:
		y := m.project(ps[0], x)
		part := func(i int) *Node {
			return Reshape(Slice(y, AxisRange(), AxisRange(), AxisRange(i*h*hd, (i+1)*h*hd)), b, t, h, hd)
		}
		return part(0), part(1), part(2)
	case qkvFusedPerHead:
		y := Reshape(m.project(ps[0], x), b, t, h, 3*hd)
		part := func(i int) *Node { return Slice(y, AxisRange(), AxisRange(), AxisRange(), AxisRange(i*hd, (i+1)*hd)) }
		return part(0), part(1), part(2)
	}
	return Reshape(m.project(ps[0], x), b, t, h, hd), Reshape(m.project(ps[1], x), b, t, kvh, hd), Reshape(m.project(ps[2], x), b, t, kvh, hd)
}

// attention is multi-head self-attention scaled by 1/sqrt(d_head): per-head
// q/k norms (Qwen3), rotary positions (all but GPT-2), and grouped-query
// attention, each query head h using key/value head h / (heads / kv heads)
// as Hugging Face's repeat_kv does.
func (m *Decoder) attention(l int, x *Node, rot *rotation, attend func(k, v *Node) (keys, values, mask *Node)) *Node {
	c := m.Config
	g := x.Graph()
	b, t := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	h, kvh, hd := c.Heads, c.kvHeads(), c.headDim()
	q, k, v := m.qkv(l, x)
	if lay := c.layout(); lay.qNorm != "" {
		q, k = m.norm(at(lay.qNorm, l), q), m.norm(at(lay.kNorm, l), k)
	}
	if rot != nil {
		q, k = m.rope(q, rot), m.rope(k, rot)
	}
	keys, values, mask := attend(k, v)
	tk := keys.Shape().Dimensions[1]
	if mask == nil {
		mask = BroadcastToDims(Reshape(LowerTriangular(g, tk), 1, 1, t, tk), b, h, t, tk)
	}
	rep := h / kvh
	qg := Reshape(q, b, t, kvh, rep, hd)
	scores := MulScalar(Einsum("bqgrd,bkgd->bgrqk", qg, keys), 1/math.Sqrt(float64(hd)))
	scores = Reshape(scores, b, h, t, tk)
	// Masked scores get a large finite negative, not -Inf, so that no row is
	// ever all -Inf (which would give NaN through the softmax).
	scores = Where(mask, scores, Scalar(g, scores.DType(), -1e9))
	att := Reshape(Softmax(scores, -1), b, kvh, rep, t, tk)
	y := Reshape(Einsum("bgrqk,bkgd->bqgrd", att, values), b, t, h*hd)
	ps := c.attentionProjections(l)
	return m.project(ps[len(ps)-1], y)
}

// mlp is the family's feed-forward block: GPT-2's tanh GELU, NeoX's erf
// GELU, or SwiGLU (down(silu(gate(x)) · up(x))).
func (m *Decoder) mlp(l int, x *Node) *Node {
	c := m.Config
	ps := c.mlpProjections(l)
	switch c.arch().mlp {
	case geluTanhMLP:
		return m.project(ps[1], geluTanh(m.project(ps[0], x)))
	case geluErfMLP:
		return m.project(ps[1], geluErf(m.project(ps[0], x)))
	}
	gate, up := m.project(ps[0], x), m.project(ps[1], x)
	return m.project(ps[2], Mul(Mul(gate, Sigmoid(gate)), up))
}

// geluTanh is 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))).
func geluTanh(x *Node) *Node {
	inner := MulScalar(Add(x, MulScalar(Mul(x, Square(x)), 0.044715)), math.Sqrt(2/math.Pi))
	return Mul(MulScalar(x, 0.5), OnePlus(Tanh(inner)))
}

// geluErf is 0.5·x·(1 + erf(x/√2)), PyTorch's exact GELU ("gelu").
func geluErf(x *Node) *Node {
	return Mul(MulScalar(x, 0.5), OnePlus(Erf(MulScalar(x, 1/math.Sqrt2))))
}

// rotation is the cos and sin of the rotary angles at a pass's positions,
// [B, T, 1, rotaryDims]: gathered once per pass and shared by every layer's
// queries and keys.
type rotation struct{ cos, sin *Node }

// rotation gathers the rotary angles of positions [B, T]; nil for a
// family with learned positions. The angles p/θ^(2i/r) are computed on the
// host in float64 and enter the graph as a constant table, so float64
// models are exact; in float32 they are rounded once (HF rounds at each
// float32 step).
func (m *Decoder) rotation(positions *Node) *rotation {
	c := m.Config
	if !c.arch().rotary {
		return nil
	}
	g := positions.Graph()
	b, t := positions.Shape().Dimensions[0], positions.Shape().Dimensions[1]
	r := c.rotaryDims()
	cos, sin := ropeTables(c.Context, r, c.RopeTheta)
	table := func(v []float64) *Node {
		return Reshape(Gather(ConstTensor(g, tensorOf(c.DType, v, c.Context, r)), InsertAxes(positions, -1)), b, t, 1, r)
	}
	return &rotation{cos: table(cos), sin: table(sin)}
}

// rope turns the first rotaryDims dimensions of each head of x [B, T,
// heads, d_head] by rot, Hugging Face's rotate-half convention:
// x·cos + rotate_half(x)·sin with rotate_half(x) = [−x₂, x₁].
func (m *Decoder) rope(x *Node, rot *rotation) *Node {
	hd := x.Shape().Dimensions[3]
	r := m.Config.rotaryDims()
	part := Slice(x, AxisRange(), AxisRange(), AxisRange(), AxisRange(0, r))
	half := func(i int) *Node {
		return Slice(part, AxisRange(), AxisRange(), AxisRange(), AxisRange(i*r/2, (i+1)*r/2))
	}
	rotated := Concatenate([]*Node{Neg(half(1)), half(0)}, -1)
	out := Add(Mul(part, rot.cos), Mul(rotated, rot.sin))
	if r == hd {
		return out
	}
	pass := Slice(x, AxisRange(), AxisRange(), AxisRange(), AxisRange(r, hd))
	return Concatenate([]*Node{out, pass}, -1)
}

// ropeTables are cos and sin of the rotary angles, [positions, r] row-major:
// position p, dimension j (and j + r/2) turn by p / θ^(2j/r).
func ropeTables(positions, r int, theta float64) (cos, sin []float64) {
	cos, sin = make([]float64, positions*r), make([]float64, positions*r)
	for p := 0; p < positions; p++ {
		for j := 0; j < r/2; j++ {
			a := float64(p) / math.Pow(theta, float64(2*j)/float64(r))
			for _, k := range []int{j, j + r/2} {
				cos[p*r+k], sin[p*r+k] = math.Cos(a), math.Sin(a)
			}
		}
	}
	return cos, sin
}
