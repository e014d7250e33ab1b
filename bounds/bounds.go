// Package bounds holds the limits on what a file from outside may make
// srdpo allocate, shared by the readers of corpora, benchmark files and
// checkpoints.
package bounds

// A compressed file may expand at most so much: deflate reaches about
// 1,000:1 on a run of one byte, so a small .gz can hold gigabytes (a
// decompression bomb). Real corpora compress 3–20:1, weights about 1.1:1.
const (
	// MaxExpansionRatio bounds the decompressed size over the compressed one.
	MaxExpansionRatio = 100
	// MinExpansionLimit is the least a file may expand to, whatever its size.
	MinExpansionLimit = 256 << 20
)

// ExpansionLimit is the most a compressed file of the given size may
// expand to: max(ratio·compressed, floor), without overflow.
func ExpansionLimit(compressed, ratio, floor int64) int64 {
	if compressed > 0 && compressed <= (1<<62)/ratio {
		return max(floor, compressed*ratio)
	}
	return floor
}
