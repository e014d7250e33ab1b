package schemas

import (
	"strings"
	"testing"
)

// A file's decoding may hold at most the expansion limit at once (256 MiB
// for a small file): past it the allocation is refused, and the reader's
// panic is the file's error. Freed buffers count no more.
func TestFileAllocatorRefusesPastTheLimit(t *testing.T) {
	read := func(sizes ...int) (err error) {
		defer RecoverMalformed(&err, "f.arrow")
		a := FileAllocator(1000)
		for _, n := range sizes {
			a.Free(a.Allocate(n))
		}
		b := a.Allocate(200 << 20)
		b = a.Reallocate(250<<20, b)
		a.Free(b)
		return nil
	}
	if err := read(100<<20, 200<<20); err != nil {
		t.Fatalf("buffers within the limit, each freed: %v", err)
	}
	err := func() (err error) {
		defer RecoverMalformed(&err, "f.arrow")
		a := FileAllocator(1000)
		a.Allocate(200 << 20)
		a.Allocate(100 << 20) // 300 MiB held
		return nil
	}()
	if err == nil || !strings.Contains(err.Error(), "f.arrow") || !strings.Contains(err.Error(), "more than 268435456 bytes at once") {
		t.Fatalf("err = %v", err)
	}
}
