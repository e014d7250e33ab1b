package model

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// lossAt evaluates a loss for one pair whose policy log-probs are given and
// whose reference log-probs are 0, so h and h_p are the inputs.
func lossAt(t *testing.T, c LossConfig, h, hAug, offset float64) float64 {
	t.Helper()
	backend, _ := Backend()
	out, err := ExecOnce(backend, func(g *Graph) *Node {
		v := func(x float64) *Node { return Const(g, []float64{x}) }
		return c.Loss(LossInputs{Chosen: v(h), Rejected: v(0), ChosenAug: v(hAug), RejectedAug: v(0),
			RefChosen: v(0), RefRejected: v(0), RefChosenAug: v(0), RefRejectedAug: v(0),
			ChosenTokens: v(1), RejectedTokens: v(1), Offset: v(offset)}).Loss
	})
	if err != nil {
		t.Fatal(err)
	}
	return tensors.MustCopyFlatData[float64](out)[0]
}

func TestLossValuesByHand(t *testing.T) {
	const beta, lambda = 0.1, 0.5
	near := func(name string, got, want float64) {
		if math.Abs(got-want) > 5e-7 {
			t.Errorf("%s = %.7f, want %.7f", name, got, want)
		}
	}
	cfg := func(typ LossType) LossConfig {
		return LossConfig{Type: typ, Beta: beta, Lambda: lambda, LabelSmoothing: 0.1, IPONorm: "sum"}
	}
	// At π = π_ref: Δπ = 0, Sr-DPO = DPO = ln 2, Sr-IPO = IPO = 1/(4β²).
	near("DPO at init", lossAt(t, cfg("dpo"), 0, 0, 0), math.Ln2)
	near("Sr-DPO at init", lossAt(t, cfg("sr-dpo"), 0, 0, 0), math.Ln2)
	near("IPO at init", lossAt(t, cfg("ipo"), 0, 0, 0), 1/(4*beta*beta))
	near("Sr-IPO at init", lossAt(t, cfg("sr-ipo"), 0, 0, 0), 1/(4*beta*beta))
	// β = 0.1, λ = 0.5, h = 2, h_p = 3: Δπ = 0.3.
	near("DPO", lossAt(t, cfg("dpo"), 2, 3, 0), 0.598139)
	near("Sr-DPO", lossAt(t, cfg("sr-dpo"), 2, 3, 0), 0.668460)
	near("IPO", lossAt(t, cfg("ipo"), 2, 3, 0), 9.0)
	near("Sr-IPO", lossAt(t, cfg("sr-ipo"), 2, 3, 0), 9.9225)
	// βh = 0.05, ε = 0.1.
	near("cDPO", lossAt(t, cfg("cdpo"), 0.5, 0, 0), 0.673460)
	near("robust DPO", lossAt(t, cfg("robust"), 0.5, 0, 0), 0.662210)
	near("hinge", lossAt(t, cfg("hinge"), 0.5, 0, 0), 0.95)
	// ODPO: the offset comes off the margin: βh − 0.15 = 0.05 as for Sr-DPO above.
	odpo := cfg("dpo")
	odpo.UseOffset = true
	near("ODPO", lossAt(t, odpo, 2, 0, 0.15), 0.668460)
	// The SFT term adds w·(−log π(y+|x))/tokens.
	sft := cfg("dpo")
	sft.SFTWeight = 2
	near("DPO + SFT", lossAt(t, sft, 2, 3, 0), 0.598139-4)
	if err := (LossConfig{Type: "kto", Beta: 0.1}).Validate(); err == nil {
		t.Error("unknown loss accepted")
	}
}

// The host's margins are the graph's, on sums and on per-token means.
func TestHostMarginsEqualGraph(t *testing.T) {
	backend, _ := Backend()
	pol := PairLogps{Chosen: -12.5, Rejected: -20.25, ChosenAug: -11, RejectedAug: -23.5}
	ref := PairLogps{Chosen: -13, Rejected: -19, ChosenAug: -12.75, RejectedAug: -21}
	for _, c := range []LossConfig{{Type: LossSrIPO, Beta: 0.1, IPONorm: IPONormMean}, {Type: LossSrDPO, Beta: 0.1, IPONorm: IPONormMean}} {
		out, err := ExecOnce(backend, func(g *Graph) *Node {
			v := func(x float64) *Node { return Const(g, []float64{x}) }
			o := c.Loss(LossInputs{Chosen: v(pol.Chosen), Rejected: v(pol.Rejected), ChosenAug: v(pol.ChosenAug), RejectedAug: v(pol.RejectedAug),
				RefChosen: v(ref.Chosen), RefRejected: v(ref.Rejected), RefChosenAug: v(ref.ChosenAug), RefRejectedAug: v(ref.RejectedAug),
				ChosenTokens: v(4), RejectedTokens: v(5), Offset: v(0)})
			return Concatenate([]*Node{o.H, o.HAug}, 0)
		})
		if err != nil {
			t.Fatal(err)
		}
		h, hp := HostMargins(pol, ref, 4, 5, c.PerToken())
		both := tensors.MustCopyFlatData[float64](out)
		gh, ghp := both[0], both[1]
		if math.Abs(h-gh) > 1e-12 || math.Abs(hp-ghp) > 1e-12 {
			t.Errorf("%s: host h %g h_p %g, graph %g %g", c.Type, h, hp, gh, ghp)
		}
	}
	// By hand: sums give (0.5 − (−1.25)) = 1.75; per token (0.5/4 + 1.25/5) = 0.375.
	if h, _ := HostMargins(pol, ref, 4, 5, false); h != 1.75 {
		t.Errorf("h on sums %g, want 1.75", h)
	}
	if h, _ := HostMargins(pol, ref, 4, 5, true); math.Abs(h-0.375) > 1e-15 {
		t.Errorf("h per token %g, want 0.375", h)
	}
}

// --ipo-norm mean takes IPO's margin on per-token means, by hand: sums
// −12 / −20 over 4 / 8 tokens against the reference's −10 / −18 give
// h = (−3 + 2.5) − (−2.5 + 2.25) = −0.25 and a loss (h − 1/(2β))² =
// (−0.25 − 5)² = 27.5625; on sums h = −2 − (−2) = 0 and the loss is 25.
func TestIPOMeanNormalisationByHand(t *testing.T) {
	backend, _ := Backend()
	for norm, want := range map[string]float64{IPONormMean: 27.5625, IPONormSum: 25} {
		out, err := ExecOnce(backend, func(g *Graph) *Node {
			v := func(x float64) *Node { return Const(g, []float64{x}) }
			return LossConfig{Type: LossIPO, Beta: 0.1, IPONorm: norm}.Loss(LossInputs{
				Chosen: v(-12), Rejected: v(-20), ChosenAug: v(0), RejectedAug: v(0),
				RefChosen: v(-10), RefRejected: v(-18), RefChosenAug: v(0), RefRejectedAug: v(0),
				ChosenTokens: v(4), RejectedTokens: v(8), Offset: v(0)}).Loss
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := tensors.MustCopyFlatData[float64](out)[0]; math.Abs(got-want) > 1e-12 {
			t.Errorf("ipo-norm %s: loss %.12g, want %g", norm, got, want)
		}
	}
}
