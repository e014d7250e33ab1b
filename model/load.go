package model

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gomlx/compute"
)

// LoadDir loads a model from a local directory holding either an srdpo
// checkpoint (config.json + weights/) or a Hugging Face GPT-2 export
// (config.json + model.safetensors). dtype applies to Hugging Face
// imports; an srdpo checkpoint keeps the dtype it was saved with.
func LoadDir(dir string, backend compute.Backend, dtype DType) (*Decoder, error) {
	if _, err := os.Stat(filepath.Join(dir, checkpointWeights)); err == nil {
		return Load(dir, backend)
	}
	for _, f := range []string{"model.safetensors", "model.safetensors.index.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			return ImportHF(dir, backend, dtype)
		}
	}
	return nil, fmt.Errorf("%s holds neither an srdpo checkpoint (config.json + weights/) nor a Hugging Face export (config.json + model.safetensors or its shards)", dir)
}
