package model

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Every family goes out as a Hugging Face directory and comes back the
// same model: same config, same weights, same logits; and a second export
// writes the same bytes. One export is sharded.
func TestFamilyExportImportRoundTrip(t *testing.T) {
	backend, _ := Backend()
	for name, c := range familyConfigs() {
		t.Run(name, func(t *testing.T) {
			c.DType = Float32
			m := randomWeights(t, c, 4)
			a, b := t.TempDir(), t.TempDir()
			shard := int64(DefaultShardBytes)
			if c.Family == FamilyQwen3 {
				shard = 8 << 10 // several shards and an index
			}
			if err := m.ExportHFSharded(a, shard); err != nil {
				t.Fatal(err)
			}
			back, err := LoadDir(a, backend, Float32)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.Config, m.Config) {
				t.Errorf("config %+v came back as %+v", m.Config, back.Config)
			}
			wa, _ := m.Weights()
			wb, _ := back.Weights()
			if !reflect.DeepEqual(wa, wb) {
				t.Error("weights differ after the round trip")
			}
			if err := back.ExportHFSharded(b, shard); err != nil {
				t.Fatal(err)
			}
			files, _ := os.ReadDir(a)
			if c.Family == FamilyQwen3 && len(files) < 4 {
				t.Errorf("%d files: the export was not sharded", len(files))
			}
			for _, f := range files {
				if info, _ := f.Info(); info.Mode().Perm() != 0o644 {
					t.Errorf("%s has mode %v, want -rw-r--r--", f.Name(), info.Mode().Perm())
				}
				x, _ := os.ReadFile(filepath.Join(a, f.Name()))
				y, err := os.ReadFile(filepath.Join(b, f.Name()))
				if err != nil || !bytes.Equal(x, y) {
					t.Errorf("%s differs between the two exports", f.Name())
				}
			}
			if mustFingerprint(t, m) != mustFingerprint(t, back) {
				t.Error("fingerprint changed over the round trip")
			}
		})
	}
}

// writeSafetensorsAs writes tensors in F16 or BF16, as a checkpoint saved
// in half precision is.
func writeSafetensorsAs(t *testing.T, path, dtype string, tensors map[string]Tensor) map[string]Tensor {
	t.Helper()
	header := map[string]any{}
	var data []byte
	rounded := map[string]Tensor{}
	for _, name := range sortedKeys(tensors) {
		tn := tensors[name]
		start := len(data)
		r := make([]float64, len(tn.Data))
		for i, v := range tn.Data {
			var h uint16
			if dtype == "BF16" {
				h = uint16(math.Float32bits(float32(v)) >> 16) // truncation: exactly representable
				r[i] = float64(math.Float32frombits(uint32(h) << 16))
			} else {
				h = toFloat16(v)
				r[i] = float16(h)
			}
			data = binary.LittleEndian.AppendUint16(data, h)
		}
		rounded[name] = Tensor{Shape: tn.Shape, Data: r}
		header[name] = map[string]any{"dtype": dtype, "shape": tn.Shape, "data_offsets": []int{start, len(data)}}
	}
	hb, _ := json.Marshal(header)
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(hb)))
	out = append(append(out, hb...), data...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return rounded
}

// toFloat16 rounds a small value to IEEE half precision (normal range).
func toFloat16(v float64) uint16 {
	if v == 0 {
		return 0
	}
	sign := uint16(0)
	if v < 0 {
		sign, v = 0x8000, -v
	}
	exp := int(math.Floor(math.Log2(v)))
	frac := math.Round((v/math.Pow(2, float64(exp)) - 1) * 1024)
	if frac == 1024 {
		frac, exp = 0, exp+1
	}
	return sign | uint16(exp+15)<<10 | uint16(frac)
}

// BF16 and F16 checkpoints load, widened: the model equals one built from
// the half-precision values themselves.
func TestFamilyImportHalfPrecision(t *testing.T) {
	backend, _ := Backend()
	c := familyConfigs()["llama GQA 4:2"]
	m := randomWeights(t, c, 6)
	for _, dtype := range []string{"BF16", "F16"} {
		dir := t.TempDir()
		if err := m.ExportHF(dir); err != nil {
			t.Fatal(err)
		}
		w, _ := m.Weights()
		tensors := map[string]Tensor{}
		for n, v := range w {
			tensors[n] = Tensor{Shape: c.WeightShape(n), Data: v}
		}
		rounded := writeSafetensorsAs(t, filepath.Join(dir, "model.safetensors"), dtype, tensors)
		got, err := ImportHF(dir, backend, Float64)
		if err != nil {
			t.Fatal(err)
		}
		gw, _ := got.Weights()
		for n, r := range rounded {
			if !reflect.DeepEqual(gw[n], r.Data) {
				t.Fatalf("%s: %s differs from its %s values", dtype, n, dtype)
			}
		}
	}
}

