package model

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
)

// The preference losses of the paper (docs/design.md §1), one function
// each. Notation: h is the implicit-reward margin
//
//	h = [log π(y+|x) − log π_ref(y+|x)] − [log π(y−|x) − log π_ref(y−|x)],
//
// h_p the same on p⊕x, Δπ = β·h_p the self-refinement term, ⊥ stop-gradient.

// LossType names a loss.
type LossType string

// The selectable losses.
const (
	LossDPO    LossType = "dpo"
	LossSrDPO  LossType = "sr-dpo"
	LossIPO    LossType = "ipo"
	LossSrIPO  LossType = "sr-ipo"
	LossCDPO   LossType = "cdpo"
	LossRobust LossType = "robust"
	LossHinge  LossType = "hinge"
)

// LossTypes lists the selectable losses, in the order --help shows them.
func LossTypes() []LossType {
	return []LossType{LossDPO, LossSrDPO, LossIPO, LossSrIPO, LossCDPO, LossRobust, LossHinge}
}

func (t LossType) String() string { return string(t) }

// Set makes a LossType a flag value; an unknown name is an error.
func (t *LossType) Set(s string) error {
	for _, k := range LossTypes() {
		if string(k) == s {
			*t = k
			return nil
		}
	}
	return fmt.Errorf("want one of %v", LossTypes())
}

// IPO normalisations of the log-prob sums.
const (
	IPONormSum  = "sum"  // the paper's and OpenRLHF's
	IPONormMean = "mean" // per token, TRL's
)

// LossConfig selects and parameterises the loss.
type LossConfig struct {
	Type           LossType
	Beta           float64 // β > 0
	Lambda         float64 // λ ≥ 0, for sr-dpo and sr-ipo
	LabelSmoothing float64 // ε in [0, 0.5), for cdpo and robust
	IPONorm        string  // IPONormSum (default) or IPONormMean
	UseOffset      bool    // ODPO: subtract the corpus offset from the margin
	SFTWeight      float64 // weight of an added NLL term on the chosen response
}

// Validate checks the settings.
func (c LossConfig) Validate() error {
	known := false
	for _, t := range LossTypes() {
		known = known || t == c.Type
	}
	switch {
	case !known:
		return fmt.Errorf("loss %q: want one of %v", c.Type, LossTypes())
	case c.Beta <= 0:
		return fmt.Errorf("β %g must be positive", c.Beta)
	case c.Lambda < 0:
		return fmt.Errorf("λ %g must not be negative", c.Lambda)
	case c.LabelSmoothing < 0 || c.LabelSmoothing >= 0.5:
		return fmt.Errorf("label smoothing %g: want 0 ≤ ε < 0.5", c.LabelSmoothing)
	case c.IPONorm != IPONormSum && c.IPONorm != IPONormMean && c.IPONorm != "":
		return fmt.Errorf("IPO normalisation %q: want sum or mean", c.IPONorm)
	case c.SFTWeight < 0:
		return fmt.Errorf("SFT weight %g must not be negative", c.SFTWeight)
	}
	return nil
}

// SelfRefined tells whether the loss uses Δπ (and so has a λ).
func (t LossType) SelfRefined() bool { return t == LossSrDPO || t == LossSrIPO }

// SelfRefined tells whether the loss uses Δπ.
func (c LossConfig) SelfRefined() bool { return c.Type.SelfRefined() }

// ipo tells whether the loss is IPO's square.
func (c LossConfig) ipo() bool { return c.Type == LossIPO || c.Type == LossSrIPO }

// PerToken tells whether margins are taken on per-token means (IPO with
// --ipo-norm mean) rather than on sums.
func (c LossConfig) PerToken() bool { return c.IPONorm == IPONormMean && c.ipo() }

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

// Margin is h from the four log-prob sums (or means).
func Margin(chosen, rejected, refChosen, refRejected *Node) *Node {
	return Sub(Sub(chosen, refChosen), Sub(rejected, refRejected))
}

// SelfRefinement is Δπ = β·h_p (paper Eq. 12) and the term λ·⊥[Δπ] it
// adds to Sr-DPO's and Sr-IPO's margins; no gradient flows through either.
func SelfRefinement(hAug *Node, beta, lambda float64) (delta, term *Node) {
	delta = StopGradient(MulScalar(hAug, beta))
	return delta, MulScalar(delta, lambda)
}

// DPOLoss is −log σ(z), for the margin z = β·h.
func DPOLoss(z *Node) *Node { return Softplus(Neg(z)) }

