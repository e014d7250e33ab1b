package model

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/srdpo/srdpo/atomicfile"
)

// hfFamilyConfig is what srdpo reads of a Llama, Mistral, Qwen2/3 or
// GPT-NeoX config.json (Hugging Face's field names).
type hfFamilyConfig struct {
	ModelType             string            `json:"model_type"`
	Architectures         []string          `json:"architectures,omitempty"`
	VocabSize             int               `json:"vocab_size"`
	HiddenSize            int               `json:"hidden_size"`
	IntermediateSize      int               `json:"intermediate_size"`
	NumHiddenLayers       int               `json:"num_hidden_layers"`
	NumAttentionHeads     int               `json:"num_attention_heads"`
	NumKeyValueHeads      *int              `json:"num_key_value_heads,omitempty"`
	HeadDim               *int              `json:"head_dim,omitempty"`
	MaxPositionEmbeddings int               `json:"max_position_embeddings"`
	RMSNormEps            *float64          `json:"rms_norm_eps,omitempty"`
	LayerNormEps          *float64          `json:"layer_norm_eps,omitempty"`
	RopeTheta             *float64          `json:"rope_theta,omitempty"`
	RotaryEmbBase         *float64          `json:"rotary_emb_base,omitempty"` // NeoX's name for θ
	RotaryPct             *float64          `json:"rotary_pct,omitempty"`
	PartialRotaryFactor   *float64          `json:"partial_rotary_factor,omitempty"`
	UseParallelResidual   *bool             `json:"use_parallel_residual,omitempty"`
	HiddenAct             string            `json:"hidden_act"`
	TieWordEmbeddings     *bool             `json:"tie_word_embeddings,omitempty"`
	AttentionBias         *bool             `json:"attention_bias,omitempty"`
	MLPBias               *bool             `json:"mlp_bias,omitempty"`
	RopeScaling           json.RawMessage   `json:"rope_scaling,omitempty"`
	RopeParameters        *hfRopeParameters `json:"rope_parameters,omitempty"` // transformers v5's home of θ and the rotary share
	SlidingWindow         *int              `json:"sliding_window,omitempty"`
	UseSlidingWindow      *bool             `json:"use_sliding_window,omitempty"`
	MaxWindowLayers       *int              `json:"max_window_layers,omitempty"`
	TorchDType            string            `json:"torch_dtype,omitempty"`
}

// hfRopeParameters is transformers v5's rope_parameters: it holds θ and,
// for GPT-NeoX, the rotary share, which older files keep at the top level.
type hfRopeParameters struct {
	RopeType            string   `json:"rope_type,omitempty"`
	RopeTheta           *float64 `json:"rope_theta,omitempty"`
	PartialRotaryFactor *float64 `json:"partial_rotary_factor,omitempty"`
}

// oneValue is the value that every field present gives (transformers writes
// a setting under several names, old and new, with the same value), nil
// when none is present, and an error naming two fields that disagree.
func oneValue(fields ...namedValue) (*float64, error) {
	var first *namedValue
	for i := range fields {
		f := &fields[i]
		if f.v == nil {
			continue
		}
		if first == nil {
			first = f
			continue
		}
		if *f.v != *first.v {
			return nil, fmt.Errorf("%s %g and %s %g disagree", first.name, *first.v, f.name, *f.v)
		}
	}
	if first == nil {
		return nil, nil
	}
	return first.v, nil
}

type namedValue struct {
	name string
	v    *float64
}

// rotary is a config's θ and rotary share, from whichever of their names
// the file uses.
func (h hfFamilyConfig) rotary() (theta, share *float64, err error) {
	rp := h.RopeParameters
	if rp == nil {
		rp = &hfRopeParameters{}
	}
	if rp.RopeType != "" && rp.RopeType != "default" {
		return nil, nil, fmt.Errorf("rope_parameters.rope_type %q is not implemented (only unscaled rotary embeddings)", rp.RopeType)
	}
	theta, err = oneValue(namedValue{"rope_theta", h.RopeTheta}, namedValue{"rotary_emb_base", h.RotaryEmbBase},
		namedValue{"rope_parameters.rope_theta", rp.RopeTheta})
	if err != nil {
		return nil, nil, err
	}
	share, err = oneValue(namedValue{"rotary_pct", h.RotaryPct}, namedValue{"partial_rotary_factor", h.PartialRotaryFactor},
		namedValue{"rope_parameters.partial_rotary_factor", rp.PartialRotaryFactor})
	return theta, share, err
}

