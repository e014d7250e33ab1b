// Package atomicfile writes local files so that a reader, or a run that
// resumes after a kill, never sees half of one: the bytes go to a
// temporary file beside the target, which is then renamed over it. It is
// the one such writer for local files (model directories, checkpoints,
// a run's per-seed results); writes through Beam's filesystems, gs://
// included, are stages' (storage.go).
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write writes data to path atomically, readable by others (0644, as
// os.WriteFile would make it).
func Write(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	fail := func(err error) error {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if _, err := tmp.Write(data); err != nil {
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
