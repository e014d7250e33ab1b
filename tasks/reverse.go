package tasks

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
)

const promptPrefix, promptSuffix = "Reverse: ", "\nA:"

// Stop are the stop strings of the task's responses, " word\n": a
// newline ends one, whatever the tokenizer.
var Stop = []string{"\n"}

// RewardName is the name evaluation knows Reward by (stages.EvalSpec's
// GoldReward; registered by package pipelines).
const RewardName = "known-reward-task"

// Prompt is x for a word.
func Prompt(word string) string { return promptPrefix + word + promptSuffix }

// Target is the best response for a word: its letters reversed.
func Target(word string) string {
	r := []rune(word)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return " " + string(r) + "\n"
}

// WordOf recovers the word from x (which may carry p and a separator in
// front of it, as p⊕x does).
func WordOf(x string) (string, error) {
	i := strings.LastIndex(x, promptPrefix)
	if i < 0 || !strings.HasSuffix(x, promptSuffix) {
		return "", fmt.Errorf("not a prompt of the reverse task: %q", x)
	}
	return x[i+len(promptPrefix) : len(x)-len(promptSuffix)], nil
}

// Reward is r*(x, y) in [0, 1]: matching positions of y's letters against
// the reversed word, over the longer length; the leading space and a final
// newline are the response's frame, not letters.
func Reward(x, y string) (float64, error) {
	word, err := WordOf(x)
	if err != nil {
		return 0, err
	}
	want := []rune(strings.TrimSpace(Target(word)))
	got := []rune(strings.TrimSuffix(strings.TrimPrefix(y, " "), "\n"))
	n := max(len(want), len(got))
	if n == 0 {
		return 1, nil
	}
	match := 0
	for i := 0; i < min(len(want), len(got)); i++ {
		if want[i] == got[i] {
			match++
		}
	}
	return float64(match) / float64(n), nil
}

// Words draws n words of 3 to 8 lowercase letters, seeded.
func Words(seed uint64, n int) []string {
	rng := rand.New(rand.NewPCG(seed, 0x776f7264))
	out := make([]string, n)
	for i := range out {
		b := make([]byte, 3+rng.IntN(6))
		for j := range b {
			b[j] = byte('a' + rng.IntN(26))
		}
		out[i] = string(b)
	}
	return out
}

// Corrupt changes k letters of a response (replacing, dropping or
// doubling one at a time), seeded by rng: responses of graded quality.
func Corrupt(response string, k int, rng *rand.Rand) string {
	letters := []byte(strings.TrimSuffix(strings.TrimPrefix(response, " "), "\n"))
	for ; k > 0 && len(letters) > 0; k-- {
		i := rng.IntN(len(letters))
		switch rng.IntN(3) {
		case 0:
			letters[i] = byte('a' + rng.IntN(26))
		case 1:
			letters = append(letters[:i], letters[i+1:]...)
		default:
			letters = append(letters[:i+1], letters[i:]...)
		}
	}
	return " " + string(letters) + "\n"
}

// PreferBT labels a pair by Bradley–Terry on r*: the first response is
// chosen with probability σ((r1 − r2)/temperature). Small gaps give noisy
// labels, as in human preference data.
func PreferBT(r1, r2, temperature float64, rng *rand.Rand) (firstChosen bool) {
	p := 1 / (1 + math.Exp(-(r1-r2)/temperature))
	return rng.Float64() < p
}
