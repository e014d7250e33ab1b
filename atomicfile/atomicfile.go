// Package atomicfile writes local files so that a reader, or a run that
// resumes after a kill, never sees half of one: the bytes go to a
// temporary file beside the target, which is then renamed over it. It is
// the one such writer for local files (model directories, checkpoints,
// a run's per-seed results); writes through Beam's filesystems, gs://
// included, are stages/shardio's (storage.go).
package atomicfile

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
)

// Write writes data to path atomically, readable by others (0644, as
// os.WriteFile would make it).
func Write(path string, data []byte) error {
	return Stream(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Stream is Write of what write writes, through a buffer, so that a large
// file need not be in memory whole.
func Stream(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := write(bw); err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	// CreateTemp makes the file private (0600).
	if err := tmp.Chmod(0o644); err != nil {
		return fail(err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
