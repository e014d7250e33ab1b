package model

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/srdpo/srdpo/atomicfile"
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
func ImportHF(dir string, backend compute.Backend, dtype DType) (*Decoder, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	cfg, err := hfModelConfig(b, dtype)
	if err != nil {
		return nil, fmt.Errorf("%s/config.json: %w", dir, err)
	}
	files, err := openHFWeights(dir)
	if err != nil {
		return nil, err
	}
	defer files.Close()
	where, err := files.match(dir, cfg)
	if err != nil {
		return nil, err
	}
	// Tensor by tensor, straight into the model's dtype: the file and a
	// float64 copy of the weights are never held at once.
	return fromSource(cfg, backend, func(name string, shape []int) (*tensors.Tensor, error) {
		return readWeight(where[name], cfg.DType, shape)
	})
}

// hfModelConfig maps a config.json of any supported family (GPT-2 when it
// names no model_type).
func hfModelConfig(b []byte, dtype DType) (Config, error) {
	var kind struct {
		ModelType string `json:"model_type"`
	}
	if err := json.Unmarshal(b, &kind); err != nil {
		return Config{}, err
	}
	if kind.ModelType != "" && kind.ModelType != "gpt2" {
		return familyConfig(b, dtype)
	}
	return gpt2Config(b, dtype)
}

// readWeight reads a tensor straight into dtype.
func readWeight(src weightSource, dtype DType, shape []int) (*tensors.Tensor, error) {
	n := product(shape)
	if dtype == Float64 {
		v := make([]float64, n)
		err := src.file.read(src.name, func(i int, x float64) { v[i] = x })
		return tensors.FromFlatDataAndDimensions(v, shape...), err
	}
	v := make([]float32, n)
	err := src.file.read(src.name, func(i int, x float64) { v[i] = float32(x) })
	return tensors.FromFlatDataAndDimensions(v, shape...), err
}

// gpt2Config maps a GPT-2 config.json, refusing what srdpo's GPT-2 does
// not compute.
func gpt2Config(b []byte, dtype DType) (Config, error) {
	var hc hfConfig
	if err := json.Unmarshal(b, &hc); err != nil {
		return Config{}, err
	}
	switch {
	case hc.Activation != "gelu_new" && hc.Activation != "gelu_pytorch_tanh":
		return Config{}, fmt.Errorf("activation_function %q: want gelu_new", hc.Activation)
	case hc.NInner != nil && *hc.NInner != 4*hc.NEmbd:
		return Config{}, fmt.Errorf("n_inner %d: the MLP must be 4×n_embd", *hc.NInner)
	case hc.ScaleAttnWeights != nil && !*hc.ScaleAttnWeights, hc.ScaleAttnByInverseLayerIdx:
		return Config{}, fmt.Errorf("attention must be scaled by 1/sqrt(d_head) only")
	}
	cfg := Config{Vocab: hc.VocabSize, Context: hc.NPositions, Layers: hc.NLayer, Heads: hc.NHead, Width: hc.NEmbd,
		NormEps: hc.LayerNormEps, TiedHead: hc.TieWordEmbeddings == nil || *hc.TieWordEmbeddings, DType: dtype}
	if cfg.NormEps == 0 {
		cfg.NormEps = 1e-5
	}
	return cfg, cfg.Validate()
}

// DefaultShardBytes is the largest safetensors file ExportHF writes, as
// Hugging Face's save_pretrained (5 GB); a larger model is sharded.
const DefaultShardBytes = 5_000_000_000

// ExportHF writes the model as a Hugging Face directory of its family:
// config.json and model.safetensors (F32), sharded above DefaultShardBytes.
// A LoRA adapter is merged in (WritePEFTAdapter writes it on its own).
func (m *Decoder) ExportHF(dir string) error { return m.ExportHFSharded(dir, DefaultShardBytes) }

// ExportHFSharded is ExportHF with shards of at most maxShardBytes.
func (m *Decoder) ExportHFSharded(dir string, maxShardBytes int64) error {
	c := m.Config
	b, err := hfConfigJSON(c)
	if err != nil {
		return err
	}
	src := weightStream{names: c.WeightNames(), shapes: map[string][]int{}, get: m.mergedWeight}
	for _, n := range src.names {
		src.shapes[n] = c.WeightShape(n)
	}
	return writeHFDir(dir, src, b, maxShardBytes)
}

// hfConfigJSON is the config.json of a causal LM of c's family.
func hfConfigJSON(c Config) ([]byte, error) {
	if c.Family.orDefault() != FamilyGPT2 {
		return familyConfigJSON(c)
	}
	tied := c.TiedHead
	inner := 4 * c.Width
	hc := hfConfig{ModelType: "gpt2", Architectures: []string{"GPT2LMHeadModel"}, Activation: "gelu_new",
		VocabSize: c.Vocab, NPositions: c.Context, NCtx: c.Context, NEmbd: c.Width, NLayer: c.Layers, NHead: c.Heads,
		NInner: &inner, LayerNormEps: c.NormEps, TieWordEmbeddings: &tied}
	return json.MarshalIndent(hc, "", "  ")
}

// writeHFDir writes the weights and config.json (last) into dir.
func writeHFDir(dir string, src weightStream, config []byte, maxShardBytes int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeHFWeights(dir, src, maxShardBytes); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, "config.json"), append(config, '\n'))
}
