package model

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/srdpo/srdpo/model/optim"
	"github.com/srdpo/srdpo/model/tokenizer"
)

// loraSets are target sets for each family: PEFT's default, every linear
// map, and a set of output maps named by a dotted suffix or a bare name.
var loraSets = map[Family][][]string{
	FamilyGPT2:  {nil, {AllLinear}, {"mlp.c_proj"}, {"c_attn", "c_proj", "c_fc"}},
	FamilyNeoX:  {nil, {AllLinear}, {"dense", "dense_4h_to_h"}},
	FamilyLlama: {nil, {AllLinear}, {"k_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}},
	FamilyQwen2: {nil, {AllLinear}, {"k_proj", "down_proj"}},
	FamilyQwen3: {nil, {AllLinear}, {"q_proj", "k_proj", "v_proj", "o_proj"}},
}

// tinyByteTask is a tiny float64 byte-level model's config and n toy
// preference pairs scored by it (seed 1).
func tinyByteTask(t *testing.T, n int) (Config, []PreferencePair) {
	backend, _ := Backend()
	cfg := Tiny(tokenizer.Byte{}.VocabSize())
	cfg.DType = "float64"
	ref, _ := New(cfg, 1, backend)
	return cfg, toyPreferences(t, ref, n)
}

// tinyGPT2 is a small float64 GPT-2 (Conv1D maps, the "transformer."
// head prefix).
func tinyGPT2() Config {
	return Config{Family: FamilyGPT2, Vocab: 37, Context: 16, Layers: 2, Heads: 4, Width: 16, NormEps: 1e-5, DType: Float64}
}

// withRandomB sets every adapter B to random values (at initialisation B
// is zero and the adapter does nothing), and returns the adapter weights.
func withRandomB(t *testing.T, m *Decoder, seed uint64) map[string][]float64 {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	for _, name := range m.lora.weightNames() {
		if strings.HasSuffix(name, ".lora_B.weight") {
			v := make([]float64, product(m.shapeOf(name)))
			for i := range v {
				v[i] = 0.3 * rng.NormFloat64()
			}
			if err := m.Store.GetVariable(weightPath(name)).SetValue(tensors.FromFlatDataAndDimensions(v, m.shapeOf(name)...)); err != nil {
				t.Fatal(err)
			}
		}
	}
	ad, err := m.AdapterWeights()
	if err != nil {
		t.Fatal(err)
	}
	return ad
}

// mergeByHand is W + s·B·A for every adapted map, written out from PEFT's
// get_delta_weight (transpose(B @ A, fan_in_fan_out) * scaling), with the
// widths read off the base weight's Hugging Face shape and the rank off
// A's length.
func mergeByHand(c Config, base, ad map[string][]float64, conv1D bool, s float64) map[string][]float64 {
	out := map[string][]float64{}
	for k, v := range base {
		out[k] = append([]float64(nil), v...)
	}
	for name, a := range ad {
		mapName, ok := strings.CutSuffix(name, ".lora_A.weight")
		if !ok {
			continue
		}
		b := ad[mapName+".lora_B.weight"]
		shape := c.WeightShape(mapName + ".weight")
		outDim, in := shape[0], shape[1]
		if conv1D { // stored [in, out]
			outDim, in = shape[1], shape[0]
		}
		r := len(a) / in
		w := out[mapName+".weight"]
		for o := 0; o < outDim; o++ {
			for i := 0; i < in; i++ {
				var d float64
				for k := 0; k < r; k++ {
					d += b[o*r+k] * a[k*in+i]
				}
				if conv1D {
					w[i*outDim+o] += s * d
				} else {
					w[o*in+i] += s * d
				}
			}
		}
	}
	return out
}

// A LoRA model's logits, and those of its Merged model, equal those of
// the base model with W + s·B·A merged by hand, computed by the
// independent float64 transcription of the Hugging Face forward, for
// every family and target set (1e-10).
func TestLoRAForwardEqualsMergedWeights(t *testing.T) {
	configs := familyConfigs()
	configs["gpt2"] = tinyGPT2()
	seq := []int32{3, 1, 4, 1, 5, 9, 2, 6, 5}
	for name, c := range configs {
		for _, set := range loraSets[c.Family] {
			for _, rs := range []bool{false, true} {
				t.Run(name+"/"+strings.Join(set, ",")+map[bool]string{true: "/rslora"}[rs], func(t *testing.T) {
					m := randomWeights(t, c, 5)
					base, _ := m.Weights()
					l := LoRA{Rank: 3, Alpha: 5, Targets: set, RSLoRA: rs}
					if err := m.AddLoRA(l, 9); err != nil {
						t.Fatal(err)
					}
					ad := withRandomB(t, m, 11)
					s := 5.0 / 3
					if rs {
						s = 5 / math.Sqrt(3)
					}
					var want [][]float64
					if c.Family == FamilyGPT2 {
						want = referenceLogits(c, mergeByHand(c, base, ad, true, s), seq)
					} else {
						want = familyReferenceLogits(c, mergeByHand(c, base, ad, false, s), seq)
					}
					merged, err := m.Merged()
					if err != nil {
						t.Fatal(err)
					}
					got, gotMerged := logits(t, m, seq), logits(t, merged, seq)
					tol := 1e-10
					if c.Family == FamilyNeoX {
						tol = 1e-5 // Erf has float32 accuracy under GOEXPERIMENT=simd (design §8)
					}
					worst := 0.0
					for i := range want {
						for j := range want[i] {
							worst = math.Max(worst, math.Abs(got[i][j]-want[i][j]))
							worst = math.Max(worst, math.Abs(gotMerged[i][j]-want[i][j]))
						}
					}
					if worst > tol {
						t.Errorf("largest difference from the merged reference %g (tolerance %g)", worst, tol)
					}
					// Exported as a Hugging Face directory (in small shards, one
					// weight at a time), the merged weights are the hand merge
					// in float32.
					dir := t.TempDir()
					if err := m.ExportHFSharded(dir, 20_000); err != nil {
						t.Fatal(err)
					}
					backend, _ := Backend()
					back, err := LoadDir(dir, backend, Float64)
					if err != nil {
						t.Fatal(err)
					}
					exported, _ := back.Weights()
					for n, v := range mergeByHand(c, base, ad, c.Family == FamilyGPT2, s) {
						for i := range v {
							if d := math.Abs(exported[n][i] - v[i]); d > 1e-6*math.Abs(v[i])+1e-9 {
								t.Fatalf("exported %s[%d] = %g, want %g", n, i, exported[n][i], v[i])
							}
						}
					}
				})
			}
		}
	}
}

// At initialisation B is zero: the adapted model computes exactly what
// the base does, bit for bit.
func TestLoRAAtInitialisationIsTheBase(t *testing.T) {
	for name, c := range familyConfigs() {
		t.Run(name, func(t *testing.T) {
			m := randomWeights(t, c, 6)
			seq := []int32{1, 2, 3, 4, 5, 6, 7}
			before := logits(t, m, seq)
			if err := m.AddLoRA(LoRA{Rank: 4, Alpha: 8, Targets: []string{AllLinear}}, 2); err != nil {
				t.Fatal(err)
			}
			after := logits(t, m, seq)
			for i := range before {
				for j := range before[i] {
					if math.Float64bits(before[i][j]) != math.Float64bits(after[i][j]) && before[i][j] != after[i][j] {
						t.Fatalf("logit [%d][%d]: %v without the adapter, %v with it at initialisation", i, j, before[i][j], after[i][j])
					}
				}
			}
		})
	}
}

// A is drawn from U(−1/√in, 1/√in) (kaiming_uniform_ with a = √5), B is 0.
func TestLoRAInitialisation(t *testing.T) {
	c := familyConfigs()["llama GQA 4:2"]
	m := randomWeights(t, c, 1)
	if err := m.AddLoRA(LoRA{Rank: 8, Alpha: 16, Targets: []string{"down_proj"}}, 3); err != nil {
		t.Fatal(err)
	}
	ad, _ := m.AdapterWeights()
	a := ad["model.layers.0.mlp.down_proj.lora_A.weight"] // in = Inner = 24
	bound, largest, sumSq := 1/math.Sqrt(24), 0.0, 0.0
	for _, v := range a {
		largest = math.Max(largest, math.Abs(v))
		sumSq += v * v
	}
	if len(a) != 8*24 || largest > bound || largest < 0.9*bound {
		t.Errorf("A: %d values, largest |a| %g, want 192 within ±%g reaching near it", len(a), largest, bound)
	}
	if rms, want := math.Sqrt(sumSq/float64(len(a))), bound/math.Sqrt(3); math.Abs(rms-want) > 0.15*want {
		t.Errorf("A's RMS %g, want about %g (uniform)", rms, want)
	}
	for _, v := range ad["model.layers.1.mlp.down_proj.lora_B.weight"] {
		if v != 0 {
			t.Fatal("B is not zero at initialisation")
		}
	}
	if got := m.LoRATargets(); len(got) != 2 || got[0] != "model.layers.0.mlp.down_proj" {
		t.Errorf("targets %v", got)
	}
}

// The gradients of A and B equal central finite differences.
func TestLoRAGradientsMatchFiniteDifferences(t *testing.T) {
	for _, name := range []string{"llama GQA 4:2", "qwen3 q/k norms", "neox parallel, 25%"} {
		c := familyConfigs()[name]
		t.Run(name, func(t *testing.T) {
			m := randomWeights(t, c, 3)
			if err := m.AddLoRA(LoRA{Rank: 2, Alpha: 4, Targets: []string{AllLinear}}, 5); err != nil {
				t.Fatal(err)
			}
			withRandomB(t, m, 6)
			var names []string
			for _, n := range m.lora.weightNames() {
				if strings.Contains(n, "layers.0.") && (strings.Contains(n, "q") || strings.Contains(n, "down") ||
					strings.Contains(n, "dense_4h") || strings.Contains(n, "query_key_value")) {
					names = append(names, n)
				}
			}
			if len(names) < 2 {
				t.Fatalf("no adapter weights picked from %v", m.lora.weightNames())
			}
			checkGradients(t, m, names, c.Context)
		})
	}
	c := tinyGPT2()
	t.Run("gpt2 Conv1D", func(t *testing.T) {
		m := randomWeights(t, c, 3)
		if err := m.AddLoRA(LoRA{Rank: 2, Alpha: 4, Targets: []string{"c_attn", "mlp.c_proj"}}, 5); err != nil {
			t.Fatal(err)
		}
		withRandomB(t, m, 6)
		checkGradients(t, m, []string{"h.0.attn.c_attn.lora_A.weight", "h.0.attn.c_attn.lora_B.weight",
			"h.1.mlp.c_proj.lora_A.weight", "h.1.mlp.c_proj.lora_B.weight"}, c.Context)
	})
}

// Training with an adapter changes the adapter only: every base weight is
// bit-identical after the steps, and no gradient or optimiser state exists
// for it.
func TestLoRATrainingFreezesTheBase(t *testing.T) {
	cfg, pairs := tinyByteTask(t, 6)
	backend, _ := Backend()
	policy, _ := New(cfg, 1, backend)
	before, _ := policy.Weights()
	if err := policy.AddLoRA(LoRA{Rank: 4, Alpha: 8, Targets: []string{AllLinear}}, 2); err != nil {
		t.Fatal(err)
	}
	adBefore, _ := policy.AdapterWeights()
	tr, err := policy.NewPreferenceTrainer(LossConfig{Type: LossSrDPO, Beta: 0.1, Lambda: 0.5}, optim.Config{Name: "adam", LR: 1e-2}, 2)
	if err != nil {
		t.Fatal(err)
	}
	var first, last PreferenceStats
	for step := 0; step < 4; step++ {
		st, err := tr.Step(step, pairs[:4])
		if err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			first = st
		}
		last = st
	}
	after, _ := policy.Weights()
	for name, v := range before {
		for i := range v {
			if math.Float64bits(v[i]) != math.Float64bits(after[name][i]) {
				t.Fatalf("base weight %s[%d] moved: %v → %v", name, i, v[i], after[name][i])
			}
		}
	}
	adAfter, _ := policy.AdapterWeights()
	moved := 0
	for name, v := range adBefore {
		for i := range v {
			if v[i] != adAfter[name][i] {
				moved++
				break
			}
		}
	}
	if moved != len(adBefore) {
		t.Errorf("%d of %d adapter weights moved", moved, len(adBefore))
	}
	if !(last.Loss < first.Loss) {
		t.Errorf("loss %g → %g: the adapter did not learn", first.Loss, last.Loss)
	}
	for _, prefix := range []string{"/optim/m", "/optim/v", "/accum"} {
		for _, name := range cfg.WeightNames() {
			if policy.Store.GetVariable(prefix+weightPath(name)) != nil {
				t.Fatalf("%s holds state for the frozen weight %s", prefix, name)
			}
		}
	}
}

// A model with an adapter saves and loads with it; its fingerprint
// differs from the base's and survives the round trip, and a base without
// adapter keeps the fingerprint it had.
func TestLoRASaveLoad(t *testing.T) {
	c := familyConfigs()["qwen2 biases, tied"]
	m := randomWeights(t, c, 4)
	baseFP := mustFingerprint(t, m)
	if err := m.AddLoRA(LoRA{Rank: 2, Alpha: 2, Dropout: 0.1, Targets: []string{"q_proj", "v_proj"}}, 1); err != nil {
		t.Fatal(err)
	}
	withRandomB(t, m, 2)
	fp := mustFingerprint(t, m)
	if fp == baseFP {
		t.Fatal("the adapter does not change the fingerprint")
	}
	dir := t.TempDir()
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	backend, _ := Backend()
	back, err := Load(dir, backend)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := back.LoRA(); !ok || l.Rank != 2 || l.Dropout != 0.1 {
		t.Fatalf("loaded adapter %+v %v", l, ok)
	}
	if got := mustFingerprint(t, back); got != fp {
		t.Errorf("fingerprint %s after loading, %s before", got, fp)
	}
}

// A PEFT adapter folder written by srdpo loads back onto a fresh base with
// the same outputs, and holds PEFT's names and settings.
func TestPEFTAdapterRoundTrip(t *testing.T) {
	for name, c := range map[string]Config{"gpt2": tinyGPT2(), "neox": familyConfigs()["neox parallel, 25%"], "llama": familyConfigs()["llama GQA 4:2"]} {
		t.Run(name, func(t *testing.T) {
			m := randomWeights(t, c, 8)
			if err := m.AddLoRA(LoRA{Rank: 3, Alpha: 6, Dropout: 0.05, Targets: []string{AllLinear}, RSLoRA: true}, 4); err != nil {
				t.Fatal(err)
			}
			withRandomB(t, m, 5)
			dir := t.TempDir()
			if err := m.WritePEFTAdapter(dir, "my/base"); err != nil {
				t.Fatal(err)
			}
			file, err := ReadSafetensors(filepath.Join(dir, PEFTWeightsFile))
			if err != nil {
				t.Fatal(err)
			}
			wantKey := map[string]string{"gpt2": "base_model.model.transformer.h.1.mlp.c_fc.lora_B.weight",
				"neox":  "base_model.model.gpt_neox.layers.0.attention.query_key_value.lora_A.weight",
				"llama": "base_model.model.model.layers.1.self_attn.o_proj.lora_A.weight"}[name]
			if _, ok := file[wantKey]; !ok {
				t.Errorf("no tensor %s in the adapter file", wantKey)
			}
			cfgJSON, _ := os.ReadFile(filepath.Join(dir, PEFTConfigFile))
			for _, want := range []string{`"peft_type": "LORA"`, `"r": 3`, `"lora_alpha": 6`, `"use_rslora": true`, `"target_modules": "all-linear"`,
				`"base_model_name_or_path": "my/base"`, `"task_type": "CAUSAL_LM"`} {
				if !strings.Contains(string(cfgJSON), want) {
					t.Errorf("adapter_config.json lacks %s:\n%s", want, cfgJSON)
				}
			}
			fresh := randomWeights(t, c, 8)
			if err := fresh.LoadPEFTAdapter(dir); err != nil {
				t.Fatal(err)
			}
			if l, _ := fresh.LoRA(); l.Dropout != 0.05 || !l.RSLoRA || l.Rank != 3 || l.Alpha != 6 {
				t.Errorf("loaded settings %+v", l)
			}
			seq := []int32{2, 7, 1, 8, 2, 8}
			want, got := logits(t, m, seq), logits(t, fresh, seq)
			for i := range want {
				for j := range want[i] {
					// The file holds F32: the loaded adapter is the written one rounded.
					if math.Abs(want[i][j]-got[i][j]) > 1e-5*(1+math.Abs(want[i][j])) {
						t.Fatalf("logit [%d][%d]: %v written, %v loaded", i, j, want[i][j], got[i][j])
					}
				}
			}
		})
	}
}

// Adapter settings srdpo does not compute, and files that do not fit the
// model, are refused with the reason.
func TestPEFTAdapterRefusals(t *testing.T) {
	c := familyConfigs()["llama GQA 4:2"]
	good := randomWeights(t, c, 8)
	if err := good.AddLoRA(LoRA{Rank: 2, Alpha: 4}, 1); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := good.WritePEFTAdapter(dir, ""); err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(filepath.Join(dir, PEFTConfigFile))
	for edit, want := range map[[2]string]string{
		{`"use_dora": false`, `"use_dora": true`}:                     "DoRA",
		{`"bias": "none"`, `"bias": "all"`}:                           "biases",
		{`"peft_type": "LORA"`, `"peft_type": "IA3"`}:                 "not LORA",
		{`"rank_pattern": {}`, `"rank_pattern": {"q_proj": 4}`}:       "rank_pattern",
		{`"modules_to_save": null`, `"modules_to_save": ["lm_head"]`}: "modules_to_save",
		{`"layers_to_transform": null`, `"layers_to_transform": [0]`}: "layers_to_transform",
		{`"q_proj",`, `"w_proj",`}:                                    `"w_proj" matches no linear map`,
		{"[\n    \"q_proj\",\n    \"v_proj\"\n  ]", `".*q_proj"`}:     "regular expression",
		{`"r": 2`, `"r": 3`}:                                          "want [3 16]",
		{`"lora_alpha": 4`, `"lora_alpha": -1`}:                       "alpha",
		{`"target_modules": [`, `"target_modules": ["k_proj", `}:      "is missing",
	} {
		s := strings.Replace(string(orig), edit[0], edit[1], 1)
		if s == string(orig) {
			t.Fatalf("edit %q found nothing to change in\n%s", edit[0], orig)
		}
		bad := t.TempDir()
		os.WriteFile(filepath.Join(bad, PEFTConfigFile), []byte(s), 0o644)
		w, _ := os.ReadFile(filepath.Join(dir, PEFTWeightsFile))
		os.WriteFile(filepath.Join(bad, PEFTWeightsFile), w, 0o644)
		err := randomWeights(t, c, 8).LoadPEFTAdapter(bad)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s → %s: error %v, want one saying %q", edit[0], edit[1], err, want)
		}
	}
	// A file with a tensor of another model.
	extra := t.TempDir()
	os.WriteFile(filepath.Join(extra, PEFTConfigFile), orig, 0o644)
	tensors, _ := ReadSafetensors(filepath.Join(dir, PEFTWeightsFile))
	tensors["base_model.model.model.layers.7.self_attn.q_proj.lora_A.weight"] = Tensor{Shape: []int{2, 16}, Data: make([]float64, 32)}
	WriteSafetensors(filepath.Join(extra, PEFTWeightsFile), tensors, nil)
	if err := randomWeights(t, c, 8).LoadPEFTAdapter(extra); err == nil || !strings.Contains(err.Error(), "layers.7") {
		t.Errorf("an extra tensor: %v", err)
	}
}

