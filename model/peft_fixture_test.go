package model

import (
	"math"
	"path/filepath"
	"testing"
)

// A PEFT adapter folder made by testdata/peft/make_fixtures.py from PEFT's
// naming and merge rules (not by srdpo's writer) loads onto its base and
// computes what the script's merged model computes, for GPT-2 (Conv1D,
// fan_in_fan_out, the "transformer." prefix) and Llama (rsLoRA, GQA).
func TestPEFTAdapterMadeByScript(t *testing.T) {
	backend, _ := Backend()
	for _, fam := range []string{"gpt2", "llama"} {
		t.Run(fam, func(t *testing.T) {
			dir := filepath.Join("testdata", "peft", fam)
			adapted, err := ImportHF(filepath.Join(dir, "base"), backend, Float64)
			if err != nil {
				t.Fatal(err)
			}
			plain := logits(t, adapted, []int32{1, 5, 9, 2, 14, 3, 7})
			if err := adapted.LoadPEFTAdapter(filepath.Join(dir, "adapter")); err != nil {
				t.Fatal(err)
			}
			merged, err := ImportHF(filepath.Join(dir, "merged"), backend, Float64)
			if err != nil {
				t.Fatal(err)
			}
			seq := []int32{1, 5, 9, 2, 14, 3, 7}
			got, want := logits(t, adapted, seq), logits(t, merged, seq)
			worst, moved := 0.0, 0.0
			for i := range want {
				for j := range want[i] {
					worst = math.Max(worst, math.Abs(got[i][j]-want[i][j]))
					moved = math.Max(moved, math.Abs(plain[i][j]-want[i][j]))
				}
			}
			// The script rounds the merged weights to F32: agreement to
			// that rounding, against an adapter that moves the logits by far more.
			if worst > 1e-5 || moved < 0.1 {
				t.Errorf("largest difference from the script's merged model %g (the adapter moves logits by %g)", worst, moved)
			}
		})
	}
}
