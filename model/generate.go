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
	m       *Decoder
	prefill *model.Exec
	step    *model.Exec
}

// NewGenerator compiles lazily, once per batch shape.
func (m *Decoder) NewGenerator() (*Generator, error) {
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
// says so, or when the context is full. Row i draws from its own random
// stream (cfg.Seed, i): see Sample for streams that do not depend on the
// batch.
func (gen *Generator) Generate(prompts [][]int32, cfg GenerateConfig) ([][]int32, error) {
	samples, err := gen.Sample(prompts, nil, nil, cfg)
	if err != nil {
		return nil, err
	}
	out := make([][]int32, len(samples))
	for i, s := range samples {
		out[i] = s.Tokens
	}
	return out, nil
}

// Sample is one continuation drawn by Generator.Sample, with what the
// evaluation needs of it: its log-probability under the decoding
// distribution q (the model's next-token distribution at the temperature,
// restricted to top-k / top-p; at temperature 1 without them, the model's
// own π) and under a reference, and the exact KL(q‖π_ref) summed over its
// positions. The positions are those of every token drawn, the EOS that
// ended the row included: the stop is a draw too.
type Sample struct {
	Tokens    []int32 // the new tokens, without an EOS that ended the row
	Ended     string  // EndedEOS, EndedStop, EndedLength or EndedContext
	Positions int     // tokens drawn: len(Tokens), plus one for an EOS
	LogQ      float64 // Σ log q(y_t | x, y<t)
	LogRef    float64 // Σ log π_ref(y_t | x, y<t); 0 without a reference
	KL        float64 // Σ_t KL(q_t ‖ π_ref,t), exact over the vocabulary; 0 without a reference
}

// Why a row stopped.
const (
	EndedEOS     = "eos"
	EndedStop    = "stop"    // cfg.Stop said so (a stop string)
	EndedLength  = "length"  // MaxNewTokens drawn
	EndedContext = "context" // the context is full
)

// Sample continues each prompt as Generate does. Row i draws from the
// random stream (cfg.Seed, keys[i]) — keys nil: (cfg.Seed, i) — so that a
// row's tokens depend on its key, not on the rows beside it: the same key
// gives the same sample in any batch. With ref, the reference runs along
// the same tokens (its own cache) and each Sample carries LogRef and KL.
func (gen *Generator) Sample(prompts [][]int32, keys []uint64, ref *Generator, cfg GenerateConfig) ([]Sample, error) {
	c := gen.m.Config
	if len(prompts) == 0 {
		return nil, nil
	}
	longest, err := gen.checkSampleArgs(prompts, keys, ref)
	if err != nil {
		return nil, err
	}
	rows, length := nextPow2(len(prompts)), gen.m.bucket(longest)
	tokens, last, done := promptBatch(prompts, rows, length)
	type state struct {
		exec           *Generator
		logits         []float64
		kCache, vCache *tensors.Tensor
	}
	models := []*state{{exec: gen}}
	if ref != nil {
		models = append(models, &state{exec: ref})
	}
	for _, m := range models {
		res, err := m.exec.prefill.Exec(tensors.FromFlatDataAndDimensions(tokens, rows, length), tensors.FromFlatDataAndDimensions(last, rows))
		if err != nil {
			return nil, err
		}
		m.logits, m.kCache, m.vCache = toFloat64(res[0]), res[1], res[2]
	}
	rngs := sampleRNGs(cfg.Seed, keys, len(prompts))
	out := make([]Sample, len(prompts))
	next := make([]int32, rows)
	pos := make([]int32, rows)
	for n := 0; n < cfg.MaxNewTokens; n++ {
		active := false
		for i := range prompts {
			if done[i] {
				continue
			}
			s := &out[i]
			var refLogits []float64
			if ref != nil {
				refLogits = models[1].logits[i*c.Vocab : (i+1)*c.Vocab]
			}
			tok := s.draw(models[0].logits[i*c.Vocab:(i+1)*c.Vocab], refLogits, rngs[i], cfg)
			if tok == cfg.EOS {
				done[i], s.Ended = true, EndedEOS
				continue
			}
			s.Tokens = append(s.Tokens, tok)
			next[i], pos[i] = tok, int32(len(prompts[i])+len(s.Tokens)-1)
			switch {
			case cfg.Stop != nil && cfg.Stop(i, s.Tokens):
				done[i], s.Ended = true, EndedStop
			case len(s.Tokens) >= cfg.MaxNewTokens:
				done[i], s.Ended = true, EndedLength
			case int(pos[i]) >= c.Context-1:
				done[i], s.Ended = true, EndedContext // no room for another token
			default:
				active = true
			}
		}
		if !active {
			break
		}
		for _, m := range models {
			res, err := m.exec.step.Exec(tensors.FromFlatDataAndDimensions(next, rows), tensors.FromFlatDataAndDimensions(pos, rows), m.kCache, m.vCache)
			if err != nil {
				return nil, err
			}
			m.logits, m.kCache, m.vCache = toFloat64(res[0]), res[1], res[2]
		}
	}
	for i := range out {
		if out[i].Ended == "" {
			out[i].Ended = EndedLength // MaxNewTokens 0
		}
	}
	return out, nil
}

// promptBatch lays the prompts out as rows of length tokens, right-padded,
// with each row's last prompt position; done marks the padding rows (past
// the prompts) as finished from the start.
func promptBatch(prompts [][]int32, rows, length int) (tokens, last []int32, done []bool) {
	tokens, last, done = make([]int32, rows*length), make([]int32, rows), make([]bool, rows)
	for i, p := range prompts {
		copy(tokens[i*length:], p)
		last[i] = int32(len(p) - 1)
	}
	for i := len(prompts); i < rows; i++ {
		done[i] = true
	}
	return tokens, last, done
}

// checkSampleArgs checks Sample's arguments and gives the longest prompt.
func (gen *Generator) checkSampleArgs(prompts [][]int32, keys []uint64, ref *Generator) (int, error) {
	c := gen.m.Config
	if keys != nil && len(keys) != len(prompts) {
		return 0, fmt.Errorf("%d keys for %d prompts", len(keys), len(prompts))
	}
	if ref != nil && (ref.m.Config.Vocab != c.Vocab || ref.m.Config.Context != c.Context) {
		return 0, fmt.Errorf("the reference's vocabulary %d / context %d differ from the policy's %d / %d", ref.m.Config.Vocab, ref.m.Config.Context, c.Vocab, c.Context)
	}
	longest := 0
	for i, p := range prompts {
		if len(p) == 0 || len(p) >= c.Context {
			return 0, fmt.Errorf("prompt %d has %d tokens: want 1 to %d", i, len(p), c.Context-1)
		}
		longest = max(longest, len(p))
	}
	return longest, nil
}

// sampleRNGs are the prompts' random streams: prompt i's is seeded by
// (seed, keys[i]) — by (seed, i) without keys — so a sample does not
// depend on what else is generated with it.
func sampleRNGs(seed uint64, keys []uint64, n int) []*rand.Rand {
	rngs := make([]*rand.Rand, n)
	for i := range rngs {
		key := uint64(i)
		if keys != nil {
			key = keys[i]
		}
		rngs[i] = rand.New(rand.NewPCG(seed, key))
	}
	return rngs
}

// draw draws the sample's next token from the policy's logits under cfg's
// decoding, and adds its log-probabilities and, with the reference's
// logits (nil: none), the log-ratio's terms and the exact per-position KL.
func (s *Sample) draw(logits, refLogits []float64, rng *rand.Rand, cfg GenerateConfig) int32 {
	q := decoding(logits, cfg)
	tok := q.draw(rng)
	s.Positions++
	s.LogQ += q.logProb(tok)
	if refLogits != nil {
		lr := logSoftmax(refLogits)
		s.LogRef += lr[tok]
		s.KL += q.kl(lr)
	}
	return tok
}

// dist is a decoding distribution over some token ids, in descending
// order of probability, with their log-probabilities.
type dist struct {
	ids      []int
	logProbs []float64
}

// decoding is the distribution a token is drawn from: a point mass on the
// most likely token at temperature 0 (the first of equals), else the
// softmax at the temperature restricted to the top-k tokens, then to the
// smallest set holding top-p of the probability. At temperature 1 without
// a restriction its log-probabilities are logSoftmax's, bit for bit, so
// that a policy equal to the reference has a KL of exactly 0.
func decoding(logits []float64, cfg GenerateConfig) dist {
	if cfg.Temperature <= 0 {
		best := 0
		for i, l := range logits {
			if l > logits[best] {
				best = i
			}
		}
		return dist{ids: []int{best}, logProbs: []float64{0}}
	}
	scaled := logits
	if cfg.Temperature != 1 {
		scaled = make([]float64, len(logits))
		for i, l := range logits {
			scaled[i] = l / cfg.Temperature
		}
	}
	lp := logSoftmax(scaled)
	order := make([]int, len(lp))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return lp[order[a]] > lp[order[b]] })
	cut := len(order)
	if cfg.TopK > 0 && cfg.TopK < cut {
		cut = cfg.TopK
	}
	if cfg.TopP > 0 && cfg.TopP < 1 {
		var mass, cum float64
		for _, id := range order[:cut] {
			mass += math.Exp(lp[id])
		}
		for i, id := range order[:cut] {
			cum += math.Exp(lp[id]) / mass
			if cum >= cfg.TopP {
				cut = i + 1
				break
			}
		}
	}
	d := dist{ids: order[:cut], logProbs: make([]float64, cut)}
	var lz float64 // log of the kept mass: 0 when nothing was cut
	if cut < len(order) {
		var mass float64
		for _, id := range d.ids {
			mass += math.Exp(lp[id])
		}
		lz = math.Log(mass)
	}
	for i, id := range d.ids {
		d.logProbs[i] = lp[id] - lz
	}
	return d
}

