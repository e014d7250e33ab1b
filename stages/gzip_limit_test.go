package stages

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"testing"
)

// A compressed stream is cut, with an error naming it, once it expands
// past max(ratio × compressed, floor); one within the limit reads whole.
// (4 MiB of newlines compress to about 4 KiB: past 100:1 with a 1 MiB
// floor; 1 MiB of them stays within it.)
func TestGzipExpansionLimit(t *testing.T) {
	bomb := func(n int) []byte {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(bytes.Repeat([]byte("\n"), n))
		zw.Close()
		return b.Bytes()
	}
	for _, c := range []struct {
		plain int
		cut   bool
	}{{4 << 20, true}, {1 << 20, false}} {
		z := bomb(c.plain)
		zr, err := gzip.NewReader(bytes.NewReader(z))
		if err != nil {
			t.Fatal(err)
		}
		n, err := io.Copy(io.Discard, limitExpansion(zr, int64(len(z)), 100, 1<<20))
		var pe *positionedError
		var ee *errExpansion
		switch {
		case c.cut && (!errors.As(err, &pe) || !errors.As(err, &ee) || n > 1<<20+32<<10):
			t.Errorf("%d bytes from %d compressed: read %d, err %v; want a cut near 1 MiB", c.plain, len(z), n, err)
		case !c.cut && (err != nil || n != int64(c.plain)):
			t.Errorf("%d bytes from %d compressed: read %d, err %v", c.plain, len(z), n, err)
		}
	}
}
