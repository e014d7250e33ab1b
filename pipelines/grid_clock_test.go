package pipelines

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

// The estimate before a run, by hand for `srdpo run --seeds 1` (make run):
// one SFT (72 s), one scoring of 1,000 + 200 pairs (7 s), 4 methods × 200
// steps (800 × 0.04 s), and 21 evaluations (the reference and 4 methods at
// 5 points) of 200 prompts × (8 samples + greedy) and 200 pairs
// (0.98 × 2000/400 s each): 213.9 s; measured 3m26s on 2026-12-05.
func TestRunEstimateByHand(t *testing.T) {
	c := DefaultRunConfig()
	c.Seeds = 1
	var out bytes.Buffer
	k := newRunClock(c, &out)
	want := 72 + 7 + 800*0.04 + 21*0.98*2000/400
	if got := k.seconds(false); math.Abs(got-want) > 1e-9 {
		t.Errorf("estimate %.3f s, want %.3f", got, want)
	}
	k.estimate()
	if !strings.Contains(out.String(), "1 SFT runs, 1 scorings, 800 training steps, 21 policy evaluations; estimated 3m33s") {
		t.Errorf("estimate line %q", out.String())
	}
}
