package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// GenerateConfig sets how continuations are sampled.
type GenerateConfig struct {
	MaxNewTokens int
	Temperature  float64 // 0 (or less): greedy
	TopK         int     // keep the k most likely tokens; 0: all
	TopP         float64 // keep the smallest set with this much probability; 0 or 1: all
	Seed         uint64  // the same seed gives the same samples
	EOS          int32   // stop a row on this token (not returned); -1: never
	// Stop, when set, is asked after each new token whether row i, with
	// the new tokens so far, is done (a stop string appeared in its text).
	Stop func(i int, out []int32) bool
}

// Generator samples continuations with a key/value cache: the prompt runs
// through the model once (prefill), then each new token costs one position
// of attention over the cache instead of a pass over the whole prefix.
type Generator struct {
	m       *GPT
	prefill *model.Exec
	step    *model.Exec
}

// NewGenerator compiles lazily, once per batch shape.
func (m *GPT) NewGenerator() (*Generator, error) {
	c := m.Config
	kvh, dh := c.kvHeads(), c.headDim()
	prefill, err := model.NewExec(m.Backend, m.Store, func(scope *model.Scope, tokens, last *Node) (*Node, *Node, *Node) {
		g := tokens.Graph()
		m.Store.SetTraining(g, true)
		b, t := tokens.Shape().Dimensions[0], tokens.Shape().Dimensions[1]
		positions := Iota(g, shapes.Make(dtypes.Int32, b, t), 1)
		var ks, vs []*Node
		x, rot := m.embed(tokens, positions), m.rotation(positions)
		for l := 0; l < c.Layers; l++ {
			x = m.layer(l, x, rot, func(k, v *Node) (*Node, *Node, *Node) {
				ks, vs = append(ks, k), append(vs, v)
				return causalSelf(k, v)
			})
		}
		logits := m.head(x) // [B, T, V]
		// Each row's next-token logits are at its last prompt position.
		rows := Iota(g, shapes.Make(dtypes.Int32, b), 0)
		next := Gather(logits, Stack([]*Node{rows, last}, -1)) // [B, V]
		pad := func(kv []*Node) *Node {                        // [L, B, context, kv heads, dh], zeros past the prompt
			s := Stack(kv, 0)
			if t == c.Context {
				return s
			}
			zeros := Zeros(g, shapes.Make(s.DType(), c.Layers, b, c.Context-t, kvh, dh))
			return Concatenate([]*Node{s, zeros}, 2)
		}
		return next, pad(ks), pad(vs)
	})
	if err != nil {
		return nil, err
	}
	step, err := model.NewExec(m.Backend, m.Store, func(scope *model.Scope, token, pos, kCache, vCache *Node) (*Node, *Node, *Node) {
		g := token.Graph()
		m.Store.SetTraining(g, true)
		b := token.Shape().Dimensions[0]
		// The slot each row writes, and the keys each row may see (≤ pos).
		slots := Iota(g, shapes.Make(dtypes.Int32, b, c.Context), 1)
		posCol := Reshape(pos, b, 1)
		write := ConvertDType(Equal(slots, posCol), kCache.DType()) // [B, C]
		write = Reshape(write, b, c.Context, 1, 1)
		visible := BroadcastToDims(Reshape(LessOrEqual(slots, posCol), b, 1, 1, c.Context), b, c.Heads, 1, c.Context)
		var ks, vs []*Node
		x, rot := m.embed(Reshape(token, b, 1), posCol), m.rotation(posCol)
		for l := 0; l < c.Layers; l++ {
			x = m.layer(l, x, rot, func(k, v *Node) (*Node, *Node, *Node) {
				update := func(cache, new *Node) *Node { // put new [B,1,H,dh] at each row's slot
					old := Squeeze(Slice(cache, AxisElem(l)), 0)
					return Add(Mul(old, OneMinus(write)), Mul(write, new))
				}
				keys, values := update(kCache, k), update(vCache, v)
				ks, vs = append(ks, keys), append(vs, values)
				return keys, values, visible
			})
		}
		return Reshape(m.head(x), b, c.Vocab), Stack(ks, 0), Stack(vs, 0)
	})
	if err != nil {
		return nil, err
	}
	return &Generator{m: m, prefill: prefill, step: step}, nil
}