// hfModelType is a Hugging Face model_type srdpo reads (and, for the first
// model_type of a family, writes): its family, transformers' class, and
// the defaults of its config class for fields a config.json leaves out.
// The differences between the families' files follow their architectures
// (LayerNorm families say layer_norm_eps, RMSNorm ones rms_norm_eps; fully
// biased families have no attention_bias to turn off); what does not is a
// field here.
type hfModelType struct {
	family           Family
	class            string  // the *ForCausalLM class written in architectures
	act              string  // the hidden_act srdpo implements for it
	normEps, theta   float64 // rms_norm_eps or layer_norm_eps, and rope_theta, when absent
	rotaryPct        float64 // the share of a head RoPE turns when absent (1: all); 0: only all (partial_rotary_factor refused)
	parallelResidual bool    // the config has use_parallel_residual (GPT-NeoX), true when absent; others ignore the field
	windowPerLayer   bool    // max_window_layers says which layers use sliding_window (Qwen), rather than all (Mistral)
}

var hfModelTypes = map[string]hfModelType{
	"llama":    {family: FamilyLlama, class: "LlamaForCausalLM", act: "silu", normEps: 1e-6, theta: 10000},
	"mistral":  {family: FamilyLlama, class: "MistralForCausalLM", act: "silu", normEps: 1e-6, theta: 10000},
	"qwen2":    {family: FamilyQwen2, class: "Qwen2ForCausalLM", act: "silu", normEps: 1e-6, theta: 10000, windowPerLayer: true},
	"qwen3":    {family: FamilyQwen3, class: "Qwen3ForCausalLM", act: "silu", normEps: 1e-6, theta: 10000, windowPerLayer: true},
	"gpt_neox": {family: FamilyNeoX, class: "GPTNeoXForCausalLM", act: "gelu", normEps: 1e-5, theta: 10000, rotaryPct: 0.25, parallelResidual: true},
}

// familyConfig maps a config.json of a rotary family to a Config, refusing
// every setting that would change the computation in a way srdpo does not
// implement, naming it.
func familyConfig(b []byte, dtype DType) (Config, error) {
	var h hfFamilyConfig
	if err := json.Unmarshal(b, &h); err != nil {
		return Config{}, err
	}
	mt, ok := hfModelTypes[h.ModelType]
	if !ok {
		return Config{}, fmt.Errorf("model_type %q: want gpt2, %s", h.ModelType, strings.Join(slices.Sorted(maps.Keys(hfModelTypes)), ", "))
	}
	a := architectures[mt.family]
	if s := strings.TrimSpace(string(h.RopeScaling)); s != "" && s != "null" {
		return Config{}, fmt.Errorf("rope_scaling %s is not implemented (only unscaled rotary embeddings)", s)
	}
	if h.HiddenAct != mt.act {
		return Config{}, fmt.Errorf("hidden_act %q: %s is implemented with %s", h.HiddenAct, h.ModelType, mt.act)
	}
	c := Config{Family: mt.family, Vocab: h.VocabSize, Context: h.MaxPositionEmbeddings, Layers: h.NumHiddenLayers,
		Heads: h.NumAttentionHeads, Width: h.HiddenSize, Inner: h.IntermediateSize, DType: dtype,
		NormEps: mt.normEps, RopeTheta: mt.theta, ParallelResidual: mt.parallelResidual,
		TiedHead: h.TieWordEmbeddings != nil && *h.TieWordEmbeddings}
	if h.NumKeyValueHeads != nil && *h.NumKeyValueHeads != h.NumAttentionHeads {
		c.KVHeads = *h.NumKeyValueHeads // stored only when it differs: one config, one fingerprint
	}
	if h.HeadDim != nil && *h.HeadDim != h.HiddenSize/max(h.NumAttentionHeads, 1) {
		c.HeadDim = *h.HeadDim
	}
	eps := h.RMSNormEps
	if a.norm == layerNorm {
		eps = h.LayerNormEps
	}
	if eps != nil {
		c.NormEps = *eps
	}
	theta, share, err := h.rotary()
	if err != nil {
		return Config{}, err
	}
	if theta != nil {
		c.RopeTheta = *theta
	}
	switch {
	case share != nil && *share != 1 && mt.rotaryPct == 0:
		return Config{}, fmt.Errorf("partial_rotary_factor %g is not implemented for %s", *share, h.ModelType)
	case share != nil && mt.rotaryPct != 0:
		c.RotaryPct = *share
	case mt.rotaryPct != 0:
		c.RotaryPct = mt.rotaryPct
	}
	if mt.parallelResidual && h.UseParallelResidual != nil {
		c.ParallelResidual = *h.UseParallelResidual
	}
	if err := h.biases(&c, a); err != nil {
		return Config{}, err
	}
	// A sliding window shorter than the context is honoured by capping the
	// context below it: no sequence then reaches past the window.
	window := 0
	if h.SlidingWindow != nil && (h.UseSlidingWindow == nil || *h.UseSlidingWindow) {
		window = *h.SlidingWindow
		if mt.windowPerLayer && h.MaxWindowLayers != nil && *h.MaxWindowLayers >= c.Layers {
			window = 0 // no layer uses the window
		}
	}
	if window > 0 && window < c.Context {
		c.Context = window
	}
	return c, c.Validate()
}

