package model

import (
	"fmt"
	"sort"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Pair is a prompt and a response as token ids; the response is what is
// scored. Both must be non-empty: the first response token is predicted
// from the last prompt token.
type Pair struct {
	Prompt, Response []int32
}

// SeqLogProb is log π(response | prompt): the sum over the response's
// tokens, and how many there are.
type SeqLogProb struct {
	Sum    float64
	Tokens int
}

// Mean is the per-token mean (TRL's IPO normalisation).
func (s SeqLogProb) Mean() float64 { return s.Sum / float64(s.Tokens) }

// Batch is padded input for one forward pass: Rows sequences of Len
// tokens, each a prompt followed by its response and right padding.
type Batch struct {
	Rows, Len int
	Tokens    []int32   // [Rows, Len]
	Targets   []int32   // [Rows, Len, 3]: (row, position, next token), to gather log π(next | prefix)
	Mask      []float64 // [Rows, Len]: 1 where the position predicts a response token
	Pairs     int       // rows holding a pair; the rest are padding rows
}

// NewBatch lays pairs out in rows×length, right-padded. Right padding keeps
// every real token at its true position, and causal attention keeps the
// padding from touching them.
func NewBatch(pairs []Pair, rows, length int) (Batch, error) {
	if len(pairs) > rows {
		return Batch{}, fmt.Errorf("batch of %d rows cannot hold %d pairs", rows, len(pairs))
	}
	b := Batch{Rows: rows, Len: length, Pairs: len(pairs),
		Tokens: make([]int32, rows*length), Targets: make([]int32, rows*length*3), Mask: make([]float64, rows*length)}
	for r := 0; r < rows; r++ {
		for t := 0; t < length; t++ {
			i := r*length + t
			b.Targets[3*i], b.Targets[3*i+1] = int32(r), int32(t)
		}
	}
	for r, p := range pairs {
		if len(p.Prompt) == 0 || len(p.Response) == 0 {
			return Batch{}, fmt.Errorf("pair %d: prompt (%d tokens) and response (%d tokens) must both be non-empty", r, len(p.Prompt), len(p.Response))
		}
		n := len(p.Prompt) + len(p.Response)
		if n > length {
			return Batch{}, fmt.Errorf("pair %d has %d tokens, more than the batch length %d (truncate first)", r, n, length)
		}
		row := b.Tokens[r*length : (r+1)*length]
		copy(row, p.Prompt)
		copy(row[len(p.Prompt):], p.Response)
		for t := len(p.Prompt) - 1; t < n-1; t++ {
			i := r*length + t
			b.Targets[3*i+2] = row[t+1]
			b.Mask[i] = 1
		}
	}
	return b, nil
}

// ResponseLogProbs is the graph of the per-row sums of response-token
// log-probs and their counts, for tokens [B, T], targets [B, T, 3] and mask
// [B, T]. Scoring and training both build on it.
func (m *Decoder) ResponseLogProbs(tokens, targets, mask *Node) (sum, count *Node) {
	tok := tokenLogProbs(m.Logits(tokens), targets) // [B, T]: log π(next token | prefix)
	return ReduceSum(Mul(tok, mask), 1), ReduceSum(mask, 1)
}

// tokenLogProbs is log softmax(logits)[target] for logits [B, T, V] and
// targets [B, T, 3] (row, position, token): the target's shifted logit
// minus the log-sum-exp, the same operations as GoMLX's LogSoftmax (so the
// same values, bit for bit) without its [B, T, V] result, which a training
// step would otherwise hold (measured: 177 MiB less peak memory in the
// GPT-2-small step, 8 × 128 tokens).
func tokenLogProbs(logits, targets *Node) *Node {
	shifted := Sub(logits, StopGradient(ReduceAndKeep(logits, ReduceMax, -1)))
	return Sub(Gather(shifted, targets), Log(ReduceSum(Exp(shifted), -1)))
}

// inputs converts a batch to tensors in the model's dtype.
func (m *Decoder) inputs(b Batch) []any {
	return []any{
		tensors.FromFlatDataAndDimensions(b.Tokens, b.Rows, b.Len),
		tensors.FromFlatDataAndDimensions(b.Targets, b.Rows, b.Len, 3),
		m.floats(b.Mask, b.Rows, b.Len),
	}
}

// Scorer computes response log-probs for many pairs, batching them by a
// token budget and padding each batch to one of a few fixed shapes, so the
// backend compiles a handful of graphs rather than one per length.
type Scorer struct {
	m      *Decoder
	exec   *model.Exec
	budget int
}

// NewScorer makes a scorer that puts about budgetTokens (rows × padded
// length, rows a power of two, one row at least) in one forward pass.
func (m *Decoder) NewScorer(budgetTokens int) (*Scorer, error) {
	if budgetTokens < 1 {
		return nil, fmt.Errorf("token budget %d: want at least 1", budgetTokens)
	}
	exec, err := model.NewExec(m.Backend, m.Store, func(scope *model.Scope, tokens, targets, mask *Node) (*Node, *Node) {
		// Weights enter as parameters, never as constants baked into the
		// graph, so a scorer sees weights changed after it was built.
		m.Store.SetTraining(tokens.Graph(), true)
		return m.ResponseLogProbs(tokens, targets, mask)
	})
	if err != nil {
		return nil, err
	}
	exec.SetMaxCache(64)
	return &Scorer{m: m, exec: exec, budget: budgetTokens}, nil
}

// LengthBuckets are the padded lengths a batch can have: 16, 24, 32, 48,
// 64, 96, … (powers of two and one and a half times them), then the
// context length. A sequence wastes at most a third of its padded length
// (half with powers of two alone, which made a p⊕x of 80 tokens cost a
// pass of 128), and with rows padded to powers of two a run compiles at
// most a few dozen shapes, most runs far fewer.
func (m *Decoder) LengthBuckets() []int {
	var out []int
	for l := 16; l < m.Config.Context; l *= 2 {
		out = append(out, l)
		if l+l/2 < m.Config.Context {
			out = append(out, l+l/2)
		}
	}
	return append(out, m.Config.Context)
}

func (m *Decoder) bucket(n int) int {
	for _, l := range m.LengthBuckets() {
		if n <= l {
			return l
		}
	}
	return -1
}

// batchRows is how many rows of a padded length a pass of about budget
// tokens holds: a power of two, one at least. Scorer and SharedScorer use
// it alike, so a sequence's shape depends on its own length alone.
func batchRows(budget, length int) int { return prevPow2(max(1, budget/length)) }

func prevPow2(n int) int {
	p := 1
	for p*2 <= n {
		p *= 2
	}
	return p
}

func nextPow2(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return p
}

// LogProbs scores every pair, in the order given. Each pair is computed in
// a shape set by its own length and the scorer's budget alone — length
// bucket(len), rows budget/bucket rounded down to a power of two, empty rows
// padding the last batch — and rows of one shape do not affect each other,
// so for a given budget a pair's score is bit for bit the same whatever
// else is scored with it. Other budgets change the shapes and may change
// the last bits (float32 rounding, about 1e-5 on a sum).
func (s *Scorer) LogProbs(pairs []Pair) ([]SeqLogProb, error) {
	out := make([]SeqLogProb, len(pairs))
	byBucket := map[int][]int{}
	var buckets []int
	for i, p := range pairs {
		n := len(p.Prompt) + len(p.Response)
		if n > s.m.Config.Context {
			return nil, fmt.Errorf("pair %d has %d tokens, more than the context length %d (truncate first)", i, n, s.m.Config.Context)
		}
		b := s.m.bucket(n)
		if _, ok := byBucket[b]; !ok {
			buckets = append(buckets, b)
		}
		byBucket[b] = append(byBucket[b], i)
	}
	sort.Ints(buckets)
	for _, padded := range buckets {
		idx := byBucket[padded]
		rows := batchRows(s.budget, padded)
		for start := 0; start < len(idx); start += rows {
			group := idx[start:min(start+rows, len(idx))]
			batchPairs := make([]Pair, len(group))
			for i, j := range group {
				batchPairs[i] = pairs[j]
			}
			b, err := NewBatch(batchPairs, rows, padded)
			if err != nil {
				return nil, err
			}
			res, err := s.exec.Exec(s.m.inputs(b)...)
			if err != nil {
				return nil, err
			}
			sums, counts := toFloat64(res[0]), toFloat64(res[1])
			for i, j := range group {
				out[j] = SeqLogProb{Sum: sums[i], Tokens: int(counts[i])}
			}
		}
	}
	return out, nil
}
