package model

import (
	"encoding/json"
	"fmt"
	"os"
)

// Config is the whole shape of a GPT-2-architecture model.
type Config struct {
	Vocab   int     `json:"vocab_size"`  // tokens
	Context int     `json:"n_positions"` // learned positions, the longest sequence
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
	case c.Heads < 1 || c.Width < 1 || c.Width%c.Heads != 0:
		return fmt.Errorf("model config: n_embd %d must be a positive multiple of n_head %d", c.Width, c.Heads)
	case c.NormEps <= 0:
		return fmt.Errorf("model config: layer_norm_epsilon %g must be positive", c.NormEps)
	case c.Dropout != 0:
		return fmt.Errorf("model config: dropout %g is not supported (srdpo computes exact log-probs; set it to 0)", c.Dropout)
	case c.DType.validate() != nil:
		return fmt.Errorf("model config: %w", c.DType.validate())
	}
	return nil
}

// Params counts the model's parameters.
func (c Config) Params() int {
	d := c.Width
	n := c.Vocab*d + c.Context*d + 2*d // wte, wpe, ln_f
	n += c.Layers * (4*d + (d*3*d + 3*d) + (d*d + d) + (d*4*d + 4*d) + (4*d*d + d))
	if !c.TiedHead {
		n += c.Vocab * d
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
