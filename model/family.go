package model

import (
	"fmt"
	"strings"
)

// Family names a model family: the small named differences between the
// decoders srdpo runs, on one network (gpt.go), as LitGPT serves many
// families with one model.py and one Config.
type Family string

const (
	FamilyGPT2  Family = "gpt2"     // learned positions, LayerNorm, tanh GELU, fused Conv1D c_attn
	FamilyLlama Family = "llama"    // RoPE, RMSNorm, SwiGLU, GQA (also Mistral, SmolLM)
	FamilyQwen2 Family = "qwen2"    // llama + q/k/v biases
	FamilyQwen3 Family = "qwen3"    // llama + per-head q/k RMSNorm
	FamilyNeoX  Family = "gpt_neox" // partial RoPE, LayerNorm, erf GELU, fused per-head qkv, parallel residual
)

func (f Family) orDefault() Family {
	if f == "" {
		return FamilyGPT2
	}
	return f
}

// rotary tells whether positions enter by rotary embeddings.
func (f Family) rotary() bool { return f.orDefault() != FamilyGPT2 }

// rmsNorm tells whether the norms are RMSNorm (no bias) rather than
// LayerNorm.
func (f Family) rmsNorm() bool {
	switch f.orDefault() {
	case FamilyLlama, FamilyQwen2, FamilyQwen3:
		return true
	}
	return false
}

// layout is a family's weight names, Hugging Face's own, so that import
// and export are renames. Layer names hold one %d.
type layout struct {
	embed, pos, finalNorm, head string
	norm1, norm2                string
	qkv                         string // a fused projection: GPT-2's Conv1D c_attn, NeoX's per-head query_key_value
	q, k, v, o                  string
	qNorm, kNorm                string
	fc, proj                    string // GPT-2 and NeoX MLPs
	gate, up, down              string // SwiGLU
}

var layouts = map[Family]layout{
	FamilyGPT2: {embed: "wte.weight", pos: "wpe.weight", finalNorm: "ln_f", head: "lm_head.weight",
		norm1: "h.%d.ln_1", norm2: "h.%d.ln_2", qkv: "h.%d.attn.c_attn", o: "h.%d.attn.c_proj",
		fc: "h.%d.mlp.c_fc", proj: "h.%d.mlp.c_proj"},
	FamilyNeoX: {embed: "gpt_neox.embed_in.weight", finalNorm: "gpt_neox.final_layer_norm", head: "embed_out.weight",
		norm1: "gpt_neox.layers.%d.input_layernorm", norm2: "gpt_neox.layers.%d.post_attention_layernorm",
		qkv: "gpt_neox.layers.%d.attention.query_key_value", o: "gpt_neox.layers.%d.attention.dense",
		fc: "gpt_neox.layers.%d.mlp.dense_h_to_4h", proj: "gpt_neox.layers.%d.mlp.dense_4h_to_h"},
	FamilyLlama: llamaLayout,
	FamilyQwen2: llamaLayout,
	FamilyQwen3: func() layout {
		l := llamaLayout
		l.qNorm, l.kNorm = "model.layers.%d.self_attn.q_norm", "model.layers.%d.self_attn.k_norm"
		return l
	}(),
}

var llamaLayout = layout{embed: "model.embed_tokens.weight", finalNorm: "model.norm", head: "lm_head.weight",
	norm1: "model.layers.%d.input_layernorm", norm2: "model.layers.%d.post_attention_layernorm",
	q: "model.layers.%d.self_attn.q_proj", k: "model.layers.%d.self_attn.k_proj",
	v: "model.layers.%d.self_attn.v_proj", o: "model.layers.%d.self_attn.o_proj",
	gate: "model.layers.%d.mlp.gate_proj", up: "model.layers.%d.mlp.up_proj", down: "model.layers.%d.mlp.down_proj"}

func (c Config) layout() layout { return layouts[c.Family.orDefault()] }

// at fills a layer name's %d.
func at(name string, l int) string {
	if name == "" {
		return ""
	}
	return fmt.Sprintf(name, l)
}

// kvHeads is the number of key/value heads (GQA), headDim the width of a
// head, inner the MLP's hidden width, rotaryDims the head dimensions RoPE
// turns.
func (c Config) kvHeads() int {
	if c.KVHeads > 0 {
		return c.KVHeads
	}
	return c.Heads
}

func (c Config) headDim() int {
	if c.HeadDim > 0 {
		return c.HeadDim
	}
	return c.Width / c.Heads
}

