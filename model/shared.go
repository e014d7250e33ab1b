package model

import (
	"fmt"
	"slices"
	"sort"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
)

// Shared is a prompt and the responses scored after it, computed in one
// packed sequence — the prompt once, then each response — as in "Accelerating
// Direct Preference Optimization with Prefix Sharing" (Wang et al., 2024):
// each response attends to the prompt and to itself only, and its positions
// continue from the prompt's end, so each is scored as if it followed the
// prompt alone.
type Shared struct {
	Prompt    []int32
	Responses [][]int32
}

// tokens is the item's packed length: the prompt and every response.
func (s Shared) tokens() int { return len(s.Prompt) + s.responseTokens() }

// responseTokens is how many positions of the item the head runs on.
func (s Shared) responseTokens() int {
	n := 0
	for _, r := range s.Responses {
		n += len(r)
	}
	return n
}

// sharedBatch is packed input for one forward pass: Rows rows of Len
// tokens, each one Shared item and right padding, and Sel selected
// positions per row whose hidden states predict a response token.
type sharedBatch struct {
	Rows, Len, Sel int
	Tokens         []int32 // [Rows, Len]
	Positions      []int32 // [Rows, Len]: the position each token has in its own prompt ⊕ response
	Segment        []int32 // [Rows, Len]: 0 prompt, k response k (1-based), -1 padding
	Gather         []int32 // [Rows, Sel, 2]: (row, index) of the hidden state predicting a response token
	Targets        []int32 // [Rows, Sel, 3]: (row, selected, token), to gather log π(token | prefix)
	Response       []int32 // [Rows, Sel]: the response (1-based) a selected position scores, 0 padding
}

// inputs are the batch's tensors in SelectedLogProbs' order, then Response.
func (b sharedBatch) inputs() []any {
	return []any{
		tensors.FromFlatDataAndDimensions(b.Tokens, b.Rows, b.Len),
		tensors.FromFlatDataAndDimensions(b.Positions, b.Rows, b.Len),
		tensors.FromFlatDataAndDimensions(b.Segment, b.Rows, b.Len),
		tensors.FromFlatDataAndDimensions(b.Gather, b.Rows, b.Sel, 2),
		tensors.FromFlatDataAndDimensions(b.Targets, b.Rows, b.Sel, 3),
		tensors.FromFlatDataAndDimensions(b.Response, b.Rows, b.Sel),
	}
}

// newSharedBatch lays items out one per row, right-padded.
func newSharedBatch(items []Shared, rows, length, sel int) (sharedBatch, error) {
	b := sharedBatch{Rows: rows, Len: length, Sel: sel,
		Tokens: make([]int32, rows*length), Positions: make([]int32, rows*length), Segment: make([]int32, rows*length),
		Gather: make([]int32, rows*sel*2), Targets: make([]int32, rows*sel*3), Response: make([]int32, rows*sel)}
	for i := range b.Segment {
		b.Segment[i] = -1
	}
	for r := 0; r < rows; r++ {
		for j := 0; j < sel; j++ {
			k := r*sel + j
			b.Gather[2*k] = int32(r)
			b.Targets[3*k], b.Targets[3*k+1] = int32(r), int32(j)
		}
	}
	for r, it := range items {
		if len(it.Prompt) == 0 || len(it.Responses) == 0 {
			return b, fmt.Errorf("item %d: an empty prompt or no response", r)
		}
		if n := it.tokens(); n > length {
			return b, fmt.Errorf("item %d has %d tokens, more than the batch length %d", r, n, length)
		}
		if n := it.responseTokens(); n > sel {
			return b, fmt.Errorf("item %d has %d response tokens, more than the %d selected positions", r, n, sel)
		}
		base := r * length
		p := len(it.Prompt)
		for t, tok := range it.Prompt {
			b.Tokens[base+t], b.Positions[base+t], b.Segment[base+t] = tok, int32(t), 0
		}
		at, j := p, 0
		for k, resp := range it.Responses {
			if len(resp) == 0 {
				return b, fmt.Errorf("item %d: response %d is empty", r, k)
			}
			for t, tok := range resp {
				b.Tokens[base+at+t], b.Positions[base+at+t], b.Segment[base+at+t] = tok, int32(p+t), int32(k+1)
				// The first token is predicted from the prompt's last
				// position, the others from the response's own previous one.
				from := at + t - 1
				if t == 0 {
					from = p - 1
				}
				s := r*sel + j
				b.Gather[2*s+1] = int32(from)
				b.Targets[3*s+2] = tok
				b.Response[s] = int32(k + 1)
				j++
			}
			at += len(resp)
		}
	}
	return b, nil
}

