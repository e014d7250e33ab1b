package benchmarks

import (
	"reflect"
	"testing"
)

// Values from CPython 3 itself:
//
//	r = random.Random(1234); [r.getrandbits(32) for _ in range(3)]
//	r = random.Random(1234); r.sample(range(10), 5), r.sample(range(10), 5),
//	    r.sample(range(1000), 25), r.sample(range(7), 3)
//	r = random.Random(7); [r.randrange(1000) for _ in range(5)]
func TestPyRandomMatchesCPython(t *testing.T) {
	r := newPyRandom(1234)
	if got := []uint32{r.getrandbits(32), r.getrandbits(32), r.getrandbits(32)}; !reflect.DeepEqual(got, []uint32{4150886329, 3342196574, 1892932127}) {
		t.Errorf("getrandbits(32): %v", got)
	}
	r = newPyRandom(1234)
	for _, c := range []struct {
		n, k int
		want []int
	}{
		{10, 5, []int{7, 1, 0, 9, 4}},
		{10, 5, []int{0, 1, 8, 6, 2}},
		{1000, 25, []int{242, 17, 31, 807, 16, 354, 663, 638, 495, 630, 474, 152, 93, 187, 730, 117, 865, 14, 515, 498, 901, 988, 255, 66, 683}},
		{7, 3, []int{4, 3, 0}},
	} {
		if got := r.sample(c.n, c.k); !reflect.DeepEqual(got, c.want) {
			t.Errorf("sample(range(%d), %d) = %v, CPython %v", c.n, c.k, got, c.want)
		}
	}
	r = newPyRandom(7)
	var got []int
	for i := 0; i < 5; i++ {
		got = append(got, r.randbelow(1000))
	}
	if !reflect.DeepEqual(got, []int{331, 970, 154, 404, 666}) {
		t.Errorf("randrange(1000): %v", got)
	}
}
