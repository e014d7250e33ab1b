package model

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/gomlx/compute"
)

// hfConfig is the part of a Hugging Face GPT-2 config.json srdpo reads.
type hfConfig struct {
	ModelType                  string   `json:"model_type"`
	Architectures              []string `json:"architectures,omitempty"`
	Activation                 string   `json:"activation_function"`
	VocabSize                  int      `json:"vocab_size"`
	NPositions                 int      `json:"n_positions"`
	NCtx                       int      `json:"n_ctx,omitempty"`
	NEmbd                      int      `json:"n_embd"`
	NLayer                     int      `json:"n_layer"`
	NHead                      int      `json:"n_head"`
	NInner                     *int     `json:"n_inner"`
	LayerNormEps               float64  `json:"layer_norm_epsilon"`
	TieWordEmbeddings          *bool    `json:"tie_word_embeddings,omitempty"`
	ScaleAttnWeights           *bool    `json:"scale_attn_weights,omitempty"`
	ScaleAttnByInverseLayerIdx bool     `json:"scale_attn_by_inverse_layer_idx,omitempty"`
	EOSTokenID                 *int     `json:"eos_token_id,omitempty"`
}

// ImportHF loads a Hugging Face checkpoint from a local directory:
// config.json and model.safetensors, or the shards listed in
// model.safetensors.index.json; F32, F16 and BF16 weights are widened to
// the model's dtype. GPT-2, Llama (and Mistral, SmolLM), Qwen2, Qwen3 and
// GPT-NeoX are read; any other model_type, or a setting that changes the
// computation in a way srdpo does not implement, is an error naming it.
// Dropout settings are not used (srdpo computes exact log-probs, as TRL
// does with dropout disabled).
func ImportHF(dir string, backend compute.Backend, dtype DType) (*GPT, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	var kind struct {
		ModelType string `json:"model_type"`
	}
	if err := json.Unmarshal(b, &kind); err != nil {
		return nil, fmt.Errorf("%s/config.json: %w", dir, err)
	}
	if kind.ModelType != "" && kind.ModelType != "gpt2" {
		cfg, err := familyConfig(b, dtype)
		if err != nil {
			return nil, fmt.Errorf("%s/config.json: %w", dir, err)
		}
		tensors, err := readHFWeights(dir)
		if err != nil {
			return nil, err
		}
		values, err := familyWeights(dir, cfg, tensors)
		if err != nil {
			return nil, err
		}
		return FromWeights(cfg, values, backend)
	}
	var hc hfConfig
	if err := json.Unmarshal(b, &hc); err != nil {
		return nil, fmt.Errorf("%s/config.json: %w", dir, err)
	}
	switch {
	case hc.ModelType != "" && hc.ModelType != "gpt2":
		return nil, fmt.Errorf("%s: model_type %q: only the GPT-2 layout is supported", dir, hc.ModelType)
	case hc.Activation != "gelu_new" && hc.Activation != "gelu_pytorch_tanh":
		return nil, fmt.Errorf("%s: activation_function %q: want gelu_new", dir, hc.Activation)
	case hc.NInner != nil && *hc.NInner != 4*hc.NEmbd:
		return nil, fmt.Errorf("%s: n_inner %d: the MLP must be 4×n_embd", dir, *hc.NInner)
	case hc.ScaleAttnWeights != nil && !*hc.ScaleAttnWeights, hc.ScaleAttnByInverseLayerIdx:
		return nil, fmt.Errorf("%s: attention must be scaled by 1/sqrt(d_head) only", dir)
	}
	cfg := Config{Vocab: hc.VocabSize, Context: hc.NPositions, Layers: hc.NLayer, Heads: hc.NHead, Width: hc.NEmbd,
		NormEps: hc.LayerNormEps, TiedHead: hc.TieWordEmbeddings == nil || *hc.TieWordEmbeddings, DType: dtype}
	if cfg.NormEps == 0 {
		cfg.NormEps = 1e-5
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	tensors, err := readHFWeights(dir)
	if err != nil {
		return nil, err
	}
	values := map[string][]float64{}
	for name, t := range tensors {
		name = strings.TrimPrefix(name, "transformer.")
		if strings.HasSuffix(name, ".attn.bias") || strings.HasSuffix(name, ".attn.masked_bias") {
			continue // the causal-mask buffers of older files
		}
		if name == "lm_head.weight" && cfg.TiedHead {
			continue // a copy of wte
		}
		want := cfg.WeightShape(name)
		if !slices.Contains(cfg.WeightNames(), name) {
			return nil, fmt.Errorf("%s: unexpected tensor %q for a GPT-2 of this config", dir, name)
		}
		if !slices.Equal(t.Shape, want) {
			return nil, fmt.Errorf("%s: tensor %s has shape %v, want %v", dir, name, t.Shape, want)
		}
		values[name] = t.Data
	}
	return FromWeights(cfg, values, backend)
}

// DefaultShardBytes is the largest safetensors file ExportHF writes, as
// Hugging Face's save_pretrained (5 GB); a larger model is sharded.
const DefaultShardBytes = 5_000_000_000

// ExportHF writes the model as a Hugging Face directory of its family:
// config.json and model.safetensors (F32), sharded above DefaultShardBytes.
func (m *GPT) ExportHF(dir string) error { return m.ExportHFSharded(dir, DefaultShardBytes) }

// ExportHFSharded is ExportHF with shards of at most maxShardBytes.
func (m *GPT) ExportHFSharded(dir string, maxShardBytes int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	c := m.Config
	weights, err := m.Weights()
	if err != nil {
		return err
	}
	tensors := map[string]Tensor{}
	for name, v := range weights {
		tensors[name] = Tensor{Shape: c.WeightShape(name), Data: v}
	}
	if c.Family.orDefault() != FamilyGPT2 {
		b, err := familyConfigJSON(c)
		if err != nil {
			return err
		}
		if err := writeHFWeights(dir, tensors, maxShardBytes); err != nil {
			return err
		}
		return writeFileAtomically(filepath.Join(dir, "config.json"), append(b, '\n'))
	}
	tied := c.TiedHead
	inner := 4 * c.Width
	hc := hfConfig{ModelType: "gpt2", Architectures: []string{"GPT2LMHeadModel"}, Activation: "gelu_new",
		VocabSize: c.Vocab, NPositions: c.Context, NCtx: c.Context, NEmbd: c.Width, NLayer: c.Layers, NHead: c.Heads,
		NInner: &inner, LayerNormEps: c.NormEps, TieWordEmbeddings: &tied}
	b, err := json.MarshalIndent(hc, "", "  ")
	if err != nil {
		return err
	}
	if err := writeHFWeights(dir, tensors, maxShardBytes); err != nil {
		return err
	}
	return writeFileAtomically(filepath.Join(dir, "config.json"), append(b, '\n'))
}
