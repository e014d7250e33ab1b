package tasks

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// DefaultAugPrompt is the task's p: short, because the task's byte-level
// models have short contexts (the paper's p is 231 bytes).
const DefaultAugPrompt = "Answer perfectly."

// Sampler draws n responses to each prompt (a model's own samples).
type Sampler func(prompts []string, n int, seed uint64) ([][]string, error)

// GenConfig says what `srdpo gen` writes.
type GenConfig struct {
	Out          string
	Seed         uint64
	SFTWords     int     // words in the SFT corpus (two examples each)
	Pairs        int     // preference pairs
	HeldoutPairs int     // preference pairs on other words, for held-out evaluation
	EvalPrompts  int     // held-out prompts for evaluation
	Temperature  float64 // Bradley–Terry temperature of the labels
	AugPrompt    string
	AugSeparator string
	// AugCorruptions is the most corruptions of an SFT response on p⊕x
	// (each draws 0..AugCorruptions; responses on x draw 0..3). 0 gives
	// the exact answer: the first design, where the reference never sees
	// a corrupted response after p⊕x, so the policy's change there does
	// not follow quality (docs/design.md §5). The default is 1.
	AugCorruptions int
	Sample         Sampler `json:"-"` // nil: the two responses are seeded corruptions of the answer; a function, so not in settings files
}

// DefaultGenConfig is srdpo gen's task: 2,000 SFT words and pairs, 200
// held-out pairs and prompts, labels at temperature 0.1, SFT responses on
// p⊕x with at most one corruption, seed 1. Out is the caller's to fill.
func DefaultGenConfig() GenConfig {
	return GenConfig{Seed: 1, SFTWords: 2000, Pairs: 2000, HeldoutPairs: 200, EvalPrompts: 200, Temperature: 0.1,
		AugPrompt: DefaultAugPrompt, AugSeparator: " ", AugCorruptions: 1}
}

// RegisterSizeFlags binds the task's sizes to flags: the task flags srdpo
// gen and srdpo run share (run takes a list of label temperatures).
func (c *GenConfig) RegisterSizeFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.SFTWords, "sft-words", c.SFTWords, "words in the SFT corpus (each gives an example on x and one on p⊕x)")
	fs.IntVar(&c.Pairs, "pairs", c.Pairs, "preference pairs")
	fs.IntVar(&c.HeldoutPairs, "heldout-pairs", c.HeldoutPairs, "preference pairs on other words, for held-out evaluation (heldout.jsonl)")
	fs.IntVar(&c.EvalPrompts, "eval-prompts", c.EvalPrompts, "held-out prompts for evaluation")
	fs.IntVar(&c.AugCorruptions, "aug-corruptions", c.AugCorruptions,
		"the most corruptions of an SFT response on p⊕x, 0 to 2 (x's responses have 0 to 3, and p⊕x must teach better ones); 0 teaches exact answers on p⊕x, the first design, where Δπ does not follow quality")
}

// TemperatureUsage is the help of the label temperature's flag.
const TemperatureUsage = "Bradley–Terry temperature of the labels: P(y1 ≻ y2) = σ((r*1 − r*2)/T)"

// RegisterFlags binds every setting of srdpo gen to flags.
func (c *GenConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Out, "out", c.Out, "output directory (sft.jsonl, prefs.jsonl, heldout.jsonl, eval_prompts.jsonl)")
	fs.Uint64Var(&c.Seed, "seed", c.Seed, "seed: the same seed writes the same bytes")
	c.RegisterSizeFlags(fs)
	fs.Float64Var(&c.Temperature, "temperature", c.Temperature, TemperatureUsage)
	fs.StringVar(&c.AugPrompt, "aug-prompt", c.AugPrompt, "p of the task's SFT corpus (short: the task's models have short contexts)")
	fs.StringVar(&c.AugSeparator, "aug-sep", c.AugSeparator, "separator of p and x")
}

// Validate checks the settings.
func (c GenConfig) Validate() error {
	if c.Out == "" {
		return fmt.Errorf("--out is required")
	}
	return c.ValidateSettings()
}

