package tasks

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestRewardByHand(t *testing.T) {
	x := Prompt("abcd")
	for y, want := range map[string]float64{
		" dcba\n":  1,    // exact
		" dcbx\n":  0.75, // one letter wrong
		" dcb\n":   0.75, // one short: 3 of max(4, 3)
		" dcbaa\n": 0.8,  // one too many: 4 of 5
		" abcd\n":  0,    // not reversed
		"\n":       0,    // empty
	} {
		got, err := Reward(x, y)
		if err != nil || math.Abs(got-want) > 1e-12 {
			t.Errorf("r*(%q) = %g, %v; want %g", y, got, err, want)
		}
	}
	// p⊕x carries the same word.
	if r, err := Reward("Answer perfectly. "+x, " dcba\n"); err != nil || r != 1 {
		t.Errorf("with p: %g %v", r, err)
	}
	if _, err := Reward("What is 2+2?", " 4"); err == nil {
		t.Error("a foreign prompt was scored")
	}
}

func TestWordsAndCorruptionAreSeeded(t *testing.T) {
	if !reflect.DeepEqual(Words(3, 20), Words(3, 20)) || reflect.DeepEqual(Words(3, 20), Words(4, 20)) {
		t.Fatal("words not determined by the seed")
	}
	a := Corrupt(Target("hello"), 2, rand.New(rand.NewPCG(1, 1)))
	b := Corrupt(Target("hello"), 2, rand.New(rand.NewPCG(1, 1)))
	if a != b {
		t.Fatal("corruption not determined by the seed")
	}
	// More corruption, lower reward on average.
	rng := rand.New(rand.NewPCG(5, 5))
	var prev = 2.0
	for k := 0; k <= 4; k++ {
		var sum float64
		for _, w := range Words(9, 400) {
			r, _ := Reward(Prompt(w), Corrupt(Target(w), k, rng))
			sum += r
		}
		if avg := sum / 400; avg >= prev {
			t.Errorf("k=%d: mean reward %.3f not below %.3f", k, avg, prev)
		} else {
			prev = avg
		}
	}
}

// The label flip rate falls as the gap grows, as σ(−gap/T) says.
func TestBradleyTerryFlipRate(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	const T, n = 0.2, 20000
	prev := 1.0
	for _, gap := range []float64{0.05, 0.25, 0.5, 1} {
		flips := 0
		for i := 0; i < n; i++ {
			if !PreferBT(0.5+gap/2, 0.5-gap/2, T, rng) {
				flips++
			}
		}
		rate, want := float64(flips)/n, 1/(1+math.Exp(gap/T))
		if math.Abs(rate-want) > 0.01 || rate >= prev {
			t.Errorf("gap %.2f: flip rate %.3f, want %.3f and below %.3f", gap, rate, want, prev)
		}
		prev = rate
	}
}