// draw picks a token with one uniform number from rng.
func (d dist) draw(rng *rand.Rand) int32 {
	if len(d.ids) == 1 {
		return int32(d.ids[0])
	}
	u := rng.Float64()
	for i, l := range d.logProbs {
		p := math.Exp(l)
		if u < p {
			return int32(d.ids[i])
		}
		u -= p
	}
	return int32(d.ids[len(d.ids)-1])
}

func (d dist) logProb(tok int32) float64 {
	for i, id := range d.ids {
		if int32(id) == tok {
			return d.logProbs[i]
		}
	}
	return math.Inf(-1)
}

// kl is KL(d ‖ p) for p given as log-probabilities over the vocabulary.
func (d dist) kl(logP []float64) float64 {
	var s float64
	for i, id := range d.ids {
		if q := math.Exp(d.logProbs[i]); q > 0 {
			s += q * (d.logProbs[i] - logP[id])
		}
	}
	return s
}

// logSoftmax is log softmax(logits) in float64.
func logSoftmax(logits []float64) []float64 {
	m := math.Inf(-1)
	for _, l := range logits {
		m = max(m, l)
	}
	var z float64
	for _, l := range logits {
		z += math.Exp(l - m)
	}
	lz := m + math.Log(z)
	out := make([]float64, len(logits))
	for i, l := range logits {
		out[i] = l - lz
	}
	return out
}

// sample picks a token from logits as a row of Generate does.
func sample(logits []float64, cfg GenerateConfig, rng *rand.Rand) int32 {
	return decoding(logits, cfg).draw(rng)
}
