package bench

import (
	"fmt"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"time"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/model/optim"
	"github.com/srdpo/srdpo/stages"
)

// largestShapes are the shapes of released checkpoints (their
// config.json: width, layers, heads, key/value heads, MLP width,
// vocabulary, tied head), trained with random weights by the
// largest-model figures: what fits on a machine is a matter of shape, not
// of values. Context is cut to 4,096 (it sizes no weight of a rotary
// model).
var largestShapes = map[string]model.Config{
	"qwen2.5-0.5b": {Family: model.FamilyQwen2, Vocab: 151936, Context: 4096, Layers: 24, Heads: 14, KVHeads: 2, Width: 896, Inner: 4864,
		NormEps: 1e-6, RopeTheta: 1e6, TiedHead: true, DType: model.Float32},
	"llama-3.2-1b": {Family: model.FamilyLlama, Vocab: 128256, Context: 4096, Layers: 16, Heads: 32, KVHeads: 8, HeadDim: 64, Width: 2048,
		Inner: 8192, NormEps: 1e-5, RopeTheta: 500000, TiedHead: true, DType: model.Float32},
	"qwen2.5-1.5b": {Family: model.FamilyQwen2, Vocab: 151936, Context: 4096, Layers: 28, Heads: 12, KVHeads: 2, Width: 1536, Inner: 8960,
		NormEps: 1e-6, RopeTheta: 1e6, TiedHead: true, DType: model.Float32},
	"qwen2.5-3b": {Family: model.FamilyQwen2, Vocab: 151936, Context: 4096, Layers: 36, Heads: 16, KVHeads: 2, Width: 2048, Inner: 11008,
		NormEps: 1e-6, RopeTheta: 1e6, TiedHead: true, DType: model.Float32},
}

// LargestGroups are the largest-model figure groups, "largest-<shape>-<full
// or lora>[-recompute]": not in the default list (they take about half an
// hour together); `make bench-largest` measures them.
func LargestGroups() []string {
	return []string{"largest-qwen2.5-0.5b-full", "largest-qwen2.5-0.5b-full-recompute", "largest-qwen2.5-0.5b-lora",
		"largest-llama-3.2-1b-full-recompute", "largest-llama-3.2-1b-lora", "largest-llama-3.2-1b-lora-recompute",
		"largest-qwen2.5-1.5b-lora", "largest-qwen2.5-1.5b-lora-recompute", "largest-qwen2.5-3b-lora-recompute"}
}

// largestPairs are the pairs of one large-model step: 4 pairs, prompts and
// responses of 64 tokens, p⊕x of 96.
func largestPairs() []model.PreferencePair {
	raw := fixedPairs(12, 64, 64, 5)
	pairs := make([]model.PreferencePair, 4)
	for i := range pairs {
		pairs[i] = model.PreferencePair{ID: fmt.Sprint(i), Prompt: raw[3*i].Prompt,
			AugPrompt: append(append([]int32{}, raw[3*i+1].Prompt...), raw[3*i+1].Response[:32]...),
			Chosen:    raw[3*i].Response, Rejected: raw[3*i+2].Response,
			Ref: model.PairLogps{Chosen: -500, Rejected: -500, ChosenAug: -500, RejectedAug: -500}}
	}
	return pairs
}

// benchLargest measures one Sr-DPO step (exact Δπ: the policy on x with
// gradients and on p⊕x without, both responses, Adam) of a released
// model's shape, full fine-tune or a rank-16 LoRA adapter on every linear
// map, optionally with --recompute. Its peak RSS is the group's: whether
// the shape trains on this machine at all.
func benchLargest(group string, runs int) ([]Figure, error) {
	shape, c, mode, recompute, err := parseLargest(group)
	if err != nil {
		return nil, err
	}
	// Without a soft memory limit the heap may grow to twice what is live
	// before Go collects: a shape that fits would be killed. srdpo train's
	// default (90% of the machine, unless GOMEMLIMIT says otherwise).
	if l, _ := stages.SoftMemoryLimit(0, os.Getenv("GOMEMLIMIT") != ""); l > 0 {
		debug.SetMemoryLimit(l)
	}
	limit := debug.SetMemoryLimit(-1)
	live := watchLiveHeap()
	m, err := newBenchModel(c)
	if err != nil {
		return nil, err
	}
	trainable := c.Params()
	if mode == "lora" {
		if err := m.AddLoRA(benchLoRA, 1); err != nil {
			return nil, err
		}
		trainable = m.TrainableParams()
	}
	m.Recompute = recompute
	t, err := m.NewPreferenceTrainer(model.LossConfig{Type: model.LossSrDPO, Beta: 0.1, Lambda: 0.5}, optim.Config{Name: "adam", LR: 1e-5}, 1)
	if err != nil {
		return nil, err
	}
	pairs := largestPairs()
	step := 0
	times, err := timeRuns(runs, func() error { _, err := t.Step(step, pairs); step++; return err })
	if err != nil {
		return nil, err
	}
	// Tokens a step runs through the policy: prompt and both responses on
	// x, and again on p⊕x.
	tokens := 0
	for _, p := range pairs {
		tokens += len(p.Prompt) + len(p.AugPrompt) + 2*(len(p.Chosen)+len(p.Rejected))
	}
	livePeak := live()
	ms, tps := make([]float64, runs), make([]float64, runs)
	for k, s := range times {
		ms[k], tps[k] = s*1000, float64(tokens)/s
	}
	base := Setting{"shape": shape, "mode": mode, "recompute": recompute, "layout": string(c.Family), "params": c.Params(),
		"trainable_params": trainable, "d": c.Width, "layers": c.Layers, "vocab": c.Vocab, "pairs": len(pairs),
		"prompt_tokens": 64, "aug_prompt_tokens": 96, "response_tokens": 64, "step_tokens": tokens,
		"memory_limit_mib": limit >> 20, "live_peak_mib": livePeak >> 20}
	return []Figure{
		Figure{Name: group + " sr-dpo step", Unit: "ms", What: "Sr-DPO step, exact Δπ: policy on x (backward) and on p⊕x, Adam", Setting: base}.spread(ms),
		Figure{Name: group + " tokens", Unit: "tokens/s", What: "policy tokens of a step (x and p⊕x passes) / step time", Setting: base}.spread(tps),
	}, nil
}

// parseLargest reads a largest-model figure's name:
// largest-<shape>-<full|lora>[-recompute].
func parseLargest(group string) (shape string, c model.Config, mode string, recompute bool, err error) {
	rest, prefixed := strings.CutPrefix(group, "largest-")
	rest, recompute = strings.CutSuffix(rest, "-recompute")
	known := false
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		shape, mode = rest[:i], rest[i+1:]
		c, known = largestShapes[shape]
	}
	if !prefixed || !known || (mode != "full" && mode != "lora") {
		return "", c, "", false, fmt.Errorf("figure %q: want largest-<shape>-<full|lora>[-recompute], shape one of qwen2.5-0.5b, llama-3.2-1b, qwen2.5-1.5b, qwen2.5-3b", group)
	}
	return shape, c, mode, recompute, nil
}

// watchLiveHeap samples the heap Go found live at its latest collection
// every 20 ms until the returned function is called, which gives the
// largest: what the process needs at least, whatever the collector's
// pacing lets its RSS grow to (a soft memory limit above it holds).
func watchLiveHeap() func() uint64 {
	var peak uint64 // written by the sampler only, read after it stops
	done := make(chan struct{})
	stopped := make(chan struct{})
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	go func() {
		defer close(stopped)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-stopped
		return peak
	}
}
