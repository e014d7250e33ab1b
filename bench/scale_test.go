package bench

import (
	"testing"

	"github.com/srdpo/srdpo/model"
)

// The FLOPs of a GPT-2-small forward pass over 8 × 128 tokens, by hand:
// per layer and token 4·768² (q, k, v, o) + 2·768·3072 (MLP) multiply-adds,
// per layer 2·8·12·128²·64 for attention, and 50,257·768 per token for the
// head; twice, for FLOPs: 257,825,439,744.
func TestForwardFLOPsByHand(t *testing.T) {
	if got := forwardFLOPs(gpt2SmallConfig(model.FamilyGPT2), 8, 128); got != 257_825_439_744 {
		t.Errorf("forward FLOPs %.0f", got)
	}
	c := gpt2SmallConfig(model.FamilyLlama)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// llama layout: q, o 2·768², k, v 2·768·256 (4 of 12 heads), MLP 3·768·2048.
	perToken := 2.0*768*768 + 2*768*256 + 3*768*2048
	want := 2 * (12*(perToken*1024+2*8*12*128*128*64) + 1024*50257*768)
	if got := forwardFLOPs(c, 8, 128); got != want {
		t.Errorf("llama forward FLOPs %.0f, want %.0f", got, want)
	}
}
