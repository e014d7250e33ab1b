package bench

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/srdpo/srdpo/model"
	"github.com/srdpo/srdpo/stats"
)

// gpt2SmallConfig is GPT-2 small's shape (d 768, 12 layers, 12 heads,
// 50,257 tokens) in a family's layout: GPT-2's own, or llama's with
// grouped-query attention (4 key/value heads) and a SwiGLU MLP of 2,048
// (about GPT-2's MLP parameters).
func gpt2SmallConfig(layout model.Family) model.Config {
	c := model.Config{Family: layout, Vocab: 50257, Context: 1024, Layers: 12, Heads: 12, Width: 768, NormEps: 1e-5,
		TiedHead: true, DType: model.Float32}
	if layout == model.FamilyLlama {
		c.KVHeads, c.Inner, c.RopeTheta = 4, 2048, 10000
	}
	return c
}

// newBenchModel is a model of config c with seeded random weights on the
// backend srdpo runs on.
func newBenchModel(c model.Config) (*model.Decoder, error) {
	backend, err := model.Backend()
	if err != nil {
		return nil, err
	}
	return model.New(c, 1, backend)
}

// forwardFLOPs counts the multiply-adds of a forward pass over batch
// sequences of t tokens, twice (FLOPs): every projection, attention's
// scores and weighted sum (all t² of them: the causal mask does not save
// work here), and the vocabulary head at every position.
func forwardFLOPs(c model.Config, batch, t int) float64 {
	hd := c.Width / c.Heads
	if c.HeadDim > 0 {
		hd = c.HeadDim
	}
	kv := c.Heads
	if c.KVHeads > 0 {
		kv = c.KVHeads
	}
	inner := c.Inner
	if inner == 0 {
		inner = 4 * c.Width
	}
	perToken := float64(c.Width*c.Heads*hd*2 + c.Width*kv*hd*2) // q, o and k, v
	if c.Family == model.FamilyLlama {
		perToken += float64(3 * c.Width * inner)
	} else {
		perToken += float64(2 * c.Width * inner)
	}
	tokens := float64(batch * t)
	attn := float64(2 * batch * c.Heads * t * t * hd)
	return 2 * (float64(c.Layers)*(perToken*tokens+attn) + tokens*float64(c.Vocab*c.Width))
}

// matmulGFLOPs measures the backend's float32 matmul rate on n × n
// matrices, the ceiling the model figures are read against: one rate a run.
func matmulGFLOPs(n, runs int) ([]float64, error) {
	backend, err := model.Backend()
	if err != nil {
		return nil, err
	}
	a := make([]float32, n*n)
	for i := range a {
		a[i] = float32(i%7) / 7
	}
	exec, err := NewExec(backend, func(x, y *Node) *Node { return Einsum("ij,jk->ik", x, y) })
	if err != nil {
		return nil, err
	}
	x := tensors.FromFlatDataAndDimensions(a, n, n)
	times, err := timeRuns(runs, func() error { _, err := exec.Call(x, x); return err })
	if err != nil {
		return nil, err
	}
	rates := make([]float64, len(times))
	for i, t := range times {
		rates[i] = 2 * float64(n*n*n) / t / 1e9
	}
	return rates, nil
}

// benchLoRA is the adapter of the LoRA figures: rank 16, α 32, on every
// linear map.
var benchLoRA = model.LoRA{Rank: 16, Alpha: 32, Targets: []string{model.AllLinear}}

// stepVariant is how the GPT-2-small figures train: a LoRA adapter alone,
// or every weight with gradient checkpointing.
type stepVariant struct {
	lora      *model.LoRA
	recompute bool
}

