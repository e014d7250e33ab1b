package model

import (
	"fmt"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
)

// DType is the float type a model computes in.
type DType string

const (
	Float32 DType = "float32" // the default
	Float64 DType = "float64" // for gradient checks against finite differences
)

// validate accepts the two dtypes, or "" for the default.
func (d DType) validate() error {
	if d != Float32 && d != Float64 && d != "" {
		return fmt.Errorf("dtype %q: want float32 or float64", d)
	}
	return nil
}

// tensorOf makes a tensor of dtype d from float64 values: a scalar
// without dims. The one place host values are narrowed to float32.
func tensorOf(d DType, v []float64, dims ...int) *tensors.Tensor {
	if d == Float64 {
		if len(dims) == 0 {
			return tensors.FromScalar(v[0])
		}
		return tensors.FromFlatDataAndDimensions(append([]float64(nil), v...), dims...)
	}
	f := make([]float32, len(v))
	for i, x := range v {
		f[i] = float32(x)
	}
	if len(dims) == 0 {
		return tensors.FromScalar(f[0])
	}
	return tensors.FromFlatDataAndDimensions(f, dims...)
}

// toFloat64 reads a float tensor of either dtype: the one place device
// values are widened to float64.
func toFloat64(t *tensors.Tensor) []float64 {
	if t.DType() == dtypes.Float64 {
		return tensors.MustCopyFlatData[float64](t)
	}
	f := tensors.MustCopyFlatData[float32](t)
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out
}