// SrDPOLoss is −log σ(β·h − λ·⊥[Δπ]) (Eq. 13, Algorithm 1), refine being
// λ·⊥[Δπ] from SelfRefinement.
func SrDPOLoss(h, refine *Node, beta float64) *Node { return DPOLoss(Sub(MulScalar(h, beta), refine)) }

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

// IPOLoss is (h − 1/(2β))².
func IPOLoss(h *Node, beta float64) *Node { return SrIPOLoss(h, ZerosLike(h), beta) }

// SrIPOLoss is (h − λ·⊥[Δπ] − 1/(2β))² (Algorithm 2).
func SrIPOLoss(h, refine *Node, beta float64) *Node {
	return Square(AddScalar(Sub(h, refine), -1/(2*beta)))
}

// Loss computes the configured loss per pair.
func (c LossConfig) Loss(in LossInputs) LossOutputs {
	norm := func(x, n *Node) *Node { return x }
	if c.PerToken() {
		norm = Div
	}
	h := Margin(norm(in.Chosen, in.ChosenTokens), norm(in.Rejected, in.RejectedTokens),
		norm(in.RefChosen, in.ChosenTokens), norm(in.RefRejected, in.RejectedTokens))
	hAug := Margin(norm(in.ChosenAug, in.ChosenTokens), norm(in.RejectedAug, in.RejectedTokens),
		norm(in.RefChosenAug, in.ChosenTokens), norm(in.RefRejectedAug, in.RejectedTokens))
	delta, refine := SelfRefinement(hAug, c.Beta, c.Lambda)
	var loss *Node
	switch c.Type {
	case LossIPO:
		loss = IPOLoss(h, c.Beta)
	case LossSrIPO:
		loss = SrIPOLoss(h, refine, c.Beta)
	case LossSrDPO:
		loss = SrDPOLoss(h, refine, c.Beta)
		if c.UseOffset {
			loss = DPOLoss(Sub(Sub(MulScalar(h, c.Beta), refine), in.Offset))
		}
	default:
		z := MulScalar(h, c.Beta)
		if c.UseOffset {
			z = Sub(z, in.Offset)
		}
		switch c.Type {
		case LossCDPO:
			loss = CDPOLoss(z, c.LabelSmoothing)
		case LossRobust:
			loss = RobustDPOLoss(z, c.LabelSmoothing)
		case LossHinge:
			loss = HingeLoss(z)
		default: // dpo
			loss = DPOLoss(z)
		}
	}
	if c.SFTWeight > 0 {
		loss = Add(loss, MulScalar(Neg(Div(in.Chosen, in.ChosenTokens)), c.SFTWeight))
	}
	return LossOutputs{Loss: loss, H: h, HAug: hAug, Delta: delta}
}

// PairLogps are the four response log-prob sums of a pair, in the one
// order srdpo lays them out everywhere (scoring, training, evaluation):
// y+ given x, y− given x, y+ given p⊕x, y− given p⊕x.
type PairLogps struct{ Chosen, Rejected, ChosenAug, RejectedAug float64 }

// PairSequences are a pair's four sequences in PairLogps's order.
func PairSequences(prompt, augPrompt, chosen, rejected []int32) [4]Pair {
	return [4]Pair{{Prompt: prompt, Response: chosen}, {Prompt: prompt, Response: rejected},
		{Prompt: augPrompt, Response: chosen}, {Prompt: augPrompt, Response: rejected}}
}

// PairLogpsOf reads the sums of PairSequences' four sequences from lp.
func PairLogpsOf(lp []SeqLogProb) PairLogps {
	return PairLogps{lp[0].Sum, lp[1].Sum, lp[2].Sum, lp[3].Sum}
}

// HostMargins are h and h_p on the host, as Loss computes them in the
// graph: from sums, or from per-token means when perToken (IPO with
// --ipo-norm mean; LossConfig.PerToken).
func HostMargins(policy, ref PairLogps, chosenTokens, rejectedTokens int, perToken bool) (h, hAug float64) {
	nc, nr := 1.0, 1.0
	if perToken {
		nc, nr = float64(max(chosenTokens, 1)), float64(max(rejectedTokens, 1))
	}
	margin := func(c, r, refC, refR float64) float64 { return (c/nc - refC/nc) - (r/nr - refR/nr) }
	return margin(policy.Chosen, policy.Rejected, ref.Chosen, ref.Rejected),
		margin(policy.ChosenAug, policy.RejectedAug, ref.ChosenAug, ref.RejectedAug)
}
