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
func LoadDir(dir string, backend compute.Backend, dtype string) (*GPT, error) {
	if _, err := os.Stat(filepath.Join(dir, checkpointWeights)); err == nil {
		return Load(dir, backend)
	}
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err == nil {
		return ImportHF(dir, backend, dtype)
	}
	return nil, fmt.Errorf("%s holds neither an srdpo checkpoint (config.json + weights/) nor a Hugging Face export (config.json + model.safetensors)", dir)
}

// LoadTokenizer resolves a tokenizer spec: "byte"; "auto" (the BPE files
// in modelDir if there are any, else bytes); or a directory of BPE files.
func LoadTokenizer(spec, modelDir string) (Tokenizer, error) {
	switch spec {
	case "byte":
		return ByteTokenizer{}, nil
	case "auto", "":
		for _, f := range []string{"vocab.json", "tokenizer.json"} {
			if _, err := os.Stat(filepath.Join(modelDir, f)); err == nil {
				return LoadBPE(modelDir)
			}
		}
		return ByteTokenizer{}, nil
	}
	return LoadBPE(spec)
}
