package stages

import (
	"fmt"
	"hash/fnv"
	"math"
	"strings"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/tokenizer"
)

// Sampled evaluation: responses drawn from the policy, y ~ π(·|x), as the
// reward–KL frontier of the DPO paper and its successors is drawn, with a
// true KL(π‖π_ref) estimated on them two ways.

// DefaultSampleBatch is the responses generated together by default.
const DefaultSampleBatch = 64

// SampleSpec is how responses are drawn.
type SampleSpec struct {
	Samples     int      // responses per prompt
	Temperature float64  // 1 draws from π itself; 0 is greedy
	TopK        int      // 0: all tokens
	TopP        float64  // 0 or 1: all tokens
	MaxNew      int      // new tokens per response
	Seed        uint64   // with a prompt's id and a sample's index, the whole of a response's randomness
	Stop        []string // a response ends after the first of these in its text (kept in it); the tokenizer's EOS ends it too
	BatchRows   int      // responses generated together; changes speed, never the samples
}

// SampledEval is a policy's responses to held-out prompts, per prompt and
// sample.
type SampledEval struct {
	Rewards [][]float64 // r(x, y)
	// KL is Σ_t KL(q_t ‖ π_ref,t) along each response, exact over the
	// vocabulary at each position; KLMC is Σ_t log q(y_t)/π_ref(y_t), the
	// Monte-Carlo term. Both have expectation KL(q‖π_ref) over whole
	// responses, q being the decoding distribution (π at temperature 1
	// without top-k/top-p); KL's variance is the lower.
	KL, KLMC  [][]float64
	Responses [][]string
	Ended     map[string]int // why responses stopped (model.Ended*)
}

// sampleKey is the random stream of a prompt's sample j: a function of the
// prompt's id and j only, so that a response does not depend on batching,
// sharding or the runner.
func sampleKey(promptID string, j int) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%d", promptID, j)
	return h.Sum64()
}

// Sampled draws spec.Samples responses from the policy for each prompt,
// with the reference run along each to give the KL, and scores them with
// reward.
func Sampled(policy, ref *model.Decoder, tok tokenizer.Tokenizer, ids, prompts []string, reward func(x, y string) (float64, error), spec SampleSpec) (SampledEval, error) {
	if spec.Samples < 1 || spec.BatchRows < 1 {
		return SampledEval{}, fmt.Errorf("%d samples in batches of %d: want at least 1 of each", spec.Samples, spec.BatchRows)
	}
	gen, err := policy.NewGenerator()
	if err != nil {
		return SampledEval{}, err
	}
	refGen, err := ref.NewGenerator()
	if err != nil {
		return SampledEval{}, err
	}
	promptIDs := make([][]int32, len(prompts))
	for i, p := range prompts {
		if promptIDs[i], _, err = PromptIDs(tok, p, math.MaxInt32, model.KeepEnd); err != nil {
			return SampledEval{}, fmt.Errorf("prompt %s: %w", ids[i], err)
		}
	}
	e := SampledEval{Rewards: make([][]float64, len(prompts)), KL: make([][]float64, len(prompts)), KLMC: make([][]float64, len(prompts)),
		Responses: make([][]string, len(prompts)), Ended: map[string]int{}}
	type row struct{ prompt, sample int }
	var all []row
	for i := range prompts {
		for j := 0; j < spec.Samples; j++ {
			all = append(all, row{i, j})
		}
	}
	cfg := model.GenerateConfig{MaxNewTokens: spec.MaxNew, Temperature: spec.Temperature, TopK: spec.TopK, TopP: spec.TopP,
		Seed: spec.Seed, EOS: tok.EOS(), Stop: stopStrings(tok, spec.Stop)}
	for lo := 0; lo < len(all); lo += spec.BatchRows {
		batch := all[lo:min(lo+spec.BatchRows, len(all))]
		in, keys := make([][]int32, len(batch)), make([]uint64, len(batch))
		for k, r := range batch {
			in[k], keys[k] = promptIDs[r.prompt], sampleKey(ids[r.prompt], r.sample)
		}
		out, err := gen.Sample(in, keys, refGen, cfg)
		if err != nil {
			return e, err
		}
		for k, r := range batch {
			s := out[k]
			y := responseText(tok, s.Tokens, spec.Stop)
			rw, err := reward(prompts[r.prompt], y)
			if err != nil {
				return e, fmt.Errorf("prompt %s: %w", ids[r.prompt], err)
			}
			i := r.prompt
			e.Rewards[i], e.Responses[i] = append(e.Rewards[i], rw), append(e.Responses[i], y)
			e.KL[i], e.KLMC[i] = append(e.KL[i], s.KL), append(e.KLMC[i], s.LogQ-s.LogRef)
			e.Ended[s.Ended]++
		}
	}
	return e, nil
}

// stopStrings is a GenerateConfig.Stop that ends a row once its text holds
// one of stop; nil for none.
func stopStrings(tok tokenizer.Tokenizer, stop []string) func(int, []int32) bool {
	if len(stop) == 0 {
		return nil
	}
	return func(_ int, out []int32) bool {
		text := tok.Decode(out)
		for _, s := range stop {
			if strings.Contains(text, s) {
				return true
			}
		}
		return false
	}
}

// responseText is a response's text, up to and including the first stop
// string in it (a token can carry text past it).
func responseText(tok tokenizer.Tokenizer, ids []int32, stop []string) string {
	y := tok.Decode(ids)
	cut := -1
	for _, s := range stop {
		if i := strings.Index(y, s); i >= 0 && (cut < 0 || i+len(s) < cut) {
			cut = i + len(s)
		}
	}
	if cut >= 0 {
		y = y[:cut]
	}
	return y
}

// MeanSE is the mean of per-prompt values over all samples, and its
// standard error with prompts as the unit (samples of one prompt are not
// independent of each other): the standard deviation of the prompts'
// means over √prompts. SE is NaN for fewer than two prompts.
func MeanSE(perPrompt [][]float64) (mean, se float64) {
	var sum float64
	n := 0
	means := make([]float64, 0, len(perPrompt))
	for _, xs := range perPrompt {
		var s float64
		for _, x := range xs {
			s += x
		}
		sum += s
		n += len(xs)
		if len(xs) > 0 {
			means = append(means, s/float64(len(xs)))
		}
	}
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	_, se = meanStderr(means)
	return sum / float64(n), se
}

// meanStderr is the mean of xs and its standard error, the sample
// standard deviation over √n (NaN for fewer than two values).
func meanStderr(xs []float64) (mean, se float64) {
	n := len(xs)
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	for _, x := range xs {
		mean += x
	}
	mean /= float64(n)
	if n < 2 {
		return mean, math.NaN()
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss/float64(n-1)) / math.Sqrt(float64(n))
}
