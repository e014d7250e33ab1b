package stages

import (
	"math"
	"testing"

	"github.com/srdpo/srdpo/schemas"
)

// A scored row that fails validation is labelled by what is wrong.
func TestInvalidScoreReason(t *testing.T) {
	for _, c := range []struct {
		s    schemas.Scored
		want string
	}{
		{schemas.Scored{RefLogpChosen: math.NaN(), RefLogpRejected: -1}, ReasonNonFiniteScore},
		{schemas.Scored{RefLogpChosen: -1, RefLogpRejectedAug: math.Inf(-1)}, ReasonNonFiniteScore},
		{schemas.Scored{RefLogpChosen: 0.5, RefLogpRejected: -1}, ReasonInvalidScore},
	} {
		if got := invalidScoreReason(c.s); got != c.want {
			t.Errorf("%+v: %s, want %s", c.s, got, c.want)
		}
	}
}
