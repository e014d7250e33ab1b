// Package gcstest starts an in-process fake-gcs-server for tests and points
// Beam's gs:// filesystem at it through STORAGE_EMULATOR_HOST.
package gcstest

import (
	"fmt"
	"net"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// Start serves a fake GCS on a free loopback port with the given buckets,
// sets STORAGE_EMULATOR_HOST for the test, and stops the server after it.
// It returns the server's host:port.
func Start(t testing.TB, buckets ...string) string {
	t.Helper()
	// The server must know its own address (public host) before it starts,
	// since resumable uploads redirect to it: find a free port first.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	host := fmt.Sprintf("127.0.0.1:%d", port)
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:     "http",
		Host:       "127.0.0.1",
		Port:       uint16(port),
		PublicHost: host,
	})
	if err != nil {
		t.Fatalf("starting fake-gcs-server: %v", err)
	}
	t.Cleanup(srv.Stop)
	for _, b := range buckets {
		srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	t.Setenv("STORAGE_EMULATOR_HOST", host)
	return host
}