// Generate continues each prompt; it returns the new tokens of each, without
// the EOS that ended it. Rows stop at EOS, at MaxNewTokens, when cfg.Stop
// says so, or when the context is full.
func (gen *Generator) Generate(prompts [][]int32, cfg GenerateConfig) ([][]int32, error) {
	c := gen.m.Config
	if len(prompts) == 0 {
		return nil, nil
	}
	longest := 0
	for i, p := range prompts {
		if len(p) == 0 || len(p) >= c.Context {
			return nil, fmt.Errorf("prompt %d has %d tokens: want 1 to %d", i, len(p), c.Context-1)
		}
		longest = max(longest, len(p))
	}
	rows, length := nextPow2(len(prompts)), gen.m.bucket(longest)
	tokens := make([]int32, rows*length)
	last := make([]int32, rows)
	for i, p := range prompts {
		copy(tokens[i*length:], p)
		last[i] = int32(len(p) - 1)
	}
	res, err := gen.prefill.Exec(tensors.FromFlatDataAndDimensions(tokens, rows, length), tensors.FromFlatDataAndDimensions(last, rows))
	if err != nil {
		return nil, err
	}
	logits, kCache, vCache := toFloat64(res[0]), res[1], res[2]
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x6e6))
	out := make([][]int32, len(prompts))
	done := make([]bool, rows)
	for i := len(prompts); i < rows; i++ {
		done[i] = true // padding rows
	}
	next := make([]int32, rows)
	pos := make([]int32, rows)
	for n := 0; n < cfg.MaxNewTokens; n++ {
		active := false
		for i := range prompts {
			if done[i] {
				continue
			}
			tok := sample(logits[i*c.Vocab:(i+1)*c.Vocab], cfg, rng)
			if tok == cfg.EOS {
				done[i] = true
				continue
			}
			out[i] = append(out[i], tok)
			next[i], pos[i] = tok, int32(len(prompts[i])+len(out[i])-1)
			if int(pos[i]) >= c.Context-1 || len(out[i]) >= cfg.MaxNewTokens || cfg.Stop != nil && cfg.Stop(i, out[i]) {
				done[i] = true // no room for another token, or enough of them
				continue
			}
			active = true
		}
		if !active {
			break
		}
		res, err := gen.step.Exec(tensors.FromFlatDataAndDimensions(next, rows), tensors.FromFlatDataAndDimensions(pos, rows), kCache, vCache)
		if err != nil {
			return nil, err
		}
		logits, kCache, vCache = toFloat64(res[0]), res[1], res[2]
	}
	return out, nil
}

// sample picks a token from logits: greedy at temperature 0, else from the
// softmax at the temperature, restricted to the top-k and top-p tokens.
func sample(logits []float64, cfg GenerateConfig, rng *rand.Rand) int32 {
	if cfg.Temperature <= 0 {
		best := 0
		for i, l := range logits {
			if l > logits[best] {
				best = i
			}
		}
		return int32(best)
	}
	order := make([]int, len(logits))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return logits[order[a]] > logits[order[b]] })
	if cfg.TopK > 0 && cfg.TopK < len(order) {
		order = order[:cfg.TopK]
	}
	probs := make([]float64, len(order))
	var z float64
	for i, id := range order {
		probs[i] = math.Exp((logits[id] - logits[order[0]]) / cfg.Temperature)
		z += probs[i]
	}
	if cfg.TopP > 0 && cfg.TopP < 1 {
		var cum float64
		for i := range probs {
			cum += probs[i] / z
			if cum >= cfg.TopP {
				order, probs = order[:i+1], probs[:i+1]
				break
			}
		}
		z = 0
		for _, p := range probs {
			z += p
		}
	}
	u := rng.Float64() * z
	for i, p := range probs {
		if u < p {
			return int32(order[i])
		}
		u -= p
	}
	return int32(order[len(order)-1])
}
