package bench

import (
	"strings"
	"testing"
)

// The largest-model figures claim released models' shapes: their
// parameter counts are the checkpoints' published ones (the sum of the
// tensor sizes in their model.safetensors), not whatever the config gives.
func TestLargestShapesHaveReleasedParameterCounts(t *testing.T) {
	want := map[string]int{ // safetensors metadata of the released checkpoints
		"qwen2.5-0.5b": 494_032_768,
		"llama-3.2-1b": 1_235_814_400,
		"qwen2.5-1.5b": 1_543_714_304,
		"qwen2.5-3b":   3_085_938_688,
	}
	for name, c := range largestShapes {
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if got := c.Params(); got != want[name] {
			t.Errorf("%s: %d parameters, want %d", name, got, want[name])
		}
	}
	for _, g := range LargestGroups() {
		if _, _, _, _, err := parseLargest(g); err != nil {
			t.Error(err)
		}
	}
}

func TestLargestFigureNamesAreChecked(t *testing.T) {
	for _, g := range []string{"largest-", "largest-qwen2.5-0.5b", "largest-qwen2.5-0.5b-half", "largest-gpt5-full", "largest-qwen2.5-0.5b-lora-recompute-recompute", "qwen2.5-0.5b-full"} {
		if _, _, _, _, err := parseLargest(g); err == nil || !strings.Contains(err.Error(), "largest-<shape>-<full|lora>") {
			t.Errorf("%s: error %v, want one naming the figure's form", g, err)
		}
	}
}
