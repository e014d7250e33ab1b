// Package optim is srdpo's optimisers (Adam, AdamW, RMSprop), the
// learning-rate schedule and gradient clipping, written out a few lines
// each, as GoMLX's ml/train/optimizers keeps its own apart from the
// model. Their state is plain variables in the store beside the weights
// ("/optim/…", "/accum/…"), so a checkpoint of the store saves and
// restores it with them; the model type holds none of it.
package optim

import (
	"fmt"
	"math"
)

// Config configures the optimiser, the learning-rate schedule and gradient
// clipping.
type Config struct {
	Name        string  // "adam", "adamw" or "rmsprop"
	LR          float64 // peak learning rate
	Beta1       float64 // Adam: first-moment decay (default 0.9)
	Beta2       float64 // Adam: second-moment decay (default 0.999); RMSprop: smoothing α (default 0.99)
	Eps         float64 // default 1e-8
	WeightDecay float64 // AdamW's decoupled weight decay
	MaxGradNorm float64 // clip the global gradient norm to this; 0 turns clipping off
	Warmup      int     // steps of linear warm-up from 0
	Schedule    string  // "constant" or "cosine" (to 0 at TotalSteps)
	TotalSteps  int
}

// withDefaults fills in PyTorch's defaults.
func (o Config) withDefaults() Config {
	if o.Beta1 == 0 {
		o.Beta1 = 0.9
	}
	if o.Beta2 == 0 {
		o.Beta2 = 0.999
		if o.Name == "rmsprop" {
			o.Beta2 = 0.99
		}
	}
	if o.Eps == 0 {
		o.Eps = 1e-8
	}
	if o.Schedule == "" {
		o.Schedule = "constant"
	}
	return o
}

// Validate checks the settings.
func (o Config) Validate() error {
	switch {
	case o.Name != "adam" && o.Name != "adamw" && o.Name != "rmsprop":
		return fmt.Errorf("optimiser %q: want adam, adamw or rmsprop", o.Name)
	case o.LR <= 0:
		return fmt.Errorf("learning rate %g must be positive", o.LR)
	case o.Schedule != "constant" && o.Schedule != "cosine" && o.Schedule != "":
		return fmt.Errorf("schedule %q: want constant or cosine", o.Schedule)
	case o.Schedule == "cosine" && o.TotalSteps <= o.Warmup:
		return fmt.Errorf("cosine schedule needs total steps (%d) beyond the warm-up (%d)", o.TotalSteps, o.Warmup)
	case o.WeightDecay < 0 || o.MaxGradNorm < 0 || o.Warmup < 0:
		return fmt.Errorf("weight decay, max grad norm and warm-up must not be negative")
	}
	return nil
}

// LearningRate is the rate at step (0-based): linear warm-up, then constant
// or cosine decay.
func (o Config) LearningRate(step int) float64 {
	if step < o.Warmup {
		return o.LR * float64(step+1) / float64(o.Warmup)
	}
	if o.Schedule == "cosine" {
		progress := float64(step-o.Warmup) / float64(o.TotalSteps-o.Warmup)
		return o.LR * 0.5 * (1 + math.Cos(math.Pi*math.Min(progress, 1)))
	}
	return o.LR
}
