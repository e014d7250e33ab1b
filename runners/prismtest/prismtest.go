// Package prismtest stands up, for tests, what a remote Beam deployment
// has: Beam's standalone prism job server and a Go SDK worker pool (Beam's
// boot program with --worker_pool, as on Flink on Kubernetes), both built
// from the Beam module this project pins and run on loopback. Pipelines
// submitted with --runner=universal --environment_type=EXTERNAL then run in
// separate worker processes, as they would on a cluster.
package prismtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// WorkerPoolPort is where Beam's boot program serves its worker pool; the
// port is fixed in Beam's code.
const WorkerPoolPort = 50000

// GoBuild builds pkg into dir with the toolchain that built the test, so
// GOEXPERIMENT and the Go version match, and returns the binary's path.
func GoBuild(t testing.TB, dir, name, pkg string, env ...string) string {
	t.Helper()
	out := filepath.Join(dir, name)
	//lint:ignore SA1019 the toolchain that built this test binary is the one wanted (its Go version and GOEXPERIMENT), not the go on PATH
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, stderr.String())
	}
	return out
}

// Cluster is a running job server and worker pool.
type Cluster struct {
	Endpoint   string // job service, for --endpoint
	WorkerPool string // for --environment_config with EXTERNAL
}

// Flags are the Beam flags that submit a pipeline to the cluster.
func (c Cluster) Flags() []string {
	return []string{"--runner=universal", "--endpoint=" + c.Endpoint,
		"--environment_type=EXTERNAL", "--environment_config=" + c.WorkerPool}
}

// Start builds and starts prism and the worker pool; both stop when the
// test ends. workerEnv is added to the workers' environment (for example
// STORAGE_EMULATOR_HOST). Their logs go to files in dir, named in failures.
func Start(t testing.TB, dir string, workerEnv ...string) Cluster {
	t.Helper()
	// 50000 lies in Linux's ephemeral range: a connection of another test
	// package running alongside can hold it for a moment. Wait it out.
	for deadline := time.Now().Add(time.Minute); !free(WorkerPoolPort); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("port %d, where Beam's worker pool must listen, has been in use for a minute", WorkerPoolPort)
		}
	}
	prism := GoBuild(t, dir, "prism", "github.com/apache/beam/sdks/v2/go/cmd/prism")
	boot := GoBuild(t, dir, "boot", "github.com/apache/beam/sdks/v2/go/container")
	jobPort := freePort(t)
	start(t, dir, "prism", nil, prism, fmt.Sprintf("--job_port=%d", jobPort), "--serve_http=false")
	start(t, dir, "boot", workerEnv, boot, "--worker_pool")
	c := Cluster{Endpoint: fmt.Sprintf("localhost:%d", jobPort), WorkerPool: fmt.Sprintf("localhost:%d", WorkerPoolPort)}
	waitListening(t, dir, c.Endpoint)
	waitListening(t, dir, c.WorkerPool)
	return c
}

// start runs a server in its own process group, so that stopping it also
// stops the workers it spawned.
func start(t testing.TB, dir, name string, env []string, bin string, args ...string) {
	t.Helper()
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		logf.Close()
	})
}

func waitListening(t testing.TB, dir, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s after 30s; see the logs in %s", addr, dir)
}

func free(port int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("localhost:%d", port))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "localhost:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
