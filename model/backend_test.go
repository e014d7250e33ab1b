package model

import (
	"math"
	"testing"

	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
)

// The pinned GoMLX and its pure-Go backend build and compute here: a
// log-softmax, checked against the formula in float64.
func TestBackendComputesLogSoftmax(t *testing.T) {
	backend, err := Backend()
	if err != nil {
		t.Fatal(err)
	}
	logits := []float64{1, 2, 0.5, -3}
	out, err := ExecOnce(backend, func(x *Node) *Node { return LogSoftmax(x) }, logits)
	if err != nil {
		t.Fatal(err)
	}
	got := tensors.MustCopyFlatData[float64](out)
	var z float64
	for _, l := range logits {
		z += math.Exp(l)
	}
	for i, l := range logits {
		if want := l - math.Log(z); math.Abs(got[i]-want) > 1e-12 {
			t.Errorf("log-softmax[%d] = %v, want %v", i, got[i], want)
		}
	}
}
