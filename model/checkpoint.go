package model

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	"github.com/gomlx/compute"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/model/checkpoint"
)

// Fingerprint is the sha256 of the config and the weights (in name order,
// as float64 bits): two models score alike exactly when this matches.
func (m *Decoder) Fingerprint() (string, error) {
	h := sha256.New()
	cfg, _ := json.Marshal(m.Config)
	h.Write(cfg)
	weights, err := m.Weights()
	if err != nil {
		return "", fmt.Errorf("fingerprinting the model: %w", err)
	}
	for _, name := range m.Config.WeightNames() {
		fmt.Fprintf(h, "\x00%s\x00", name)
		var b [8]byte
		for _, v := range weights[name] {
			binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
			h.Write(b[:])
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

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
	b, err := json.MarshalIndent(m.Config, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomically(filepath.Join(dir, "config.json"), append(b, '\n'))
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
	return &Decoder{Config: cfg, Backend: backend, Store: store}, nil
}
