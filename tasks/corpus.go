package tasks

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/srdpo/srdpo/schemas"
)

// SFTExample is one (prompt, response) pair of the SFT corpus.
type SFTExample struct {
	Prompt, Response string
}

// plainCorruptions is the most corruptions of a response on x, in the SFT
// corpus and in the pairs made without a sampler; p⊕x's responses must
// have fewer (GenConfig.AugCorruptions).
const plainCorruptions = 3

// sftExamples makes the reference model's training set: for each word, x
// with a response of mixed quality (0 to 3 corruptions), and p⊕x with a
// better one (0 to cfg.AugCorruptions corruptions: by default at most one,
// exact answers with AugCorruptions 0, the first design) — so the
// SFT model learns that p⊕x leads to better responses, the stand-in for an
// instruction-tuned model's knowledge that makes Δπ meaningful.
func sftExamples(cfg GenConfig, words []string, rng *rand.Rand) []SFTExample {
	var out []SFTExample
	for _, w := range words {
		x := Prompt(w)
		aug := Target(w)
		plain := Corrupt(aug, rng.IntN(plainCorruptions+1), rng)
		if cfg.AugCorruptions > 0 {
			aug = Corrupt(aug, rng.IntN(cfg.AugCorruptions+1), rng)
		}
		out = append(out, SFTExample{Prompt: x, Response: plain},
			SFTExample{Prompt: schemas.Augment(cfg.AugPrompt, cfg.AugSeparator, x), Response: aug})
	}
	return out
}

// LabeledPair is a preference pair with its gold rewards.
type LabeledPair struct {
	ID, Prompt, Chosen, Rejected string
	ScoreChosen, ScoreRejected   float64
}

// Label scores two responses to x with r* and orders them by a
// Bradley–Terry draw at the given temperature. Identical responses carry
// no preference and are refused.
func Label(id, x, y1, y2 string, temperature float64, rng *rand.Rand) (LabeledPair, error) {
	if y1 == y2 {
		return LabeledPair{}, fmt.Errorf("pair %s: identical responses", id)
	}
	r1, err := Reward(x, y1)
	if err != nil {
		return LabeledPair{}, err
	}
	r2, err := Reward(x, y2)
	if err != nil {
		return LabeledPair{}, err
	}
	if PreferBT(r1, r2, temperature, rng) {
		return LabeledPair{ID: id, Prompt: x, Chosen: y1, Rejected: y2, ScoreChosen: r1, ScoreRejected: r2}, nil
	}
	return LabeledPair{ID: id, Prompt: x, Chosen: y2, Rejected: y1, ScoreChosen: r2, ScoreRejected: r1}, nil
}

// WriteTRL writes pairs as TRL-standard JSONL with gold scores, the format
// srdpo score reads.
func WriteTRL(w io.Writer, pairs []LabeledPair) error {
	enc := json.NewEncoder(w)
	for _, p := range pairs {
		if err := enc.Encode(map[string]any{"id": p.ID, "prompt": p.Prompt, "chosen": p.Chosen, "rejected": p.Rejected,
			"score_chosen": p.ScoreChosen, "score_rejected": p.ScoreRejected}); err != nil {
			return err
		}
	}
	return nil
}
