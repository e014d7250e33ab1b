//go:build !unix

package stages

import "os"

// mapFile reads a local file into memory where the system has no mmap
// that Go's syscall package offers.
func mapFile(path string) ([]byte, func() error, error) {
	data, err := os.ReadFile(path)
	return data, func() error { return nil }, err
}
