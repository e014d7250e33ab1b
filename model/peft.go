package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/srdpo/srdpo/atomicfile"
)

// PEFT's adapter folder: adapter_config.json and adapter_model.safetensors
// (peft/utils/constants.py CONFIG_NAME and SAFETENSORS_WEIGHTS_NAME),
// tensors named as get_peft_model_state_dict names them
// (peft/utils/save_and_load.py, huggingface/peft@6b2556e6): the causal LM's
// module name under "base_model.model.", then lora_A.weight or
// lora_B.weight, the adapter's name ("default") removed.
const (
	PEFTConfigFile  = "adapter_config.json"
	PEFTWeightsFile = "adapter_model.safetensors"
	peftKeyPrefix   = "base_model.model."
)

// peftConfig is the part of PEFT's LoraConfig srdpo reads and writes.
// Fields that would change what the adapter computes and that srdpo does
// not implement are read so that they can be refused, not ignored.
type peftConfig struct {
	PEFTType          string          `json:"peft_type"`
	TaskType          string          `json:"task_type"`
	BaseModel         string          `json:"base_model_name_or_path"`
	R                 int             `json:"r"`
	LoraAlpha         float64         `json:"lora_alpha"`
	LoraDropout       float64         `json:"lora_dropout"`
	TargetModules     json.RawMessage `json:"target_modules"`
	UseRSLoRA         bool            `json:"use_rslora"`
	Bias              string          `json:"bias"`
	FanInFanOut       bool            `json:"fan_in_fan_out"`
	InitLoraWeights   bool            `json:"init_lora_weights"`
	InferenceMode     bool            `json:"inference_mode"`
	UseDoRA           bool            `json:"use_dora"`
	LoraBias          bool            `json:"lora_bias"`
	ModulesToSave     []string        `json:"modules_to_save"`
	LayersToTransform json.RawMessage `json:"layers_to_transform"`
	RankPattern       map[string]any  `json:"rank_pattern"`
	AlphaPattern      map[string]any  `json:"alpha_pattern"`
}

// peftKey is the name PEFT saves an adapter weight under.
func (c Config) peftKey(name string) string { return peftKeyPrefix + c.layout().headPrefix + name }

// WritePEFTAdapter writes the model's adapter as a PEFT adapter folder
// that PeftModel.from_pretrained(base, dir) loads. baseModel is written as
// base_model_name_or_path.
func (m *Decoder) WritePEFTAdapter(dir, baseModel string) error {
	if m.lora == nil {
		return fmt.Errorf("the model has no LoRA adapter to write")
	}
	w, err := m.AdapterWeights()
	if err != nil {
		return err
	}
	tensors := map[string]Tensor{}
	for name, v := range w {
		tensors[m.Config.peftKey(name)] = Tensor{Shape: m.lora.shape(name), Data: v}
	}
	l := m.lora.cfg
	targets := l.Targets
	if len(targets) == 0 {
		targets = m.Config.arch().loraTargets
	}
	tm, err := json.Marshal(targets)
	if err != nil {
		return err
	}
	if len(targets) == 1 && targets[0] == AllLinear {
		tm, _ = json.Marshal(AllLinear) // PEFT takes the shorthand as a string
	}
	cfg := peftConfig{PEFTType: "LORA", TaskType: "CAUSAL_LM", BaseModel: baseModel, R: l.Rank, LoraAlpha: l.Alpha,
		LoraDropout: l.Dropout, TargetModules: tm, UseRSLoRA: l.RSLoRA, Bias: "none",
		FanInFanOut: m.Config.arch().conv1D, InitLoraWeights: true, InferenceMode: true,
		RankPattern: map[string]any{}, AlphaPattern: map[string]any{}}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := WriteSafetensors(filepath.Join(dir, PEFTWeightsFile), tensors, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, PEFTConfigFile), append(b, '\n'))
}

