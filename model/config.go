package model

import (
	"encoding/json"
	"fmt"
	"os"
)

// Config is the whole shape of a model: GPT-2's fields, and for the other
// families (family.go) their few differences. Fields a family does not use
// stay zero and are left out of config.json, so a GPT-2 config (and so its
// fingerprint) reads as it always did.
type Config struct {
	Family  Family  `json:"family,omitempty"` // "" is GPT-2
	Vocab   int     `json:"vocab_size"`       // tokens
	Context int     `json:"n_positions"`      // learned positions, the longest sequence
	Layers  int     `json:"n_layer"`
	Heads   int     `json:"n_head"`
	Width   int     `json:"n_embd"` // model width d; d_head = Width / Heads
	NormEps float64 `json:"layer_norm_epsilon"`
	// TiedHead shares the token embedding with the output projection, as
	// GPT-2 does; otherwise the model has its own lm_head.
	TiedHead bool `json:"tie_word_embeddings"`
	// Dropout is kept for checkpoints that carry it; srdpo computes exact
	// log-probs, so it trains and scores without dropout and refuses a
	// non-zero value rather than silently ignoring it.
	Dropout float64 `json:"dropout"`
	DType   DType   `json:"dtype"` // Float32 (default) or Float64 (gradient checks)

	KVHeads          int     `json:"n_kv_head,omitempty"`         // key/value heads (GQA); 0: Heads
	HeadDim          int     `json:"head_dim,omitempty"`          // 0: Width / Heads
	Inner            int     `json:"n_inner,omitempty"`           // MLP width; 0: 4 × Width
	RopeTheta        float64 `json:"rope_theta,omitempty"`        // rotary base
	RotaryPct        float64 `json:"rotary_pct,omitempty"`        // share of a head RoPE turns (NeoX); 0: all
	AttnBias         bool    `json:"attention_bias,omitempty"`    // llama's attention_bias: q, k, v and o biases
	MLPBias          bool    `json:"mlp_bias,omitempty"`          // llama's mlp_bias
	ParallelResidual bool    `json:"parallel_residual,omitempty"` // NeoX: x + attn(ln1 x) + mlp(ln2 x)
}

// Tiny is a small configuration for tests and the embedded task.
func Tiny(vocab int) Config {
	return Config{Vocab: vocab, Context: 128, Layers: 2, Heads: 4, Width: 64, NormEps: 1e-5, TiedHead: true, DType: Float32}
}

// Validate reports the first inconsistent setting.
func (c Config) Validate() error {
	switch {
	case c.Vocab < 2:
		return fmt.Errorf("model config: vocab_size %d must be at least 2", c.Vocab)
	case c.Context < 2:
		return fmt.Errorf("model config: n_positions %d must be at least 2", c.Context)
	case c.Layers < 1:
		return fmt.Errorf("model config: n_layer %d must be at least 1", c.Layers)
	case c.Heads < 1 || c.Width < 1 || (c.HeadDim == 0 && c.Width%c.Heads != 0):
		hint := ""
		if c.arch().rotary {
			hint = " (or give head_dim)"
		}
		return fmt.Errorf("model config: n_embd %d must be a positive multiple of n_head %d%s", c.Width, c.Heads, hint)
	case c.NormEps <= 0:
		return fmt.Errorf("model config: layer_norm_epsilon %g must be positive", c.NormEps)
	case c.Dropout != 0:
		return fmt.Errorf("model config: dropout %g is not supported (srdpo computes exact log-probs; set it to 0)", c.Dropout)
	case c.DType.validate() != nil:
		return fmt.Errorf("model config: %w", c.DType.validate())
	}
	a, ok := architectures[c.Family.orDefault()]
	if !ok {
		return fmt.Errorf("model config: family %q: want one of %v", c.Family, Families())
	}
	if !a.rotary {
		if c.KVHeads != 0 || c.HeadDim != 0 || c.RopeTheta != 0 || c.RotaryPct != 0 || c.AttnBias || c.MLPBias || c.ParallelResidual ||
			(c.Inner != 0 && c.Inner != 4*c.Width) {
			return fmt.Errorf("model config: a %s model has none of n_kv_head, head_dim, rope_theta, rotary_pct, attention/mlp bias or parallel residual, and an MLP of 4 × n_embd", c.Family.orDefault())
		}
		return nil
	}
	switch {
	case c.RopeTheta <= 0:
		return fmt.Errorf("model config: rope_theta %g must be positive", c.RopeTheta)
	case c.Heads%c.kvHeads() != 0:
		return fmt.Errorf("model config: %d heads are not a multiple of %d key/value heads", c.Heads, c.kvHeads())
	case a.qkv != qkvSeparate && c.kvHeads() != c.Heads:
		return fmt.Errorf("model config: a %s model's fused query/key/value map has as many key/value heads as heads, not %d", c.Family, c.kvHeads())
	case c.RotaryPct < 0 || c.RotaryPct > 1:
		return fmt.Errorf("model config: rotary_pct %g: want 0 < p ≤ 1", c.RotaryPct)
	case c.rotaryDims()%2 != 0 || c.rotaryDims() == 0:
		return fmt.Errorf("model config: %d rotary dimensions: want an even, positive number", c.rotaryDims())
	}
	return nil
}

// Params counts the model's parameters.
func (c Config) Params() int {
	n := 0
	for _, shape := range c.weightShapes() {
		n += product(shape)
	}
	return n
}

// ReadConfig reads a config.json.
func ReadConfig(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	c := Config{NormEps: 1e-5, TiedHead: true, DType: Float32}
	if err := json.Unmarshal(b, &c); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if c.DType == "" {
		c.DType = Float32
	}
	return c, c.Validate()
}
