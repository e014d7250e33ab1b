package bench

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/optim"
	"github.com/srdpo/srdpo/stages"
	"github.com/srdpo/srdpo/stats"
)

// mixItems is a realistic length mix, UltraFeedback-like: prompts of 150 ±
// 100 tokens, two responses of 250 ± 150 each (normal, clipped to [8, 2·mean]),
// cut to fit context packed together.
func mixItems(n, vocab, context int, seed uint64) []model.Shared {
	rng := rand.New(rand.NewPCG(seed, 11))
	length := func(mean, sd float64) int {
		return int(min(max(rng.NormFloat64()*sd+mean, 8), 2*mean))
	}
	ids := func(k int) []int32 {
		out := make([]int32, k)
		for i := range out {
			out[i] = int32(rng.IntN(vocab))
		}
		return out
	}
	items := make([]model.Shared, n)
	for i := range items {
		p, a, b := length(150, 100), length(250, 150), length(250, 150)
		for p+a+b > context {
			a, b = a*9/10, b*9/10
		}
		items[i] = model.Shared{Prompt: ids(p), Responses: [][]int32{ids(a), ids(b)}}
	}
	return items
}

// mixLengths are the items' prompt and response lengths, in the figures so
// that bench/pytorch_mix.py measures the same mix.
func mixLengths(items []model.Shared) [][3]int {
	out := make([][3]int, len(items))
	for i, it := range items {
		out[i] = [3]int{len(it.Prompt), len(it.Responses[0]), len(it.Responses[1])}
	}
	return out
}

// benchScoringMix measures scoring a preference corpus of the realistic
// mix three ways, alternating, in real tokens per second (the tokens of the
// separate rows: the work the answer needs either way): as srdpo v1 did
// (separate rows prompt ⊕ chosen and prompt ⊕ rejected, full head, 4096
// tokens a pass), separate rows in passes of stages.ScoreBudgetTokens, and
// shared (the prompt once, both responses, the head on response positions
// only) in passes of stages.ScoreBudgetTokens — what scoring does now.
func benchScoringMix(name string, c model.Config, n, runs int) ([]Figure, error) {
	m, err := newBenchModel(c)
	if err != nil {
		return nil, err
	}
	items := mixItems(n, c.Vocab, c.Context, 1)
	var pairs []model.Pair
	real, packed := 0, 0
	for _, it := range items {
		for _, r := range it.Responses {
			pairs = append(pairs, model.Pair{Prompt: it.Prompt, Response: r})
			real += len(it.Prompt) + len(r)
		}
		packed += len(it.Prompt) + len(it.Responses[0]) + len(it.Responses[1])
	}
	v1, err := m.NewScorer(4096)
	if err != nil {
		return nil, err
	}
	sep, err := m.NewScorer(stages.ScoreBudgetTokens)
	if err != nil {
		return nil, err
	}
	shared, err := m.NewSharedScorer(stages.ScoreBudgetTokens)
	if err != nil {
		return nil, err
	}
	packedRows := packedStandIns(items, c.Context)
	paths := []struct {
		name string
		run  func() error
	}{
		{"v1: separate rows, full head, 4096-token passes", func() error { _, err := v1.LogProbs(pairs); return err }},
		{"separate rows, full head", func() error { _, err := sep.LogProbs(pairs); return err }},
		{"shared prompt, response-only head", func() error { _, err := shared.LogProbs(items); return err }},
		{"shared prompts packed several to a row (cost of the same shapes)", func() error { _, err := shared.LogProbs(packedRows); return err }},
	}
	for _, p := range paths { // compile every shape
		if err := p.run(); err != nil {
			return nil, err
		}
	}
	rates := make([][]float64, len(paths))
	for i := 0; i < runs; i++ {
		for k, p := range paths {
			start := time.Now()
			if err := p.run(); err != nil {
				return nil, err
			}
			rates[k] = append(rates[k], float64(real)/time.Since(start).Seconds())
		}
	}
	base := Setting{"d": c.Width, "layers": c.Layers, "vocab": c.Vocab, "context": c.Context, "pairs": n,
		"real_tokens": real, "packed_tokens": packed, "mix": "prompt 150±100, responses 250±150",
		"budget_tokens": stages.ScoreBudgetTokens, "lengths": mixLengths(items)}
	var out []Figure
	for k, p := range paths {
		out = append(out, Figure{Name: name, Path: p.name, Unit: "real tokens/s", Setting: base}.spread(rates[k]))
	}
	return append(out,
		Figure{Name: name, Path: "shared / v1", Unit: "ratio", Setting: base}.spread(stats.Ratios(rates[2], rates[0])),
		Figure{Name: name, Path: "shared / separate", Unit: "ratio", Setting: base}.spread(stats.Ratios(rates[2], rates[1])),
		Figure{Name: name, Path: "packed / shared", Unit: "ratio", Setting: base.with(Setting{"packed_rows": len(packedRows)})}.spread(stats.Ratios(rates[3], rates[2]))), nil
}

