package model

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gomlx/compute/dtypes"

	"github.com/srdpo/srdpo/bounds"
)

// The layout of a GoMLX checkpoint folder (gomlx v0.28.16,
// ml/model/checkpoint/checkpoint.go): checkpoint-*.json lists the
// variables (name, dtype, dimensions, byte position and length) and the
// .bin of the same name holds their bytes, raw or after a header of
// "gomlx_checkpointss", a length byte and "gzip", gzip-compressed.
const (
	gomlxPrefix     = "checkpoint-"
	gomlxJSONSuffix = ".json"
	gomlxBinSuffix  = ".bin"
	gomlxBinHeader  = "gomlx_checkpointss"
	gomlxGzipHeader = "gzip"
	// maxCheckpointJSON bounds the variable list: a model's is ~100 bytes
	// a variable.
	maxCheckpointJSON = 64 << 20
)

// gomlxVar is one variable of a checkpoint's list.
type gomlxVar struct {
	ParameterName string
	Dimensions    []int
	DType         dtypes.DType
	Pos, Length   int
}

// checkCheckpointFiles checks the checkpoint GoMLX would load from dir
// (the last checkpoint-*.json in name order, as its ListCheckpoints picks)
// before GoMLX reads it: GoMLX allocates each variable from the listed
// dimensions and inflates a compressed .bin whole into memory. Every
// dimension is non-negative, each variable's length is its dimensions'
// bytes (without overflow) and follows the previous one, and the .bin
// holds exactly their sum: at most as many bytes as the file, or when
// compressed at most bounds.ExpansionLimit of it, measured by streaming
// without keeping the bytes.
func checkCheckpointFiles(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasPrefix(n, gomlxPrefix) && strings.HasSuffix(n, gomlxJSONSuffix) {
			names = append(names, strings.TrimSuffix(n, gomlxJSONSuffix))
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("%s: no %s*%s file", dir, gomlxPrefix, gomlxJSONSuffix)
	}
	sort.Strings(names)
	base := filepath.Join(dir, names[len(names)-1])
	total, err := checkpointVarBytes(base + gomlxJSONSuffix)
	if err != nil {
		return err
	}
	return checkCheckpointBin(base+gomlxBinSuffix, total)
}

// checkpointVarBytes reads a checkpoint's variable list and returns the
// bytes it declares.
func checkpointVarBytes(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxCheckpointJSON+1))
	if err != nil {
		return 0, err
	}
	if len(b) > maxCheckpointJSON {
		return 0, fmt.Errorf("%s: more than %d bytes of variable list", path, maxCheckpointJSON)
	}
	var list struct{ Variables []gomlxVar }
	if err := json.Unmarshal(b, &list); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	var total int64
	for _, v := range list.Variables {
		size := int64(0)
		if v.DType.IsADType() && v.DType != dtypes.InvalidDType {
			size = int64(v.DType.Size())
		}
		if size <= 0 {
			return 0, fmt.Errorf("%s: variable %q: dtype %v is not one srdpo saves", path, v.ParameterName, v.DType)
		}
		n, ok := size, true
		for _, d := range v.Dimensions {
			if d < 0 {
				ok = false
				break
			}
			hi, lo := bits.Mul64(uint64(n), uint64(d))
			if hi != 0 || lo > 1<<62 {
				ok = false
				break
			}
			n = int64(lo)
		}
		if !ok || int64(v.Length) != n {
			return 0, fmt.Errorf("%s: variable %q: dimensions %v of %v do not make its length %d", path, v.ParameterName, v.Dimensions, v.DType, v.Length)
		}
		if int64(v.Pos) != total {
			return 0, fmt.Errorf("%s: variable %q: at byte %d, want %d (right after the one before)", path, v.ParameterName, v.Pos, total)
		}
		total += n
		if total > 1<<62 {
			return 0, fmt.Errorf("%s: variable %q: the variables add up past 2^62 bytes", path, v.ParameterName)
		}
	}
	return total, nil
}

// checkCheckpointBin checks that a checkpoint's .bin holds exactly total
// bytes of variables.
func checkCheckpointBin(path string, total int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	header := make([]byte, len(gomlxBinHeader)+1+len(gomlxGzipHeader))
	n, _ := io.ReadFull(f, header)
	if n < len(gomlxBinHeader) || !bytes.Equal(header[:len(gomlxBinHeader)], []byte(gomlxBinHeader)) {
		if st.Size() < total {
			return fmt.Errorf("%s: %d bytes, but the variables take %d", path, st.Size(), total)
		}
		return nil
	}
	if n < len(header) || int(header[len(gomlxBinHeader)]) != len(gomlxGzipHeader) || string(header[len(gomlxBinHeader)+1:]) != gomlxGzipHeader {
		return fmt.Errorf("%s: a compressed checkpoint, but not gzip", path)
	}
	limit := bounds.ExpansionLimit(st.Size(), bounds.MaxExpansionRatio, bounds.MinExpansionLimit)
	if total > limit {
		return fmt.Errorf("%s: the variables take %d bytes, more than a compressed file of %d bytes may expand to (%d, %d:1)", path, total, st.Size(), limit, bounds.MaxExpansionRatio)
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	got, err := io.Copy(io.Discard, io.LimitReader(zr, total+1))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if got != total {
		return fmt.Errorf("%s: expands to %d bytes or more, but the variables take %d", path, got, total)
	}
	return nil
}
