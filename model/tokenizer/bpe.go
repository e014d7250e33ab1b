package tokenizer

import (
	"container/heap"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// bpe is HF's BPE model: a word's characters become ids (with byte
// fallback or the unknown token where a character is not in the
// vocabulary), then pairs are merged lowest rank first, leftmost first
// among equal ranks.
type bpe struct {
	vocab        map[string]int32
	merges       map[[2]int32]mergeRule
	unk          int32 // -1: none
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	byteIDs      [256]int32 // <0xNN> ids for byte fallback, -1 where missing

	mu    sync.RWMutex
	cache map[string][]int32
}

type mergeRule struct{ rank, id int32 }

// cacheWords bounds the word cache (HF keeps 10,000 words).
const cacheWords = 1 << 16

type bpeJSON struct {
	Type                    string            `json:"type"`
	Dropout                 *float64          `json:"dropout"`
	UnkToken                *string           `json:"unk_token"`
	ContinuingSubwordPrefix *string           `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string           `json:"end_of_word_suffix"`
	FuseUnk                 bool              `json:"fuse_unk"`
	ByteFallback            bool              `json:"byte_fallback"`
	IgnoreMerges            bool              `json:"ignore_merges"`
	Vocab                   map[string]int32  `json:"vocab"`
	Merges                  []json.RawMessage `json:"merges"` // "a b", or ["a", "b"] in newer files
}

func parseBPE(raw json.RawMessage) (*bpe, error) {
	var m bpeJSON
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if m.Type != "BPE" && !(m.Type == "" && m.Vocab != nil && m.Merges != nil) {
		return nil, fmt.Errorf("unsupported model %q (only BPE is implemented)", m.Type)
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return nil, fmt.Errorf("model BPE: dropout %v makes encoding random; only null or 0 is supported", *m.Dropout)
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return nil, fmt.Errorf("model BPE: continuing_subword_prefix %q is not supported", *m.ContinuingSubwordPrefix)
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return nil, fmt.Errorf("model BPE: end_of_word_suffix %q is not supported", *m.EndOfWordSuffix)
	}
	merges := make([][2]string, len(m.Merges))
	for i, raw := range m.Merges {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			a, b, ok := strings.Cut(s, " ")
			if !ok {
				return nil, fmt.Errorf("model BPE: merge %d %q has no space", i, s)
			}
			merges[i] = [2]string{a, b}
		} else if err := json.Unmarshal(raw, &merges[i]); err != nil {
			return nil, fmt.Errorf("model BPE: merge %d: %w", i, err)
		}
	}
	unk := ""
	if m.UnkToken != nil {
		unk = *m.UnkToken
	}
	return newBPE(m.Vocab, merges, unk, m.FuseUnk, m.ByteFallback, m.IgnoreMerges)
}

func newBPE(vocab map[string]int32, merges [][2]string, unk string, fuseUnk, byteFallback, ignoreMerges bool) (*bpe, error) {
	m := &bpe{vocab: vocab, merges: make(map[[2]int32]mergeRule, len(merges)), unk: -1,
		fuseUnk: fuseUnk, byteFallback: byteFallback, ignoreMerges: ignoreMerges, cache: map[string][]int32{}}
	if unk != "" {
		id, ok := vocab[unk]
		if !ok {
			return nil, fmt.Errorf("model BPE: unk_token %q is not in the vocabulary", unk)
		}
		m.unk = id
	}
	for b := range m.byteIDs {
		m.byteIDs[b] = -1
		if id, ok := vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
	for i, pair := range merges {
		a, okA := vocab[pair[0]]
		b, okB := vocab[pair[1]]
		if !okA || !okB {
			return nil, fmt.Errorf("model BPE: merge %d (%q %q) uses a token not in the vocabulary", i, pair[0], pair[1])
		}
		id, ok := vocab[pair[0]+pair[1]]
		if !ok {
			return nil, fmt.Errorf("model BPE: merge %d (%q %q) makes %q, which is not in the vocabulary", i, pair[0], pair[1], pair[0]+pair[1])
		}
		// A later duplicate replaces an earlier one, as HF's map does.
		m.merges[[2]int32{a, b}] = mergeRule{int32(i), id}
	}
	return m, nil
}

// encode gives the ids of one pre-tokenised word.
func (m *bpe) encode(word string) ([]int32, error) {
	if word == "" {
		return nil, nil
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[word]; ok {
			return []int32{id}, nil
		}
	}
	m.mu.RLock()
	ids, ok := m.cache[word]
	m.mu.RUnlock()
	if ok {
		return ids, nil
	}
	ids, err := m.mergeWord(word)
	if err != nil {
		return nil, err
	}
	m.mu.Lock()
	if len(m.cache) < cacheWords {
		m.cache[word] = ids
	}
	m.mu.Unlock()
	return ids, nil
}

func (m *bpe) mergeWord(w string) ([]int32, error) {
	syms := make([]int32, 0, len(w))
	unkPending := false
	flushUnk := func() {
		if unkPending {
			syms = append(syms, m.unk)
			unkPending = false
		}
	}
	for i := 0; i < len(w); {
		_, n := utf8.DecodeRuneInString(w[i:])
		c := w[i : i+n]
		i += n
		if id, ok := m.vocab[c]; ok {
			flushUnk()
			syms = append(syms, id)
			continue
		}
		if m.byteFallback && m.hasBytes(c) {
			for j := 0; j < len(c); j++ {
				syms = append(syms, m.byteIDs[c[j]])
			}
			continue
		}
		if m.unk < 0 {
			return nil, fmt.Errorf("model BPE: %q is not in the vocabulary and there is no unk_token", c)
		}
		if unkPending && !m.fuseUnk {
			syms = append(syms, m.unk)
		}
		unkPending = true
	}
	flushUnk()
	return m.mergeAll(syms), nil
}

func (m *bpe) hasBytes(c string) bool {
	for j := 0; j < len(c); j++ {
		if m.byteIDs[c[j]] < 0 {
			return false
		}
	}
	return true
}

// mergeAll applies the merges as HF's Word::merge_all: a queue of
// candidate pairs ordered by (rank, position); a popped pair whose symbols
// have changed since it was queued is skipped.
func (m *bpe) mergeAll(ids []int32) []int32 {
	if len(ids) < 2 {
		return ids
	}
	n := len(ids)
	prev := make([]int, n)
	next := make([]int, n)
	alive := make([]bool, n)
	for i := range ids {
		prev[i], next[i], alive[i] = i-1, i+1, true
	}
	next[n-1] = -1
	q := &mergeQueue{}
	for i := 0; i+1 < n; i++ {
		if r, ok := m.merges[[2]int32{ids[i], ids[i+1]}]; ok {
			q.items = append(q.items, candidate{r.rank, i, r.id})
		}
	}
	heap.Init(q)
	for q.Len() > 0 {
		top := heap.Pop(q).(candidate)
		if !alive[top.pos] || next[top.pos] < 0 {
			continue
		}
		right := next[top.pos]
		if r, ok := m.merges[[2]int32{ids[top.pos], ids[right]}]; !ok || r.id != top.id {
			continue
		}
		ids[top.pos] = top.id
		alive[right] = false
		next[top.pos] = next[right]
		if next[right] >= 0 {
			prev[next[right]] = top.pos
		}
		if p := prev[top.pos]; p >= 0 {
			if r, ok := m.merges[[2]int32{ids[p], ids[top.pos]}]; ok {
				heap.Push(q, candidate{r.rank, p, r.id})
			}
		}
		if nx := next[top.pos]; nx >= 0 {
			if r, ok := m.merges[[2]int32{ids[top.pos], ids[nx]}]; ok {
				heap.Push(q, candidate{r.rank, top.pos, r.id})
			}
		}
	}
	out := make([]int32, 0, n)
	for i := 0; i >= 0; i = next[i] {
		out = append(out, ids[i])
	}
	return out
}

type candidate struct {
	rank int32
	pos  int
	id   int32
}

type mergeQueue struct{ items []candidate }

func (q *mergeQueue) Len() int { return len(q.items) }
func (q *mergeQueue) Less(i, j int) bool {
	a, b := q.items[i], q.items[j]
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.pos < b.pos
}
func (q *mergeQueue) Swap(i, j int) { q.items[i], q.items[j] = q.items[j], q.items[i] }
func (q *mergeQueue) Push(x any)    { q.items = append(q.items, x.(candidate)) }
func (q *mergeQueue) Pop() any {
	last := q.items[len(q.items)-1]
	q.items = q.items[:len(q.items)-1]
	return last
}
