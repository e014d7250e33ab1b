package model

import (
	. "github.com/gomlx/gomlx/core/graph"

	"github.com/srdpo/srdpo/model/optim"
)

// optimizerState makes (or finds) in the model's store the optimiser state
// of the weights training changes: every weight, or the adapter's.
func (m *Decoder) optimizerState() (*optim.State, error) {
	names := m.trainable()
	paths := make([]string, len(names))
	for i, n := range names {
		paths[i] = weightPath(n)
	}
	return optim.NewState(m.Store, paths)
}

// gradients of loss with respect to every trainable weight, in the order
// of trainable().
func (m *Decoder) gradients(loss *Node) []*Node {
	g := loss.Graph()
	names := m.trainable()
	weights := make([]*Node, len(names))
	for i, n := range names {
		weights[i] = m.w(g, n)
	}
	return Gradient(loss, weights...)
}