func (c Config) inner() int {
	if c.Inner > 0 {
		return c.Inner
	}
	return 4 * c.Width
}

func (c Config) rotaryDims() int {
	if !c.Family.rotary() {
		return 0
	}
	pct := c.RotaryPct
	if pct == 0 {
		pct = 1
	}
	return int(float64(c.headDim()) * pct)
}

// projection is one linear map's weight and bias names, its input and
// output widths, and whether it is stored [in, out] (GPT-2's Conv1D)
// rather than [out, in] (nn.Linear).
type projection struct {
	name     string
	in, out  int
	conv1D   bool
	hasBias  bool
	residual bool // an output projection into the residual stream (scaled init)
}

// projections lists layer l's linear maps.
func (c Config) projections(l int) []projection {
	lay, d, hd := c.layout(), c.Width, c.headDim()
	qd, kvd := c.Heads*hd, c.kvHeads()*hd
	switch c.Family.orDefault() {
	case FamilyGPT2:
		return []projection{{at(lay.qkv, l), d, 3 * d, true, true, false}, {at(lay.o, l), d, d, true, true, true},
			{at(lay.fc, l), d, c.inner(), true, true, false}, {at(lay.proj, l), c.inner(), d, true, true, true}}
	case FamilyNeoX:
		return []projection{{at(lay.qkv, l), d, 3 * d, false, true, false}, {at(lay.o, l), d, d, false, true, true},
			{at(lay.fc, l), d, c.inner(), false, true, false}, {at(lay.proj, l), c.inner(), d, false, true, true}}
	}
	qkvBias := c.AttnBias || c.Family == FamilyQwen2
	return []projection{{at(lay.q, l), d, qd, false, qkvBias, false}, {at(lay.k, l), d, kvd, false, qkvBias, false},
		{at(lay.v, l), d, kvd, false, qkvBias, false}, {at(lay.o, l), qd, d, false, c.AttnBias, true},
		{at(lay.gate, l), d, c.inner(), false, c.MLPBias, false}, {at(lay.up, l), d, c.inner(), false, c.MLPBias, false},
		{at(lay.down, l), c.inner(), d, false, c.MLPBias, true}}
}

// outIndex is the attention output projection's place in projections.
func (c Config) outIndex() int {
	switch c.Family.orDefault() {
	case FamilyGPT2, FamilyNeoX:
		return 1
	}
	return 3
}

// norms lists layer l's norms (name, width); the final norm is separate.
func (c Config) norms(l int) [][2]any {
	lay := c.layout()
	out := [][2]any{{at(lay.norm1, l), c.Width}, {at(lay.norm2, l), c.Width}}
	if lay.qNorm != "" {
		out = append(out, [2]any{at(lay.qNorm, l), c.headDim()}, [2]any{at(lay.kNorm, l), c.headDim()})
	}
	return out
}

// weightShapes maps every weight of the config to its shape, as Hugging
// Face stores it.
func (c Config) weightShapes() map[string][]int {
	lay, d := c.layout(), c.Width
	shapes := map[string][]int{lay.embed: {c.Vocab, d}}
	if lay.pos != "" {
		shapes[lay.pos] = []int{c.Context, d}
	}
	norm := func(name string, n int) {
		shapes[name+".weight"] = []int{n}
		if !c.Family.rmsNorm() {
			shapes[name+".bias"] = []int{n}
		}
	}
	norm(lay.finalNorm, d)
	for l := 0; l < c.Layers; l++ {
		for _, n := range c.norms(l) {
			norm(n[0].(string), n[1].(int))
		}
		for _, p := range c.projections(l) {
			if p.conv1D {
				shapes[p.name+".weight"] = []int{p.in, p.out}
			} else {
				shapes[p.name+".weight"] = []int{p.out, p.in}
			}
			if p.hasBias {
				shapes[p.name+".bias"] = []int{p.out}
			}
		}
	}
	if !c.TiedHead {
		shapes[lay.head] = []int{c.Vocab, d}
	}
	return shapes
}

// isNorm tells whether a weight name is a norm's (initialised to 1 and 0).
func (c Config) isNorm(name string) bool {
	lay := c.layout()
	base := strings.TrimSuffix(strings.TrimSuffix(name, ".weight"), ".bias")
	if base == lay.finalNorm {
		return true
	}
	for l := 0; l < c.Layers; l++ {
		for _, n := range c.norms(l) {
			if base == n[0].(string) {
				return true
			}
		}
	}
	return false
}
