package stages

import (
	"fmt"
	"io"
	"strings"

	"github.com/srdpo/srdpo/bounds"
)

// A compressed corpus may expand at most bounds.ExpansionLimit: a small
// .gz can hold gigabytes of blank lines (a decompression bomb) that would
// keep a job reading and writing dead letters for hours.
const (
	// GzipMaxRatio bounds the decompressed size over the compressed one.
	GzipMaxRatio = bounds.MaxExpansionRatio
	// GzipMinLimit is the least a file may expand to, whatever its size.
	GzipMinLimit = bounds.MinExpansionLimit
)

// errExpansion is a compressed file that expands past its limit.
type errExpansion struct{ compressed, limit int64 }

func (e *errExpansion) Error() string {
	return fmt.Sprintf("a compressed file of %d bytes expands past %d bytes (more than %d:1): a decompression bomb, or a corpus to decompress first", e.compressed, e.limit, GzipMaxRatio)
}

// expansionLimited reads r, the decompressed stream of a file of
// compressed bytes, failing once it has given more than
// max(ratio·compressed, floor) bytes.
type expansionLimited struct {
	r                 io.Reader
	compressed, limit int64
	read              int64
}

func limitExpansion(r io.Reader, compressed, ratio, floor int64) *expansionLimited {
	return &expansionLimited{r: r, compressed: compressed, limit: bounds.ExpansionLimit(compressed, ratio, floor)}
}

func (l *expansionLimited) Read(p []byte) (int, error) {
	if l.read > l.limit {
		return 0, &positionedError{offset: l.read, err: &errExpansion{l.compressed, l.limit}}
	}
	n, err := l.r.Read(p)
	l.read += int64(n)
	if l.read > l.limit {
		return n, &positionedError{offset: l.read, err: &errExpansion{l.compressed, l.limit}}
	}
	return n, err
}

// isGzip tells a gzip-compressed file by its name, as Beam's filesystem
// does when it decompresses.
func isGzip(name string) bool { return strings.HasSuffix(strings.ToLower(name), ".gz") }