// visibility is the packed attention mask [B, T, T] from segments [B, T]:
// position i sees j ≤ i when j is in the prompt (segment 0) or in i's own
// segment. Padding (segment −1) sees only padding, itself at least, so no
// row of the softmax is empty.
func visibility(segment *Node) *Node {
	g := segment.Graph()
	b, t := segment.Shape().Dimensions[0], segment.Shape().Dimensions[1]
	si := BroadcastToDims(Reshape(segment, b, t, 1), b, t, t)
	sj := BroadcastToDims(Reshape(segment, b, 1, t), b, t, t)
	causal := BroadcastToDims(Reshape(LowerTriangular(g, t), 1, t, t), b, t, t)
	zero := ZerosLike(si)
	prompt := LogicalAnd(Equal(sj, zero), GreaterOrEqual(si, zero))
	return LogicalAnd(causal, LogicalOr(prompt, Equal(si, sj)))
}

// hidden is the network up to the head: tokens [B, T] at positions [B, T],
// attending where visible [B, T, T] allows; [B, T, d].
func (m *Decoder) hidden(tokens, positions, visible *Node) *Node {
	b, t := tokens.Shape().Dimensions[0], tokens.Shape().Dimensions[1]
	h := m.Config.Heads
	mask := BroadcastToDims(Reshape(visible, b, 1, t, t), b, h, t, t)
	attend := func(k, v *Node) (*Node, *Node, *Node) { return k, v, mask }
	x, rot := m.embed(tokens, positions), m.rotation(positions)
	return m.blocks(x, rot, attend)
}

// SelectedLogProbs is the graph of log π(token | prefix) [B, S] at the
// selected positions of packed rows: the network runs on every position,
// but the head and the log-softmax only on the S selected hidden states
// (gather [B, S, 2] (row, index)), never materialising [B, T, V] logits
// for prompts or padding. targets [B, S, 3] (row, selected, token).
func (m *Decoder) SelectedLogProbs(tokens, positions, segment, gather, targets *Node) *Node {
	x := m.hidden(tokens, positions, visibility(segment))
	sel := Gather(x, gather) // [B, S, d]
	return tokenLogProbs(m.head(sel), targets)
}

// SharedScorer scores Shared items — a prompt once, several responses —
// batching them by a token budget into a few fixed shapes, as Scorer.
type SharedScorer struct {
	m      *Decoder
	exec   *model.Exec
	budget int
}

// NewSharedScorer makes a scorer that puts about budgetTokens (rows ×
// padded length, rows a power of two, one row at least) in one forward pass.
func (m *Decoder) NewSharedScorer(budgetTokens int) (*SharedScorer, error) {
	if budgetTokens < 1 {
		return nil, fmt.Errorf("token budget %d: want at least 1", budgetTokens)
	}
	exec, err := model.NewExec(m.Backend, m.Store, func(scope *model.Scope, tokens, positions, segment, gather, targets *Node) *Node {
		m.Store.SetTraining(tokens.Graph(), true) // weights as parameters, as in NewScorer
		return m.SelectedLogProbs(tokens, positions, segment, gather, targets)
	})
	if err != nil {
		return nil, err
	}
	exec.SetMaxCache(64)
	return &SharedScorer{m: m, exec: exec, budget: budgetTokens}, nil
}

