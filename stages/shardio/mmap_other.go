//go:build !unix

package shardio

import "os"

// MapFile reads a local file into memory where the system has no mmap
// that Go's syscall package offers.
func MapFile(path string) ([]byte, func() error, error) {
	data, err := os.ReadFile(path)
	return data, func() error { return nil }, err
}