// packedStandIns measures what packing several items into a row would
// cost without the packer: items go first-fit, longest first, into rows of
// context tokens, and each row becomes one stand-in item of the same
// shape — its prompts' tokens as one prompt, its responses' as one
// response. On this backend attention is dense whatever the mask, so a
// pass costs what its shapes cost, and the stand-ins time packing exactly.
func packedStandIns(items []model.Shared, context int) []model.Shared {
	type row struct{ prompt, response int }
	order := make([]model.Shared, len(items))
	copy(order, items)
	size := func(it model.Shared) int { return len(it.Prompt) + len(it.Responses[0]) + len(it.Responses[1]) }
	sort.SliceStable(order, func(i, j int) bool { return size(order[i]) > size(order[j]) })
	var rows []row
	for _, it := range order {
		n, r := size(it), len(it.Responses[0])+len(it.Responses[1])
		placed := false
		for k := range rows {
			if rows[k].prompt+rows[k].response+n <= context {
				rows[k].prompt += n - r
				rows[k].response += r
				placed = true
				break
			}
		}
		if !placed {
			rows = append(rows, row{n - r, r})
		}
	}
	out := make([]model.Shared, len(rows))
	for k, r := range rows {
		out[k] = model.Shared{Prompt: make([]int32, r.prompt), Responses: [][]int32{make([]int32, r.response)}}
	}
	return out
}

// benchStepsMix times preference steps on n pairs of the realistic mix: a
// DPO step and an Sr-DPO step with exact Δπ, each with separate rows (as
// srdpo v1) and with shared prompts (now), alternating. p⊕x is x with 16
// more tokens before it.
func benchStepsMix(name string, c model.Config, n, runs int) ([]Figure, error) {
	m, err := newBenchModel(c)
	if err != nil {
		return nil, err
	}
	items := mixItems(n, c.Vocab, c.Context-16, 2)
	pairs := make([]model.PreferencePair, n)
	for i, it := range items {
		aug := append(append(make([]int32, 0, 16+len(it.Prompt)), it.Responses[0][:min(16, len(it.Responses[0]))]...), it.Prompt...)
		for len(aug) < 16+len(it.Prompt) {
			aug = append([]int32{1}, aug...)
		}
		pairs[i] = model.PreferencePair{ID: fmt.Sprint(i), Prompt: it.Prompt, AugPrompt: aug, Chosen: it.Responses[0], Rejected: it.Responses[1],
			Ref: model.PairLogps{Chosen: -1000, Rejected: -1000, ChosenAug: -1000, RejectedAug: -1000}}
	}
	type path struct {
		name string
		t    *model.PreferenceTrainer
	}
	var paths []path
	for _, separate := range []bool{true, false} {
		for _, loss := range []model.LossType{model.LossDPO, model.LossSrDPO} {
			t, err := m.NewPreferenceTrainer(model.LossConfig{Type: loss, Beta: 0.1, Lambda: 0.5}, optim.Config{Name: "rmsprop", LR: 1e-9}, 1)
			if err != nil {
				return nil, err
			}
			layout := "shared prompts"
			if separate {
				t.SeparateRows()
				layout = "v1: separate rows"
			}
			paths = append(paths, path{fmt.Sprintf("%s step, %s", loss, layout), t})
		}
	}
	for _, p := range paths { // compile
		if _, err := p.t.Step(0, pairs); err != nil {
			return nil, err
		}
	}
	ms := make([][]float64, len(paths))
	for r := 0; r < runs; r++ {
		for k, p := range paths {
			start := time.Now()
			if _, err := p.t.Step(r+1, pairs); err != nil {
				return nil, err
			}
			ms[k] = append(ms[k], time.Since(start).Seconds()*1000)
		}
	}
	base := Setting{"d": c.Width, "layers": c.Layers, "vocab": c.Vocab, "context": c.Context, "pairs": n,
		"mix": "prompt 150±100, responses 250±150, p⊕x 16 tokens more", "lengths": mixLengths(items)}
	var out []Figure
	for k, p := range paths {
		out = append(out, Figure{Name: name, Path: p.name, Unit: "ms", Setting: base}.spread(ms[k]))
	}
	ratio := func(path string, a, b []float64) Figure {
		return Figure{Name: name, Path: path, Unit: "ratio", Setting: base}.spread(stats.Ratios(a, b))
	}
	return append(out,
		ratio("dpo step: v1 / shared", ms[0], ms[2]),
		ratio("sr-dpo step: v1 / shared", ms[1], ms[3]),
		ratio("sr-dpo / dpo step, shared", ms[3], ms[2]),
		ratio("sr-dpo / dpo step, v1", ms[1], ms[0])), nil
}
