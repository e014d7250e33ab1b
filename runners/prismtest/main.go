package prismtest

import (
	"os"
	"testing"

	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/srdpo/srdpo/runners"
)

// Main is the TestMain of a package whose tests run pipelines on prism:
// it refuses another default runner, quiets prism's logs of the failures
// the tests expect (SRDPO_TEST_LOGS=1 shows them), and runs the tests.
func Main(m *testing.M) {
	if runners.Default != "prism" {
		panic("tests run on prism")
	}
	if os.Getenv("SRDPO_TEST_LOGS") == "" {
		beamlog.LogLevel = "error" // beam.Init sets up slog from it
	}
	ptest.Main(m)
}
