package optim

import (
	"math"
	"testing"
)

// The schedule by hand: warm-up 4 steps to lr 1, then cosine to 0 at step
// 14 (halfway, step 9, is 0.5).
func TestOptimSettings(t *testing.T) {
	o := Config{Name: "adam", LR: 1, Warmup: 4, Schedule: "cosine", TotalSteps: 14}
	for step, want := range map[int]float64{0: 0.25, 3: 1, 4: 1, 9: 0.5, 14: 0, 20: 0} {
		if got := o.LearningRate(step); math.Abs(got-want) > 1e-12 {
			t.Errorf("lr(%d) = %g, want %g", step, got, want)
		}
	}
	for _, bad := range []Config{{Name: "sgd", LR: 1}, {Name: "adam"}, {Name: "adam", LR: 1, Schedule: "cosine"}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if err := (Config{Name: "rmsprop", LR: 5e-7}).Validate(); err != nil {
		t.Error(err)
	}
}