// biases reads attention_bias and mlp_bias where the architecture leaves
// them open, and refuses the values it cannot take.
func (h hfFamilyConfig) biases(c *Config, a architecture) error {
	switch {
	case a.biased && h.AttentionBias != nil && !*h.AttentionBias:
		return fmt.Errorf("attention_bias false is not implemented for %s", h.ModelType)
	case a.biased:
		return nil
	case a.qkvBias && h.AttentionBias != nil && *h.AttentionBias:
		return fmt.Errorf("attention_bias true is not implemented for %s (its q/k/v biases are always on)", h.ModelType)
	}
	c.AttnBias = h.AttentionBias != nil && *h.AttentionBias
	c.MLPBias = h.MLPBias != nil && *h.MLPBias
	return nil
}

// familyConfigJSON is the config.json srdpo writes for a rotary family,
// under the family's own model_type.
func familyConfigJSON(c Config) ([]byte, error) {
	mt, a := hfModelTypes[string(c.Family)], c.arch()
	kv, hd, tied := c.kvHeads(), c.headDim(), c.TiedHead
	h := hfFamilyConfig{ModelType: string(c.Family), Architectures: []string{mt.class}, VocabSize: c.Vocab, HiddenSize: c.Width,
		IntermediateSize: c.inner(), NumHiddenLayers: c.Layers, NumAttentionHeads: c.Heads, NumKeyValueHeads: &kv, HeadDim: &hd,
		MaxPositionEmbeddings: c.Context, TieWordEmbeddings: &tied, TorchDType: "float32", HiddenAct: mt.act}
	theta, eps := c.RopeTheta, c.NormEps
	if a.norm == layerNorm {
		h.LayerNormEps, h.RotaryEmbBase = &eps, &theta
	} else {
		h.RMSNormEps, h.RopeTheta = &eps, &theta
	}
	if mt.rotaryPct != 0 {
		pct := c.RotaryPct
		if pct == 0 {
			pct = 1
		}
		h.RotaryPct = &pct
	}
	if mt.parallelResidual {
		par := c.ParallelResidual
		h.UseParallelResidual = &par
	}
	if a.biased {
		bias := true
		h.AttentionBias = &bias
	} else {
		ab, mb := c.AttnBias, c.MLPBias
		h.AttentionBias, h.MLPBias = &ab, &mb
	}
	if a.qkv != qkvSeparate {
		h.NumKeyValueHeads, h.HeadDim = nil, nil // not fields of a fused family's config (GPT-NeoX)
	}
	return json.MarshalIndent(h, "", "  ")
}

// hfWeights are a Hugging Face directory's safetensors files, headers
// read: model.safetensors, or the shards model.safetensors.index.json
// lists.
type hfWeights struct {
	files []*safetensorsFile
	at    map[string]*safetensorsFile // tensor name → its file
}

func openHFWeights(dir string) (*hfWeights, error) {
	w := &hfWeights{at: map[string]*safetensorsFile{}}
	index := filepath.Join(dir, "model.safetensors.index.json")
	b, err := os.ReadFile(index)
	var names []string
	var weightMap map[string]string
	switch {
	case os.IsNotExist(err):
		names = []string{"model.safetensors"}
	case err != nil:
		return nil, err
	default:
		var idx struct {
			WeightMap map[string]string `json:"weight_map"`
		}
		if err := json.Unmarshal(b, &idx); err != nil {
			return nil, fmt.Errorf("%s: %w", index, err)
		}
		weightMap = idx.WeightMap
		seen := map[string]bool{}
		for _, t := range slices.Sorted(maps.Keys(weightMap)) {
			f := weightMap[t]
			if !isShardName(f) {
				return nil, fmt.Errorf("%s: weight_map puts %s in %q, which is not a .safetensors file name of the model's directory", index, t, f)
			}
			if !seen[f] {
				seen[f] = true
				names = append(names, f)
			}
		}
		sort.Strings(names)
	}
	for _, name := range names {
		f, err := openSafetensors(filepath.Join(dir, name))
		if err != nil {
			w.Close()
			return nil, err
		}
		w.files = append(w.files, f)
		for t := range f.entries {
			if weightMap != nil && weightMap[t] != name {
				w.Close()
				return nil, fmt.Errorf("%s: tensor %s is in %s, but the index puts it in %q", dir, t, name, weightMap[t])
			}
			w.at[t] = f
		}
	}
	for t, f := range weightMap {
		if _, ok := w.at[t]; !ok {
			w.Close()
			return nil, fmt.Errorf("%s: tensor %s is missing from %s", dir, t, f)
		}
	}
	return w, nil
}