// Checkpoints that cannot be computed as written fail, naming the tensor
// or the field.
func TestFamilyImportErrors(t *testing.T) {
	backend, _ := Backend()
	c := familyConfigs()["llama GQA 4:2"] // untied
	c.DType = Float32
	m := randomWeights(t, c, 2)
	export := func() string {
		dir := t.TempDir()
		if err := m.ExportHF(dir); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	editConfig := func(dir string, edit func(map[string]any)) {
		b, _ := os.ReadFile(filepath.Join(dir, "config.json"))
		var cfg map[string]any
		json.Unmarshal(b, &cfg)
		edit(cfg)
		b, _ = json.Marshal(cfg)
		os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
	}
	editTensors := func(dir string, edit func(map[string]Tensor)) {
		ts, err := ReadSafetensors(filepath.Join(dir, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		edit(ts)
		if err := WriteSafetensors(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
			t.Fatal(err)
		}
	}
	for want, breakIt := range map[string]func(string){
		"lm_head.weight is missing (tie_word_embeddings is false": func(d string) {
			editTensors(d, func(ts map[string]Tensor) { delete(ts, "lm_head.weight") })
		},
		"tensor model.layers.1.mlp.up_proj.weight is missing": func(d string) {
			editTensors(d, func(ts map[string]Tensor) { delete(ts, "model.layers.1.mlp.up_proj.weight") })
		},
		"tensor model.layers.0.self_attn.k_proj.weight has shape [16 16], want [8 16]": func(d string) {
			editTensors(d, func(ts map[string]Tensor) {
				ts["model.layers.0.self_attn.k_proj.weight"] = Tensor{Shape: []int{16, 16}, Data: make([]float64, 256)}
			})
		},
		`unexpected tensor "model.layers.0.self_attn.extra.weight"`: func(d string) {
			editTensors(d, func(ts map[string]Tensor) {
				ts["model.layers.0.self_attn.extra.weight"] = Tensor{Shape: []int{2}, Data: []float64{1, 2}}
			})
		},
		`rope_scaling {"factor":8,"rope_type":"llama3"} is not implemented`: func(d string) {
			editConfig(d, func(c map[string]any) { c["rope_scaling"] = map[string]any{"rope_type": "llama3", "factor": 8} })
		},
		`model_type "mamba"`:    func(d string) { editConfig(d, func(c map[string]any) { c["model_type"] = "mamba" }) },
		`hidden_act "gelu"`:     func(d string) { editConfig(d, func(c map[string]any) { c["hidden_act"] = "gelu" }) },
		"partial_rotary_factor": func(d string) { editConfig(d, func(c map[string]any) { c["partial_rotary_factor"] = 0.5 }) },
	} {
		dir := export()
		breakIt(dir)
		if _, err := ImportHF(dir, backend, Float32); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want an error with %q, got %v", want, err)
		}
	}
}

// Real config.json files of each family (their fields as published) map
// to the configs their modeling code computes.
func TestFamilyConfigMapping(t *testing.T) {
	for name, c := range map[string]struct {
		json string
		want Config
	}{
		"SmolLM2-135M (llama)": {`{"model_type":"llama","architectures":["LlamaForCausalLM"],"hidden_act":"silu","hidden_size":576,"intermediate_size":1536,
			"max_position_embeddings":8192,"num_attention_heads":9,"num_hidden_layers":30,"num_key_value_heads":3,"rms_norm_eps":1e-05,
			"rope_scaling":null,"rope_theta":100000,"tie_word_embeddings":true,"vocab_size":49152,"attention_bias":false,"mlp_bias":false,"pretraining_tp":1}`,
			Config{Family: FamilyLlama, Vocab: 49152, Context: 8192, Layers: 30, Heads: 9, Width: 576, NormEps: 1e-5, TiedHead: true, DType: Float32,
				KVHeads: 3, Inner: 1536, RopeTheta: 100000}},
		"Mistral-7B (sliding window 4096 caps the context)": {`{"model_type":"mistral","hidden_act":"silu","hidden_size":4096,"intermediate_size":14336,
			"max_position_embeddings":32768,"num_attention_heads":32,"num_hidden_layers":32,"num_key_value_heads":8,"rms_norm_eps":1e-05,
			"rope_theta":10000.0,"sliding_window":4096,"tie_word_embeddings":false,"vocab_size":32000}`,
			Config{Family: FamilyLlama, Vocab: 32000, Context: 4096, Layers: 32, Heads: 32, Width: 4096, NormEps: 1e-5, DType: Float32,
				KVHeads: 8, Inner: 14336, RopeTheta: 10000}},
		"Qwen2.5-0.5B (qwen2)": {`{"model_type":"qwen2","hidden_act":"silu","hidden_size":896,"intermediate_size":4864,"max_position_embeddings":32768,
			"max_window_layers":24,"num_attention_heads":14,"num_hidden_layers":24,"num_key_value_heads":2,"rms_norm_eps":1e-06,"rope_theta":1000000.0,
			"sliding_window":32768,"tie_word_embeddings":true,"use_sliding_window":false,"vocab_size":151936}`,
			Config{Family: FamilyQwen2, Vocab: 151936, Context: 32768, Layers: 24, Heads: 14, Width: 896, NormEps: 1e-6, TiedHead: true, DType: Float32,
				KVHeads: 2, Inner: 4864, RopeTheta: 1e6}},
		"Qwen3-0.6B (qwen3, head_dim 128)": {`{"model_type":"qwen3","attention_bias":false,"head_dim":128,"hidden_act":"silu","hidden_size":1024,
			"intermediate_size":3072,"max_position_embeddings":40960,"max_window_layers":28,"num_attention_heads":16,"num_hidden_layers":28,
			"num_key_value_heads":8,"rms_norm_eps":1e-06,"rope_scaling":null,"rope_theta":1000000,"sliding_window":null,"tie_word_embeddings":true,
			"use_sliding_window":false,"vocab_size":151936}`,
			Config{Family: FamilyQwen3, Vocab: 151936, Context: 40960, Layers: 28, Heads: 16, Width: 1024, NormEps: 1e-6, TiedHead: true, DType: Float32,
				KVHeads: 8, HeadDim: 128, Inner: 3072, RopeTheta: 1e6}},
		"Pythia-160m (gpt_neox)": {`{"model_type":"gpt_neox","architectures":["GPTNeoXForCausalLM"],"hidden_act":"gelu","hidden_size":768,
			"intermediate_size":3072,"layer_norm_eps":1e-05,"max_position_embeddings":2048,"num_attention_heads":12,"num_hidden_layers":12,
			"rotary_emb_base":10000,"rotary_pct":0.25,"tie_word_embeddings":false,"use_parallel_residual":true,"vocab_size":50304}`,
			Config{Family: FamilyNeoX, Vocab: 50304, Context: 2048, Layers: 12, Heads: 12, Width: 768, NormEps: 1e-5, DType: Float32,
				Inner: 3072, RopeTheta: 10000, RotaryPct: 0.25, ParallelResidual: true}},
		// As transformers 4.5x re-saves a Pythia checkpoint: partial_rotary_factor beside rotary_pct.
		"Pythia-160m re-saved (rotary_pct and partial_rotary_factor)": {`{"model_type":"gpt_neox","hidden_act":"gelu","hidden_size":768,
			"intermediate_size":3072,"layer_norm_eps":1e-05,"max_position_embeddings":2048,"num_attention_heads":12,"num_hidden_layers":12,
			"rotary_emb_base":10000,"rope_theta":10000,"rotary_pct":0.25,"partial_rotary_factor":0.25,"use_parallel_residual":true,"vocab_size":50304}`,
			Config{Family: FamilyNeoX, Vocab: 50304, Context: 2048, Layers: 12, Heads: 12, Width: 768, NormEps: 1e-5, DType: Float32,
				Inner: 3072, RopeTheta: 10000, RotaryPct: 0.25, ParallelResidual: true}},
		// As transformers v5 writes it (configuration_gpt_neox.py at 008e5743: rope_parameters holds θ and the share).
		"Pythia-160m (transformers v5 rope_parameters)": {`{"model_type":"gpt_neox","hidden_act":"gelu","hidden_size":768,
			"intermediate_size":3072,"layer_norm_eps":1e-05,"max_position_embeddings":2048,"num_attention_heads":12,"num_hidden_layers":12,
			"rope_parameters":{"rope_type":"default","rope_theta":20000,"partial_rotary_factor":0.5},"use_parallel_residual":false,"vocab_size":50304}`,
			Config{Family: FamilyNeoX, Vocab: 50304, Context: 2048, Layers: 12, Heads: 12, Width: 768, NormEps: 1e-5, DType: Float32,
				Inner: 3072, RopeTheta: 20000, RotaryPct: 0.5}},
	} {
		got, err := familyConfig([]byte(c.json), Float32)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s:\n got  %+v\n want %+v", name, got, c.want)
		}
	}
}

// A setting written under two names must agree; a real conflict names both.
func TestFamilyConfigConflicts(t *testing.T) {
	neox := `"model_type":"gpt_neox","hidden_act":"gelu","hidden_size":64,"intermediate_size":256,"max_position_embeddings":64,
		"num_attention_heads":4,"num_hidden_layers":1,"vocab_size":100`
	for want, extra := range map[string]string{
		"rotary_pct 0.25 and partial_rotary_factor 0.5 disagree":               `"rotary_pct":0.25,"partial_rotary_factor":0.5`,
		"rotary_pct 0.25 and rope_parameters.partial_rotary_factor 1 disagree": `"rotary_pct":0.25,"rope_parameters":{"partial_rotary_factor":1}`,
		"rope_theta 10000 and rotary_emb_base 20000 disagree":                  `"rope_theta":10000,"rotary_emb_base":20000`,
		`rope_parameters.rope_type "linear" is not implemented`:                `"rope_parameters":{"rope_type":"linear","rope_theta":10000}`,
	} {
		_, err := familyConfig([]byte("{"+neox+","+extra+"}"), Float32)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want an error with %q, got %v", extra, want, err)
		}
	}
}
