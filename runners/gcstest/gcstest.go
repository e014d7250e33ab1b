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
	port := freePort(t)
	host := serve(t, port, fmt.Sprintf("127.0.0.1:%d", port), buckets)
	t.Setenv("STORAGE_EMULATOR_HOST", host)
	return host
}

// freePort finds a free loopback port: the server must know its own
// address (public host) before it starts, since resumable uploads redirect
// to it.
func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serve starts a fake GCS on the loopback port, with the host its URLs
// name (itself, or a proxy in front of it) and the buckets, stops it after
// the test, and returns its own host:port.
func serve(t testing.TB, port int, public string, buckets []string) string {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:     "http",
		Host:       "127.0.0.1",
		Port:       uint16(port),
		PublicHost: public,
	})
	if err != nil {
		t.Fatalf("starting fake-gcs-server: %v", err)
	}
	t.Cleanup(srv.Stop)
	for _, b := range buckets {
		srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}
