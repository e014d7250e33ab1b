package model

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
)

// The preference losses of DESIGN §1, one function each. Notation: h is the
// implicit-reward margin
//
//	h = [log π(y+|x) − log π_ref(y+|x)] − [log π(y−|x) − log π_ref(y−|x)],
//
// h_p the same on p⊕x, Δπ = β·h_p the self-refinement term, ⊥ stop-gradient.

// LossConfig selects and parameterises the loss.
type LossConfig struct {
	Type           string  // dpo, sr-dpo, ipo, sr-ipo, cdpo, robust, hinge
	Beta           float64 // β > 0
	Lambda         float64 // λ ≥ 0, for sr-dpo and sr-ipo
	LabelSmoothing float64 // ε in [0, 0.5), for cdpo and robust
	IPONorm        string  // "sum" (paper, OpenRLHF) or "mean" (per token, TRL)
	UseOffset      bool    // ODPO: subtract the corpus offset from the margin
	SFTWeight      float64 // weight of an added NLL term on the chosen response
}

// LossTypes lists the selectable losses.
var LossTypes = []string{"dpo", "sr-dpo", "ipo", "sr-ipo", "cdpo", "robust", "hinge"}

// Validate checks the settings.
func (c LossConfig) Validate() error {
	known := false
	for _, t := range LossTypes {
		known = known || t == c.Type
	}
	switch {
	case !known:
		return fmt.Errorf("loss %q: want one of %v", c.Type, LossTypes)
	case c.Beta <= 0:
		return fmt.Errorf("β %g must be positive", c.Beta)
	case c.Lambda < 0:
		return fmt.Errorf("λ %g must not be negative", c.Lambda)
	case c.LabelSmoothing < 0 || c.LabelSmoothing >= 0.5:
		return fmt.Errorf("label smoothing %g: want 0 ≤ ε < 0.5", c.LabelSmoothing)
	case c.IPONorm != "sum" && c.IPONorm != "mean" && c.IPONorm != "":
		return fmt.Errorf("IPO normalisation %q: want sum or mean", c.IPONorm)
	case c.SFTWeight < 0:
		return fmt.Errorf("SFT weight %g must not be negative", c.SFTWeight)
	}
	return nil
}

// SelfRefined tells whether the loss uses Δπ.
func (c LossConfig) SelfRefined() bool { return c.Type == "sr-dpo" || c.Type == "sr-ipo" }

// LossInputs are per-pair log-prob sums [B] and response token counts [B].
type LossInputs struct {
	Chosen, Rejected, ChosenAug, RejectedAug             *Node // policy: log π(y±|x), log π(y±|p⊕x)
	RefChosen, RefRejected, RefChosenAug, RefRejectedAug *Node // reference, from the scored shards
	ChosenTokens, RejectedTokens                         *Node
	Offset                                               *Node // ODPO offset, zeros when absent
}

// LossOutputs are per pair: the loss, h, h_p, and Δπ (already stopped).
type LossOutputs struct {
	Loss, H, HAug, Delta *Node
}

// Margin is h from the four log-prob sums.
func Margin(chosen, rejected, refChosen, refRejected *Node) *Node {
	return Sub(Sub(chosen, refChosen), Sub(rejected, refRejected))
}

// DPOLoss is −log σ(z), for the margin z = β·h (− λ·⊥[Δπ] for Sr-DPO).
func DPOLoss(z *Node) *Node { return Softplus(Neg(z)) }

// CDPOLoss is conservative DPO: labels flipped with probability ε.
func CDPOLoss(z *Node, eps float64) *Node {
	return Add(MulScalar(Softplus(Neg(z)), 1-eps), MulScalar(Softplus(z), eps))
}

// RobustDPOLoss is the unbiased loss under label noise ε (Chowdhury et al.).
func RobustDPOLoss(z *Node, eps float64) *Node {
	return DivScalar(Sub(MulScalar(Softplus(Neg(z)), 1-eps), MulScalar(Softplus(z), eps)), 1-2*eps)
}

// HingeLoss is max(0, 1 − z) (SLiC).
func HingeLoss(z *Node) *Node { return Max(OneMinus(z), ZerosLike(z)) }

// IPOLoss is (h − target − 1/(2β))², target being λ·⊥[Δπ] for Sr-IPO.
func IPOLoss(h, target *Node, beta float64) *Node {
	return Square(AddScalar(Sub(h, target), -1/(2*beta)))
}

// Loss computes the configured loss per pair.
func (c LossConfig) Loss(in LossInputs) LossOutputs {
	norm := func(x, n *Node) *Node { return x }
	if c.IPONorm == "mean" && (c.Type == "ipo" || c.Type == "sr-ipo") {
		norm = Div
	}
	h := Margin(norm(in.Chosen, in.ChosenTokens), norm(in.Rejected, in.RejectedTokens),
		norm(in.RefChosen, in.ChosenTokens), norm(in.RefRejected, in.RejectedTokens))
	hAug := Margin(norm(in.ChosenAug, in.ChosenTokens), norm(in.RejectedAug, in.RejectedTokens),
		norm(in.RefChosenAug, in.ChosenTokens), norm(in.RefRejectedAug, in.RejectedTokens))
	// Δπ = β·h_p, with no gradient through any of it (paper Eq. 12–13).
	delta := StopGradient(MulScalar(hAug, c.Beta))
	refine := ZerosLike(h)
	if c.SelfRefined() {
		refine = MulScalar(delta, c.Lambda)
	}
	var loss *Node
	switch c.Type {
	case "ipo", "sr-ipo":
		loss = IPOLoss(h, refine, c.Beta)
	default:
		z := Sub(MulScalar(h, c.Beta), refine)
		if c.UseOffset {
			z = Sub(z, in.Offset)
		}
		switch c.Type {
		case "cdpo":
			loss = CDPOLoss(z, c.LabelSmoothing)
		case "robust":
			loss = RobustDPOLoss(z, c.LabelSmoothing)
		case "hinge":
			loss = HingeLoss(z)
		default: // dpo, sr-dpo
			loss = DPOLoss(z)
		}
	}
	if c.SFTWeight > 0 {
		loss = Add(loss, MulScalar(Neg(Div(in.Chosen, in.ChosenTokens)), c.SFTWeight))
	}
	return LossOutputs{Loss: loss, H: h, HAug: hAug, Delta: delta}
}
