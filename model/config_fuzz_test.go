package model

import (
	"testing"
)

// FuzzConfigJSON: any config.json maps to a valid model config or an
// error — never a panic; a config that passes gives weight shapes whose
// sizes are computed without overflow (a billion-wide layer is caught when
// the weights present do not match, before anything is allocated).
func FuzzConfigJSON(f *testing.F) {
	for _, c := range familyConfigs() {
		b, err := familyConfigJSON(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		`{"model_type":"gpt2","n_embd":16,"n_head":4,"n_layer":2,"n_positions":16,"vocab_size":37,"activation_function":"gelu_new"}`,
		`{"model_type":"llama","hidden_size":1000000000,"num_attention_heads":1,"num_hidden_layers":1,"vocab_size":10,"intermediate_size":4,"max_position_embeddings":8}`,
		`{"model_type":"gpt_neox","hidden_size":16,"num_attention_heads":4,"num_hidden_layers":2,"vocab_size":37,"intermediate_size":24,"rotary_pct":0.25,"partial_rotary_factor":0.5,"max_position_embeddings":16}`,
		`{"model_type":"qwen3","hidden_size":-16}`, `[]`, `{"model_type":7}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var cfg Config
		var err error
		if cfg, err = familyConfig(b, Float32); err != nil {
			if cfg, err = gpt2Config(b, Float32); err != nil {
				return
			}
		}
		if err := cfg.Validate(); err != nil {
			t.Errorf("a config that loaded does not validate: %v", err)
		}
		for name, shape := range cfg.weightShapes() {
			for _, d := range shape {
				if d < 0 {
					t.Errorf("%s: shape %v", name, shape)
				}
			}
		}
	})
}