// Settings are checked.
func TestLoRAValidate(t *testing.T) {
	for _, l := range []LoRA{{Rank: 0, Alpha: 1}, {Rank: 2, Alpha: 0}, {Rank: 2, Alpha: math.NaN()}, {Rank: 2, Alpha: 1, Dropout: 1},
		{Rank: 2, Alpha: 1, Dropout: -0.1}, {Rank: 2, Alpha: 1, Targets: []string{""}}, {Rank: 1 << 20, Alpha: 1}} {
		if l.Validate() == nil {
			t.Errorf("%+v accepted", l)
		}
	}
}

// Dropout runs in training steps only, seeded: the same seed gives the
// same steps, another seed other steps, and evaluation none at all.
func TestLoRADropout(t *testing.T) {
	cfg, pairs := tinyByteTask(t, 4)
	backend, _ := Backend()
	run := func(dropout float64, seed uint64) (eval0, step0, step1 PreferenceStats) {
		policy, _ := New(cfg, 1, backend)
		if err := policy.AddLoRA(LoRA{Rank: 2, Alpha: 4, Dropout: dropout}, seed); err != nil {
			t.Fatal(err)
		}
		withRandomB(t, policy, 3) // so that dropout changes the output
		tr, err := policy.NewPreferenceTrainer(LossConfig{Type: LossDPO, Beta: 0.1}, optim.Config{Name: "adam", LR: 1e-3}, 1)
		if err != nil {
			t.Fatal(err)
		}
		eval0, _ = tr.Evaluate(pairs)
		step0, _ = tr.Step(0, pairs)
		step1, _ = tr.Step(1, pairs)
		return
	}
	e0, s0, _ := run(0, 5)
	e1, a0, a1 := run(0.5, 5)
	_, b0, b1 := run(0.5, 5)
	_, c0, _ := run(0.5, 6)
	if e0.Loss != e1.Loss {
		t.Errorf("evaluation with dropout %v, without %v: dropout ran outside training", e1.Loss, e0.Loss)
	}
	if a0.Loss == s0.Loss {
		t.Error("dropout 0.5 left the training step's loss unchanged")
	}
	if a0.Loss != b0.Loss || a1.Loss != b1.Loss {
		t.Errorf("the same seed gave steps %v, %v and %v, %v", a0.Loss, a1.Loss, b0.Loss, b1.Loss)
	}
	if a0.Loss == c0.Loss {
		t.Error("another seed gave the same dropout")
	}
}
