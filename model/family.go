package model

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Family names a model family: the small named differences between the
// decoders srdpo runs, on one network (decoder.go), as LitGPT serves many
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

// normKind, mlpKind and qkvKind name the parts a family's block is built
// of, as LitGPT's Config names them (norm_class_name, mlp_class_name, the
// fused attention layout).
type (
	normKind int
	mlpKind  int
	qkvKind  int
)

const (
	layerNorm normKind = iota // weight and bias
	rmsNorm                   // weight only (LlamaRMSNorm)
)

const (
	geluTanhMLP mlpKind = iota // fc, GELU (tanh approximation), proj: GPT-2's gelu_new
	geluErfMLP                 // fc, GELU (exact erf), proj: GPT-NeoX's gelu
	swiGLUMLP                  // down(silu(gate(x)) · up(x)): LLaMAMLP
)

const (
	qkvFusedBlocks  qkvKind = iota // one map whose output is all queries, then all keys, then all values (GPT-2's c_attn)
	qkvFusedPerHead                // one map whose output is, head by head, its query, key and value (GPT-NeoX)
	qkvSeparate                    // q_proj, k_proj, v_proj (Llama, Qwen), which allows fewer key/value heads
)

// architecture is what a family's decoder is made of. The network reads
// these fields, never the family's name, so a family is a row of
// architectures (and its weight names a layout); the few settings that
// vary within a family (GQA, head_dim, biases, parallel residual, the
// rotary share) are Config's fields.
type architecture struct {
	norm    normKind
	mlp     mlpKind
	qkv     qkvKind
	rotary  bool // positions by rotary embeddings; otherwise learned (layout.pos)
	conv1D  bool // maps stored [in, out] (GPT-2's Conv1D), not [out, in] (nn.Linear)
	biased  bool // every linear map has a bias (GPT-2, GPT-NeoX); otherwise attention_bias and mlp_bias say
	qkvBias bool // q, k and v have biases whatever attention_bias says (Qwen2)
	layout  layout
	// loraTargets are PEFT's default LoRA target modules for the family
	// (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING in
	// peft/utils/constants.py, huggingface/peft@00073fe8).
	loraTargets []string
}

// qvTargets is PEFT's default for Llama, Mistral and Qwen: the query and
// value maps.
var qvTargets = []string{"q_proj", "v_proj"}

var architectures = map[Family]architecture{
	FamilyGPT2: {norm: layerNorm, mlp: geluTanhMLP, qkv: qkvFusedBlocks, conv1D: true, biased: true, layout: gpt2Layout,
		loraTargets: []string{"c_attn"}},
	FamilyNeoX: {norm: layerNorm, mlp: geluErfMLP, qkv: qkvFusedPerHead, rotary: true, biased: true, layout: neoxLayout,
		loraTargets: []string{"query_key_value"}},
	FamilyLlama: {norm: rmsNorm, mlp: swiGLUMLP, qkv: qkvSeparate, rotary: true, layout: llamaLayout, loraTargets: qvTargets},
	FamilyQwen2: {norm: rmsNorm, mlp: swiGLUMLP, qkv: qkvSeparate, rotary: true, qkvBias: true, layout: llamaLayout, loraTargets: qvTargets},
	FamilyQwen3: {norm: rmsNorm, mlp: swiGLUMLP, qkv: qkvSeparate, rotary: true, layout: qwen3Layout, loraTargets: qvTargets},
}

// Families lists the families srdpo implements, sorted.
func Families() []Family { return slices.Sorted(maps.Keys(architectures)) }

// arch is the config's family's architecture; the zero one (GPT-2's
// layout is then empty) only for a family that Validate refuses.
func (c Config) arch() architecture { return architectures[c.Family.orDefault()] }

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
	// headPrefix is the prefix transformers' head models put before
	// these names when the family's layout does not already hold the
	// base model's attribute ("transformer." for GPT2LMHeadModel and
	// GPT2ForSequenceClassification; Llama's "model." is in the names).
	headPrefix string
}

