package pipelines

import (
	"slices"
	"testing"
)

// --curve-points N gives a curve of exactly N points (N−1 kept steps and
// the end), evenly spaced, also when N does not divide --train-steps
// (200 steps, 3 points: 67, 133 and 200; before, a kept step every 66
// gave 66, 132, 198 and 200: four points).
func TestCurveStepsAreNPoints(t *testing.T) {
	for _, c := range []struct {
		steps, points int
		want          []int
	}{
		{200, 3, []int{67, 133}},
		{200, 5, []int{40, 80, 120, 160}},
		{10, 6, []int{2, 3, 5, 7, 8}},
		{5, 10, []int{1, 2, 3, 4}},
		{7, 1, nil},
	} {
		if got := CurveSteps(c.steps, c.points); !slices.Equal(got, c.want) {
			t.Errorf("%d steps, %d points: %v, want %v", c.steps, c.points, got, c.want)
		}
	}
	for steps := 1; steps <= 60; steps++ {
		for points := 1; points <= 70; points++ {
			got := CurveSteps(steps, points)
			if len(got) != min(points, steps)-1 {
				t.Fatalf("%d steps, %d points: %d kept steps %v", steps, points, len(got), got)
			}
			for i, s := range got {
				if s < 1 || s >= steps || i > 0 && s <= got[i-1] {
					t.Fatalf("%d steps, %d points: %v not increasing within (0, %d)", steps, points, got, steps)
				}
			}
		}
	}
}
