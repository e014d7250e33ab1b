package schemas

import (
	"fmt"
	"math"
)

// Metric is one logging step of training, with TRL's metric names as column
// names, plus the Sr-DPO figures (Δπ statistics and accuracy on p⊕x).
type Metric struct {
	Split string  `arrow:"split"` // "train" or "eval"
	Step  int64   `arrow:"step"`
	Epoch float64 `arrow:"epoch"` // fractional progress through the data

	Loss              float64 `arrow:"loss"`
	RewardsChosen     float64 `arrow:"rewards/chosen"`
	RewardsRejected   float64 `arrow:"rewards/rejected"`
	RewardsAccuracies float64 `arrow:"rewards/accuracies"`
	RewardsMargins    float64 `arrow:"rewards/margins"`
	LogpsChosen       float64 `arrow:"logps/chosen"`
	LogpsRejected     float64 `arrow:"logps/rejected"`
	DeltaMean         float64 `arrow:"delta/mean"`
	DeltaStd          float64 `arrow:"delta/std"`
	AugAccuracies     float64 `arrow:"rewards/accuracies_aug"` // accuracy of the implicit reward on p⊕x

	// Figures of a training step: missing (null) on eval rows, which take
	// no step.
	GradNorm     *float64 `arrow:"grad_norm"`
	LearningRate *float64 `arrow:"learning_rate"`
	TokensPerSec *float64 `arrow:"tokens_per_sec"`
}

// Metrics is the Arrow contract of training-metric rows. Version 2: the
// step figures are nullable (eval rows have none).
var Metrics = newTable("metrics", "2", Metric{})

// Key sorts rows by split, then numerically by step.
func (m Metric) Key() string { return fmt.Sprintf("%s/%012d", m.Split, m.Step) }

func (m Metric) Validate() error {
	if m.Split != "train" && m.Split != "eval" {
		return invalid("split", "is %q, want train or eval", m.Split)
	}
	if m.Step < 0 {
		return invalid("step", "negative (%d)", m.Step)
	}
	if math.IsNaN(m.Loss) || math.IsInf(m.Loss, 0) {
		return invalid("loss", "not finite")
	}
	return nil
}