// LogProbs scores every response of every item: out[i][k] is log π of
// item i's response k after its prompt. An item's shape — the length
// bucket of its packed tokens and of its response tokens, rows by the
// budget — depends on itself alone, so its scores are bit for bit the same
// whatever else is scored with it.
func (s *SharedScorer) LogProbs(items []Shared) ([][]SeqLogProb, error) {
	type shape struct{ length, sel int }
	out := make([][]SeqLogProb, len(items))
	byShape := map[shape][]int{}
	var shapesSeen []shape
	for i, it := range items {
		n := it.tokens()
		if n > s.m.Config.Context {
			return nil, fmt.Errorf("item %d has %d tokens packed, more than the context length %d", i, n, s.m.Config.Context)
		}
		sh := shape{s.m.bucket(n), s.m.bucket(it.responseTokens())}
		if _, ok := byShape[sh]; !ok {
			shapesSeen = append(shapesSeen, sh)
		}
		byShape[sh] = append(byShape[sh], i)
	}
	sort.Slice(shapesSeen, func(i, j int) bool {
		a, b := shapesSeen[i], shapesSeen[j]
		return a.length < b.length || a.length == b.length && a.sel < b.sel
	})
	for _, sh := range shapesSeen {
		idx := byShape[sh]
		rows := batchRows(s.budget, sh.length)
		for start := 0; start < len(idx); start += rows {
			group := idx[start:min(start+rows, len(idx))]
			batch := make([]Shared, len(group))
			for i, j := range group {
				batch[i] = items[j]
			}
			b, err := newSharedBatch(batch, rows, sh.length, sh.sel)
			if err != nil {
				return nil, err
			}
			res, err := s.exec.Exec(b.inputs()[:5]...)
			if err != nil {
				return nil, err
			}
			lp := toFloat64(res[0])
			for r, j := range group {
				it := items[j]
				out[j] = make([]SeqLogProb, len(it.Responses))
				k := r * sh.sel
				for ri, resp := range it.Responses {
					var sum float64
					for range resp {
						sum += lp[k]
						k++
					}
					out[j][ri] = SeqLogProb{Sum: sum, Tokens: len(resp)}
				}
			}
		}
	}
	return out, nil
}

// Preference is a preference pair's token ids: the prompt x, the augmented
// prompt p⊕x and the two responses. PlainGiven leaves the x side unscored
// (its sums come from elsewhere; PairLogps reports them as 0).
type Preference struct {
	Prompt, AugPrompt, Chosen, Rejected []int32
	PlainGiven                          bool
}

// items lays a pair out as Shared items: x with both responses and p⊕x
// with both, or, where a prompt and both responses do not fit the context
// together, each response after each prompt on its own.
func (p Preference) items(context int) []Shared {
	both := func(prompt []int32) []Shared {
		if len(prompt)+len(p.Chosen)+len(p.Rejected) <= context {
			return []Shared{{Prompt: prompt, Responses: [][]int32{p.Chosen, p.Rejected}}}
		}
		return []Shared{{Prompt: prompt, Responses: [][]int32{p.Chosen}}, {Prompt: prompt, Responses: [][]int32{p.Rejected}}}
	}
	if p.PlainGiven {
		return both(p.AugPrompt)
	}
	return append(both(p.Prompt), both(p.AugPrompt)...)
}

// PairLogps scores each pair's four sequences — PairSequences' x⊕y+, x⊕y−,
// p⊕x⊕y+, p⊕x⊕y− — with shared prompts.
func (s *SharedScorer) PairLogps(pairs []Preference) ([]PairLogps, error) {
	var items []Shared
	for _, p := range pairs {
		items = append(items, p.items(s.m.Config.Context)...)
	}
	lp, err := s.LogProbs(items)
	if err != nil {
		return nil, err
	}
	out := make([]PairLogps, len(pairs))
	var flat []float64
	for _, it := range lp {
		for _, r := range it {
			flat = append(flat, r.Sum)
		}
	}
	for i, p := range pairs {
		if p.PlainGiven {
			out[i] = PairLogps{ChosenAug: flat[0], RejectedAug: flat[1]}
			flat = flat[2:]
			continue
		}
		out[i] = PairLogps{Chosen: flat[0], Rejected: flat[1], ChosenAug: flat[2], RejectedAug: flat[3]}
		flat = flat[4:]
	}
	return out, nil
}

// Pairs scores pairs as LogProbs of Scorer does, sharing prompts: a run of
// consecutive pairs with the same prompt becomes one item while its
// prompt and responses fit the context together (the choices of a
// multiple-choice question after their common context).
func (s *SharedScorer) Pairs(pairs []Pair) ([]SeqLogProb, error) {
	var items []Shared
	var at [][2]int // pair i is response at[i][1] of item at[i][0]
	for i, p := range pairs {
		if i > 0 {
			last := &items[len(items)-1]
			if slices.Equal(last.Prompt, p.Prompt) && last.tokens()+len(p.Response) <= s.m.Config.Context {
				last.Responses = append(last.Responses, p.Response)
				at = append(at, [2]int{len(items) - 1, len(last.Responses) - 1})
				continue
			}
		}
		items = append(items, Shared{Prompt: p.Prompt, Responses: [][]int32{p.Response}})
		at = append(at, [2]int{len(items) - 1, 0})
	}
	lp, err := s.LogProbs(items)
	if err != nil {
		return nil, err
	}
	out := make([]SeqLogProb, len(pairs))
	for i, a := range at {
		out[i] = lp[a[0]][a[1]]
	}
	return out, nil
}