// benchGPT2Small measures, at GPT-2-small scale in a family's layout, the
// forward pass (log-probs of 8 sequences of 128 tokens) and an SFT train
// step on them, with the achieved GFLOP/s beside the machine's float32
// matmul rate measured in the same process. A variant's figures carry its
// name ("lora r16", "recompute"); the group's peak RSS is then its step's.
func benchGPT2Small(layout model.Family, v stepVariant, runs int) ([]Figure, error) {
	mm, err := matmulGFLOPs(2048, runs)
	if err != nil {
		return nil, err
	}
	live := watchLiveHeap()
	c := gpt2SmallConfig(layout)
	m, err := newBenchModel(c)
	if err != nil {
		return nil, err
	}
	name := "gpt2-small"
	if v.lora != nil {
		if err := m.AddLoRA(*v.lora, 1); err != nil {
			return nil, err
		}
		name = fmt.Sprintf("gpt2-small lora r%d", v.lora.Rank)
	}
	if v.recompute {
		m.Recompute = true
		name = "gpt2-small recompute"
	}
	pairs := fixedPairs(8, 64, 64, 1) // 8 × 128 tokens
	fwd, err := timeForward(m, pairs, runs)
	if err != nil {
		return nil, err
	}
	train, err := timeSFTSteps(m, pairs, runs)
	if err != nil {
		return nil, err
	}
	flops := forwardFLOPs(c, 8, 128)
	tps, fwdRate, ms, trainRate := make([]float64, runs), make([]float64, runs), make([]float64, runs), make([]float64, runs)
	for k := 0; k < runs; k++ {
		tps[k], fwdRate[k] = 8*128/fwd[k], flops/fwd[k]/1e9
		ms[k], trainRate[k] = train[k]*1000, 3*flops/train[k]/1e9 // backward ≈ twice the forward
	}
	livePeak := live()
	base := Setting{"layout": string(c.Family), "params": c.Params(), "d": c.Width, "layers": c.Layers, "vocab": c.Vocab, "batch": 8, "T": 128,
		"live_peak_mib": livePeak >> 20}
	share := func(rates []float64) Setting {
		return base.with(Setting{"share_of_matmul": fmt.Sprintf("%.2f", stats.SpreadOf(rates).Median/stats.SpreadOf(mm).Median)})
	}
	return append([]Figure{
		Figure{Name: "matmul-2048", Unit: "GFLOP/s", What: "a 2048² float32 matmul on the same backend: the ceiling", Setting: base}.spread(mm),
		Figure{Name: name + " forward", Unit: "tokens/s", Setting: base}.spread(tps),
		Figure{Name: name + " forward rate", Unit: "GFLOP/s", Setting: share(fwdRate)}.spread(fwdRate),
		Figure{Name: name + " train step", Unit: "ms", What: "forward + backward + Adam", Setting: base}.spread(ms),
		Figure{Name: name + " train rate", Unit: "GFLOP/s", What: "3 × forward FLOPs / step time", Setting: share(trainRate)}.spread(trainRate),
	}, trainMemory(name, base, c.Params(), m.TrainableParams(), int(livePeak), 8*128)...), nil
}

// trainMemory is where a train step's bytes go, in bench/pytorch_train_memory.py's
// categories: weights, gradients and Adam's two moments (float32, counted
// from the shapes: the gradients and moments of the trained weights only),
// and the rest of the largest heap Go found live — activations kept for
// the backward pass, logits, the backend's buffers — per parameter and
// per token.
func trainMemory(name string, base Setting, params, trainable, livePeak, tokens int) []Figure {
	weights := params
	if trainable != params { // an adapter, beside the frozen base
		weights += trainable
	}
	type part struct {
		what  string
		bytes int
	}
	parts := []part{{"weights", 4 * weights}, {"gradients", 4 * trainable}, {"Adam state", 8 * trainable}}
	rest := livePeak
	for _, p := range parts {
		rest -= p.bytes
	}
	parts = append(parts, part{"activations, logits and buffers (live peak − the above)", rest}, part{"live peak", livePeak})
	var out []Figure
	for _, p := range parts {
		out = append(out, Figure{Name: name + " train memory: " + p.what, Unit: "MiB",
			Setting: base.with(Setting{"bytes_per_param": float64(p.bytes) / float64(params), "bytes_per_token": p.bytes / tokens})}.value(float64(p.bytes)/(1<<20)))
	}
	return out
}