// LoadPEFTAdapter attaches the PEFT LoRA adapter in dir (a local folder)
// to the model. Settings srdpo does not compute (DoRA, biases, modules to
// save, per-layer ranks, regular-expression targets) are refused; every
// targeted map must have its A and B, of the right shapes, and the file
// nothing else.
func (m *Decoder) LoadPEFTAdapter(dir string) error {
	if m.lora != nil {
		return fmt.Errorf("the model already has a LoRA adapter")
	}
	l, err := readPEFTConfig(filepath.Join(dir, PEFTConfigFile))
	if err != nil {
		return err
	}
	targets, err := m.Config.loraTargets(l)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	path := filepath.Join(dir, PEFTWeightsFile)
	file, err := ReadSafetensors(path)
	if err != nil {
		return err
	}
	byKey := map[string]string{} // PEFT key → srdpo name
	ad := &adapter{cfg: l, targets: targets}
	for _, name := range ad.weightNames() {
		byKey[m.Config.peftKey(name)] = name
		byKey[peftKeyPrefix+name] = name // saved from the base model class (no head prefix)
	}
	values := map[string][]float64{}
	for _, key := range sortedKeys(file) {
		name, ok := byKey[key]
		if !ok {
			return fmt.Errorf("%s: tensor %q is not a LoRA weight of a targeted map of this %s model", path, key, m.Config.Family.orDefault())
		}
		if _, dup := values[name]; dup {
			return fmt.Errorf("%s: adapter weight %s is there twice", path, name)
		}
		if got, want := file[key].Shape, ad.shape(name); !slices.Equal(got, want) {
			return fmt.Errorf("%s: tensor %s has shape %v, want %v (rank %d)", path, key, got, want, l.Rank)
		}
		values[name] = file[key].Data
	}
	for _, name := range ad.weightNames() {
		if _, ok := values[name]; !ok {
			return fmt.Errorf("%s: tensor %s is missing (adapter_config.json targets that map)", path, m.Config.peftKey(name))
		}
	}
	return m.setAdapter(l, targets, values)
}

// readPEFTConfig reads adapter_config.json as LoRA settings.
func readPEFTConfig(path string) (LoRA, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return LoRA{}, err
	}
	var c peftConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return LoRA{}, fmt.Errorf("%s: %w", path, err)
	}
	refuse := func(what string) (LoRA, error) {
		return LoRA{}, fmt.Errorf("%s: %s; srdpo loads plain LoRA adapters only", path, what)
	}
	switch {
	case c.PEFTType != "LORA":
		return refuse(fmt.Sprintf("peft_type %q is not LORA", c.PEFTType))
	case c.UseDoRA:
		return refuse("use_dora is true (DoRA)")
	case c.LoraBias:
		return refuse("lora_bias is true")
	case c.Bias != "" && c.Bias != "none":
		return refuse(fmt.Sprintf("bias %q trains the base model's biases too", c.Bias))
	case len(c.ModulesToSave) > 0:
		return refuse(fmt.Sprintf("modules_to_save %v carries full copies of modules", c.ModulesToSave))
	case len(c.RankPattern) > 0 || len(c.AlphaPattern) > 0:
		return refuse("rank_pattern or alpha_pattern gives some maps their own rank or alpha")
	case len(c.LayersToTransform) > 0 && !bytes.Equal(c.LayersToTransform, []byte("null")):
		return refuse("layers_to_transform limits the adapter to some layers")
	}
	l := LoRA{Rank: c.R, Alpha: c.LoraAlpha, Dropout: c.LoraDropout, RSLoRA: c.UseRSLoRA}
	var one string
	switch {
	case json.Unmarshal(c.TargetModules, &l.Targets) == nil:
	case json.Unmarshal(c.TargetModules, &one) == nil && one == AllLinear:
		l.Targets = []string{AllLinear}
	case json.Unmarshal(c.TargetModules, &one) == nil:
		return refuse(fmt.Sprintf("target_modules %q is a regular expression (Python's re); give the module names as a list", one))
	default:
		return LoRA{}, fmt.Errorf("%s: target_modules %s: want a list of module names", path, strings.TrimSpace(string(c.TargetModules)))
	}
	if len(l.Targets) == 0 {
		return LoRA{}, fmt.Errorf("%s: target_modules is empty", path)
	}
	if err := l.Validate(); err != nil {
		return LoRA{}, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}