var (
	gpt2Layout = layout{embed: "wte.weight", pos: "wpe.weight", finalNorm: "ln_f", head: "lm_head.weight",
		norm1: "h.%d.ln_1", norm2: "h.%d.ln_2", qkv: "h.%d.attn.c_attn", o: "h.%d.attn.c_proj",
		fc: "h.%d.mlp.c_fc", proj: "h.%d.mlp.c_proj", headPrefix: "transformer."}
	neoxLayout = layout{embed: "gpt_neox.embed_in.weight", finalNorm: "gpt_neox.final_layer_norm", head: "embed_out.weight",
		norm1: "gpt_neox.layers.%d.input_layernorm", norm2: "gpt_neox.layers.%d.post_attention_layernorm",
		qkv: "gpt_neox.layers.%d.attention.query_key_value", o: "gpt_neox.layers.%d.attention.dense",
		fc: "gpt_neox.layers.%d.mlp.dense_h_to_4h", proj: "gpt_neox.layers.%d.mlp.dense_4h_to_h"}
	llamaLayout = layout{embed: "model.embed_tokens.weight", finalNorm: "model.norm", head: "lm_head.weight",
		norm1: "model.layers.%d.input_layernorm", norm2: "model.layers.%d.post_attention_layernorm",
		q: "model.layers.%d.self_attn.q_proj", k: "model.layers.%d.self_attn.k_proj",
		v: "model.layers.%d.self_attn.v_proj", o: "model.layers.%d.self_attn.o_proj",
		gate: "model.layers.%d.mlp.gate_proj", up: "model.layers.%d.mlp.up_proj", down: "model.layers.%d.mlp.down_proj"}
	qwen3Layout = func() layout {
		l := llamaLayout
		l.qNorm, l.kNorm = "model.layers.%d.self_attn.q_norm", "model.layers.%d.self_attn.k_norm"
		return l
	}()
)

func (c Config) layout() layout { return c.arch().layout }

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
	if !c.arch().rotary {
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

// projections lists layer l's linear maps: attention's, then the MLP's.
func (c Config) projections(l int) []projection {
	return append(c.attentionProjections(l), c.mlpProjections(l)...)
}

// attentionProjections are the query, key and value maps (one fused map,
// or three), then the output map.
func (c Config) attentionProjections(l int) []projection {
	a, lay, d := c.arch(), c.layout(), c.Width
	qd, kvd := c.Heads*c.headDim(), c.kvHeads()*c.headDim()
	qkvBias := a.biased || a.qkvBias || c.AttnBias
	var out []projection
	if a.qkv == qkvSeparate {
		out = []projection{{at(lay.q, l), d, qd, a.conv1D, qkvBias, false}, {at(lay.k, l), d, kvd, a.conv1D, qkvBias, false},
			{at(lay.v, l), d, kvd, a.conv1D, qkvBias, false}}
	} else {
		out = []projection{{at(lay.qkv, l), d, qd + 2*kvd, a.conv1D, qkvBias, false}}
	}
	return append(out, projection{at(lay.o, l), qd, d, a.conv1D, a.biased || c.AttnBias, true})
}

// mlpProjections are the MLP's maps: fc and proj, or gate, up and down.
func (c Config) mlpProjections(l int) []projection {
	a, lay, d, n := c.arch(), c.layout(), c.Width, c.inner()
	bias := a.biased || c.MLPBias
	if a.mlp == swiGLUMLP {
		return []projection{{at(lay.gate, l), d, n, a.conv1D, bias, false}, {at(lay.up, l), d, n, a.conv1D, bias, false},
			{at(lay.down, l), n, d, a.conv1D, bias, true}}
	}
	return []projection{{at(lay.fc, l), d, n, a.conv1D, bias, false}, {at(lay.proj, l), n, d, a.conv1D, bias, true}}
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
		if c.arch().norm == layerNorm {
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
