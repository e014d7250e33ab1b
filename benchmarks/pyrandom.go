package benchmarks

import "math"

// pyRandom is CPython's random.Random: the Mersenne Twister MT19937 seeded
// as random.Random(n) seeds it, with Python's getrandbits, _randbelow and
// sample. lm-eval-harness draws few-shot examples with
// random.Random(1234).sample, so the same draws need the same generator.
type pyRandom struct {
	mt [624]uint32
	i  int
}

// newPyRandom is random.Random(seed) for 0 ≤ seed < 2³²: CPython seeds
// from the seed's 32-bit words (one here) through init_by_array.
func newPyRandom(seed uint32) *pyRandom {
	r := &pyRandom{}
	r.initGenrand(19650218)
	key := []uint32{seed}
	i, j := 1, 0
	for k := max(len(r.mt), len(key)); k > 0; k-- {
		r.mt[i] = (r.mt[i] ^ ((r.mt[i-1] ^ (r.mt[i-1] >> 30)) * 1664525)) + key[j] + uint32(j)
		i++
		j++
		if i >= len(r.mt) {
			r.mt[0], i = r.mt[len(r.mt)-1], 1
		}
		if j >= len(key) {
			j = 0
		}
	}
	for k := len(r.mt) - 1; k > 0; k-- {
		r.mt[i] = (r.mt[i] ^ ((r.mt[i-1] ^ (r.mt[i-1] >> 30)) * 1566083941)) - uint32(i)
		i++
		if i >= len(r.mt) {
			r.mt[0], i = r.mt[len(r.mt)-1], 1
		}
	}
	r.mt[0] = 0x80000000
	r.i = len(r.mt)
	return r
}

func (r *pyRandom) initGenrand(s uint32) {
	r.mt[0] = s
	for i := 1; i < len(r.mt); i++ {
		r.mt[i] = 1812433253*(r.mt[i-1]^(r.mt[i-1]>>30)) + uint32(i)
	}
}

func (r *pyRandom) uint32() uint32 {
	const n, m = 624, 397
	if r.i >= n {
		for k := 0; k < n; k++ {
			y := r.mt[k]&0x80000000 | r.mt[(k+1)%n]&0x7fffffff
			v := r.mt[(k+m)%n] ^ y>>1
			if y&1 != 0 {
				v ^= 0x9908b0df
			}
			r.mt[k] = v
		}
		r.i = 0
	}
	y := r.mt[r.i]
	r.i++
	y ^= y >> 11
	y ^= y << 7 & 0x9d2c5680
	y ^= y << 15 & 0xefc60000
	y ^= y >> 18
	return y
}

// getrandbits is random.getrandbits(k) for 0 < k ≤ 32.
func (r *pyRandom) getrandbits(k int) uint32 { return r.uint32() >> (32 - k) }

// randbelow is random._randbelow(n) for 0 < n < 2³²: k-bit draws until one
// is below n.
func (r *pyRandom) randbelow(n int) int {
	k := 0
	for v := n; v > 0; v >>= 1 {
		k++
	}
	x := int(r.getrandbits(k))
	for x >= n {
		x = int(r.getrandbits(k))
	}
	return x
}

// sample is random.sample(range(n), k): k distinct indices, in CPython's
// order, by its pool or its set method as CPython chooses.
func (r *pyRandom) sample(n, k int) []int {
	out := make([]int, k)
	setsize := 21
	if k > 5 {
		setsize += int(math.Pow(4, math.Ceil(math.Log(float64(k*3))/math.Log(4))))
	}
	if n <= setsize {
		pool := make([]int, n)
		for i := range pool {
			pool[i] = i
		}
		for i := 0; i < k; i++ {
			j := r.randbelow(n - i)
			out[i] = pool[j]
			pool[j] = pool[n-i-1]
		}
		return out
	}
	selected := map[int]bool{}
	for i := 0; i < k; i++ {
		j := r.randbelow(n)
		for selected[j] {
			j = r.randbelow(n)
		}
		selected[j] = true
		out[i] = j
	}
	return out
}
