package model

import (
	"os"
	"sync"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/gobackend"
)

// BackendConfig configures GoMLX's pure-Go backend (XLA's plugin cannot be
// fetched here). The default parallelism uses one core; -1 uses them all,
// measured 2-3x faster on 2 cores (docs/design.md §8). The backend package is
// imported directly because GoMLX's backends/default pulls in the XLA
// auto-installer.
const BackendConfig = "parallelism=-1"

var backend struct {
	once sync.Once
	b    compute.Backend
	err  error
}

// Backend returns the process's one backend, on which every model
// computation runs; it is made on first use.
func Backend() (compute.Backend, error) {
	backend.once.Do(func() {
		// The Go backend prints its parallelism setting on standard
		// output, which is srdpo's output (figures, summaries): hide that
		// one line, once, before any other output of the process's work.
		stdout := os.Stdout
		if null, err := os.Open(os.DevNull); err == nil {
			os.Stdout = null
			defer func() { os.Stdout = stdout; null.Close() }()
		}
		backend.b, backend.err = gobackend.New(BackendConfig)
	})
	return backend.b, backend.err
}
