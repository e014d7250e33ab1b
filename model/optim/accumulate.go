package optim

import (
	"fmt"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// InitAccumulators creates the gradient accumulators (zeros) if absent.
// Checkpoints are taken between steps, where they are always zero.
func (s *State) InitAccumulators() error {
	for _, p := range s.paths {
		if s.store.GetVariable("/accum"+p) != nil {
			continue
		}
		if err := s.createZeros("/accum"+p, p); err != nil {
			return err
		}
	}
	return nil
}

// Accumulate adds grads to the accumulators when finite (a scalar bool)
// holds; ApplyAccumulated later applies and clears them.
func (s *State) Accumulate(grads []*Node, finite *Node) {
	for i, gr := range grads {
		g := gr.Graph()
		v := s.store.GetVariable("/accum" + s.paths[i])
		v.SetNodeValue(Add(v.NodeValue(g), Where(finite, gr, Scalar(g, gr.DType(), 0)))) // in the old buffer: see Apply
	}
}

// ApplyAccumulated takes one optimiser step with the accumulated gradients
// and clears them; it returns their norm.
func (s *State) ApplyAccumulated(o Config, lr *Node) *Node {
	g := lr.Graph()
	grads := make([]*Node, len(s.paths))
	for i, p := range s.paths {
		v := s.store.GetVariable("/accum" + p)
		grads[i] = v.NodeValue(g)
		v.SetNodeValue(ZerosLike(grads[i]))
	}
	return s.Apply(o, grads, Const(g, true), lr)
}

// ClearAccumulators zeroes the accumulators, after a refused micro-batch.
func (s *State) ClearAccumulators() error {
	for _, p := range s.paths {
		v := s.store.GetVariable("/accum" + p)
		if v == nil {
			continue
		}
		if err := v.SetValue(tensors.FromShape(v.Shape())); err != nil {
			return fmt.Errorf("clearing the gradient accumulator of %s: %w", p, err)
		}
	}
	return nil
}