// ValidateSettings checks the settings other than the output directory.
func (c GenConfig) ValidateSettings() error {
	if c.SFTWords < 1 || c.Pairs < 1 || c.EvalPrompts < 0 || c.HeldoutPairs < 0 || c.Temperature <= 0 {
		return fmt.Errorf("gen: want sft words ≥ 1, pairs ≥ 1, held-out pairs and eval prompts ≥ 0, and a positive temperature")
	}
	// p⊕x must teach better responses than x: as many corruptions as x's
	// (3) would make the two the same computation, the design's premise gone.
	if c.AugCorruptions < 0 || c.AugCorruptions >= plainCorruptions {
		return fmt.Errorf("gen: --aug-corruptions %d: want 0 to %d (x's responses have up to %d, and p⊕x must teach better ones)",
			c.AugCorruptions, plainCorruptions-1, plainCorruptions)
	}
	return nil
}

// Generate writes sft.jsonl ({"prompt","response"}), prefs.jsonl and
// heldout.jsonl (TRL standard with gold scores) and eval_prompts.jsonl
// ({"id","prompt"}) into cfg.Out. They use disjoint words; everything is
// seeded.
func Generate(cfg GenConfig) error {
	if err := cfg.ValidateSettings(); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return err
	}
	// One stream of distinct words, cut into the three sets.
	seen := map[string]bool{}
	var words []string
	total := cfg.SFTWords + cfg.Pairs + cfg.HeldoutPairs + cfg.EvalPrompts
	for batch := uint64(0); len(words) < total; batch++ {
		for _, w := range Words(cfg.Seed*1_000_003+batch, 1024) {
			if !seen[w] && len(words) < total {
				seen[w] = true
				words = append(words, w)
			}
		}
	}
	cut := func(n int) []string { out := words[:n]; words = words[n:]; return out }
	sftWords, pairWords, heldoutWords, evalWords := cut(cfg.SFTWords), cut(cfg.Pairs), cut(cfg.HeldoutPairs), cut(cfg.EvalPrompts)

	rng := rand.New(rand.NewPCG(cfg.Seed, 0x67656e))
	var sft []map[string]string
	for _, e := range sftExamples(cfg, sftWords, rng) {
		sft = append(sft, map[string]string{"prompt": e.Prompt, "response": e.Response})
	}
	pairs, err := labelledPairs(cfg, "rev", pairWords, rng)
	if err != nil {
		return err
	}
	heldout, err := labelledPairs(cfg, "heldout", heldoutWords, rng)
	if err != nil {
		return err
	}
	if err := writeJSONL(filepath.Join(cfg.Out, "sft.jsonl"), sft); err != nil {
		return err
	}
	for name, set := range map[string][]LabeledPair{"prefs.jsonl": pairs, "heldout.jsonl": heldout} {
		f, err := os.Create(filepath.Join(cfg.Out, name))
		if err != nil {
			return err
		}
		if err := WriteTRL(f, set); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	var eval []map[string]string
	for i, w := range evalWords {
		eval = append(eval, map[string]string{"id": fmt.Sprintf("eval-%d-%05d", cfg.Seed, i), "prompt": Prompt(w)})
	}
	return writeJSONL(filepath.Join(cfg.Out, "eval_prompts.jsonl"), eval)
}

// labelledPairs makes one labelled pair per word from two responses: the
// sampler's, or seeded corruptions of the answer.
func labelledPairs(cfg GenConfig, prefix string, words []string, rng *rand.Rand) ([]LabeledPair, error) {
	prompts := make([]string, len(words))
	for i, w := range words {
		prompts[i] = Prompt(w)
	}
	var responses [][]string
	if cfg.Sample != nil && len(words) > 0 {
		var err error
		if responses, err = cfg.Sample(prompts, 2, cfg.Seed); err != nil {
			return nil, fmt.Errorf("gen: sampling responses: %w", err)
		}
	}
	var pairs []LabeledPair
	for i, w := range words {
		var y1, y2 string
		if responses != nil {
			y1, y2 = responses[i][0], responses[i][1]
		}
		// Where the model's two samples agree there is no preference to
		// learn: fall back to seeded corruptions of the answer.
		for tries := 0; y1 == y2 || y1 == "" || y2 == ""; tries++ {
			y1, y2 = Corrupt(Target(w), rng.IntN(plainCorruptions+1), rng), Corrupt(Target(w), rng.IntN(plainCorruptions+1), rng)
			if tries > 100 {
				return nil, fmt.Errorf("gen: no two distinct responses for %q", w)
			}
		}
		p, err := Label(fmt.Sprintf("%s-%d-%05d", prefix, cfg.Seed, i), prompts[i], y1, y2, cfg.Temperature, rng)
		if err != nil {
			return nil, err
		}
		pairs = append(pairs, p)
	}
	return pairs, nil
}

func writeJSONL(path string, rows []map[string]string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}