// isShardName tells a file name the index may give: a .safetensors file
// in the model's own directory, so that a crafted index cannot make the
// loader read elsewhere ("../", absolute paths, separators).
func isShardName(f string) bool {
	return strings.HasSuffix(f, ".safetensors") && filepath.IsLocal(f) && filepath.Base(f) == f && !strings.ContainsAny(f, `/\`)
}

func (w *hfWeights) Close() error {
	for _, f := range w.files {
		f.Close()
	}
	return nil
}

// weightSource is where a weight's values are: a file and its name there.
type weightSource struct {
	file *safetensorsFile
	name string
}

// match pairs every weight of the config with its tensor, checking shapes:
// nothing missing, nothing unknown. Buffers (GPT-2's causal masks, NeoX's,
// rotary inv_freq) and a tied head's copy are skipped; GPT-2 files may
// carry their head model's prefix (layout.headPrefix, GPT-2's "transformer.").
func (w *hfWeights) match(dir string, c Config) (map[string]weightSource, error) {
	shapes := c.weightShapes()
	out := map[string]weightSource{}
	for stored, f := range w.at {
		name := strings.TrimPrefix(stored, c.layout().headPrefix)
		switch {
		case strings.HasSuffix(name, "rotary_emb.inv_freq"), strings.HasSuffix(name, ".attention.bias"),
			strings.HasSuffix(name, ".attention.masked_bias"), strings.HasSuffix(name, ".attn.bias"), strings.HasSuffix(name, ".attn.masked_bias"):
			continue // buffers, not weights
		case name == c.layout().head && c.TiedHead:
			continue // a copy of the embedding
		}
		want, ok := shapes[name]
		if !ok {
			return nil, fmt.Errorf("%s: unexpected tensor %q for a %s model of this config", dir, stored, c.Family.orDefault())
		}
		if got := f.entries[stored].Shape; !slices.Equal(got, want) {
			return nil, fmt.Errorf("%s: tensor %s has shape %v, want %v", dir, name, got, want)
		}
		out[name] = weightSource{f, stored}
	}
	for name := range shapes {
		if _, ok := out[name]; !ok {
			if name == c.layout().head {
				return nil, fmt.Errorf("%s: tensor %s is missing (tie_word_embeddings is false, so the model needs its own head)", dir, name)
			}
			return nil, fmt.Errorf("%s: tensor %s is missing", dir, name)
		}
	}
	return out, nil
}

// writeHFWeights writes tensors as model.safetensors, or, when they exceed
// maxShardBytes (as F32), as model-0000k-of-0000n.safetensors with
// model.safetensors.index.json, Hugging Face's sharded layout.
func writeHFWeights(dir string, src weightStream, maxShardBytes int64) error {
	total := src.bytes(src.names)
	meta := map[string]string{"format": "pt"}
	if total <= maxShardBytes {
		return writeSafetensors(filepath.Join(dir, "model.safetensors"), src, meta)
	}
	var shards [][]string
	var size int64
	for _, n := range src.names {
		bytes := src.bytes([]string{n})
		if len(shards) == 0 || size+bytes > maxShardBytes {
			shards, size = append(shards, nil), 0
		}
		shards[len(shards)-1] = append(shards[len(shards)-1], n)
		size += bytes
	}
	weightMap := map[string]string{}
	for i, names := range shards {
		file := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		shard := src
		shard.names = names
		if err := writeSafetensors(filepath.Join(dir, file), shard, meta); err != nil {
			return err
		}
		for _, n := range names {
			weightMap[n] = file
		}
	}
	idx, err := json.MarshalIndent(map[string]any{"metadata": map[string]int64{"total_size": total}, "weight_map": weightMap}, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, "model.safetensors.index.json"), append(idx, '\n'))
}
