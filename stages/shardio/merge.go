package shardio

import (
	"container/heap"

	"github.com/srdpo/srdpo/schemas"
)

// MergeByKey visits the rows of sources, each sorted by key, in key order:
// a k-way merge holding one row of each source (ties in source order).
// next returns a source's next row, nil at its end. The sink's merge of
// runs and the training stage's walk of its shards both use it.
func MergeByKey(sources []func() (schemas.Row, error), visit func(source int, r schemas.Row) error) error {
	h := &keyHeap{}
	for i, next := range sources {
		r, err := next()
		if err != nil {
			return err
		}
		if r != nil {
			h.items = append(h.items, sourceRow{i, r})
		}
	}
	heap.Init(h)
	for h.Len() > 0 {
		top := h.items[0]
		if err := visit(top.source, top.row); err != nil {
			return err
		}
		r, err := sources[top.source]()
		if err != nil {
			return err
		}
		if r == nil {
			heap.Pop(h)
		} else {
			h.items[0].row = r
			heap.Fix(h, 0)
		}
	}
	return nil
}

// sourceRow is a source's next row.
type sourceRow struct {
	source int
	row    schemas.Row
}

// keyHeap orders sources by their next row's key.
type keyHeap struct{ items []sourceRow }

func (h *keyHeap) Len() int { return len(h.items) }
func (h *keyHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if ka, kb := a.row.Key(), b.row.Key(); ka != kb {
		return ka < kb
	}
	return a.source < b.source
}
func (h *keyHeap) Swap(i, j int) { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *keyHeap) Push(x any)    { h.items = append(h.items, x.(sourceRow)) }
func (h *keyHeap) Pop() any {
	x := h.items[len(h.items)-1]
	h.items = h.items[:len(h.items)-1]
	return x
}
