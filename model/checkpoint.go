package model

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"

	"github.com/srdpo/srdpo/atomicfile"
)

// Fingerprint is the sha256 of the config and the weights (in name order,
// as float64 bits), then of a LoRA adapter's settings and weights when
// there is one: two models score alike exactly when this matches. A model
// without adapter has the fingerprint it had before adapters existed.
func (m *Decoder) Fingerprint() (string, error) {
	h := sha256.New()
	cfg, _ := json.Marshal(m.Config)
	h.Write(cfg)
	names := m.Config.WeightNames()
	if m.lora != nil {
		l, _ := json.Marshal(m.lora.cfg)
		fmt.Fprintf(h, "\x00lora\x00%s", l)
		names = append(names, m.lora.weightNames()...)
	}
	for _, name := range names {
		// One weight at a time: all of them as float64 at once would be
		// twice the model.
		weights, err := m.values([]string{name})
		if err != nil {
			return "", fmt.Errorf("fingerprinting the model: %w", err)
		}
		fmt.Fprintf(h, "\x00%s\x00", name)
		var b [8]byte
		for _, v := range weights[name] {
			binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
			h.Write(b[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// adapterFile holds a saved model's LoRA settings; its weights are in the
// checkpoint with the base's.
const adapterFile = "lora.json"

// checkpointWeights is the GoMLX checkpoint's folder inside a model folder.
const checkpointWeights = "weights"

// Save writes the model to dir: config.json, and the weights as a GoMLX
// checkpoint under dir/weights.
func (m *Decoder) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	h, err := checkpoint.Build(m.Store).Dir(filepath.Join(dir, checkpointWeights)).Keep(1).Done()
	if err != nil {
		return err
	}
	if err := h.Save(); err != nil {
		return fmt.Errorf("saving weights: %w", err)
	}
	if m.lora != nil {
		l, err := json.MarshalIndent(m.lora.cfg, "", "  ")
		if err != nil {
			return err
		}
		if err := atomicfile.Write(filepath.Join(dir, adapterFile), append(l, '\n')); err != nil {
			return err
		}
	}
	b, err := json.MarshalIndent(m.Config, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, "config.json"), append(b, '\n'))
}

// Load reads a model saved by Save.
func Load(dir string, backend compute.Backend) (*Decoder, error) {
	cfg, err := ReadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	if err := checkCheckpointFiles(filepath.Join(dir, checkpointWeights)); err != nil {
		return nil, err
	}
	store := model.NewStore()
	if _, err := checkpoint.Load(store).Dir(filepath.Join(dir, checkpointWeights)).Immediate().Done(); err != nil {
		return nil, fmt.Errorf("loading %s: %w", dir, err)
	}
	for _, name := range cfg.WeightNames() {
		v := store.GetVariable(weightPath(name))
		if v == nil {
			return nil, fmt.Errorf("%s: weight %s is missing", dir, name)
		}
		if got := v.Shape().Dimensions; !slices.Equal(got, cfg.WeightShape(name)) {
			return nil, fmt.Errorf("%s: weight %s has shape %v, the config says %v", dir, name, got, cfg.WeightShape(name))
		}
	}
	m := &Decoder{Config: cfg, Backend: backend, Store: store}
	return m, m.loadSavedAdapter(dir)
}

// loadSavedAdapter attaches the adapter a saved model has (lora.json and
// its weights in the checkpoint), if it has one.
func (m *Decoder) loadSavedAdapter(dir string) error {
	path := filepath.Join(dir, adapterFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var l LoRA
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if err := l.Validate(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	targets, err := m.Config.loraTargets(l)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	ad := &adapter{cfg: l, targets: targets}
	for _, name := range ad.weightNames() {
		v := m.Store.GetVariable(weightPath(name))
		if v == nil {
			return fmt.Errorf("%s: adapter weight %s is missing", dir, name)
		}
		if got := v.Shape().Dimensions; !slices.Equal(got, ad.shape(name)) {
			return fmt.Errorf("%s: adapter weight %s has shape %v, want %v", dir, name, got, ad.shape(name))
		}
	}
	m.freezeBase()
	m.lora = ad
	return nil
}
