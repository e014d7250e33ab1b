package stages

import (
	"os"
	"testing"

	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/srdpo/srdpo/runners"
)

func TestMain(m *testing.M) {
	if runners.Default != "prism" {
		panic("tests run on prism")
	}
	// Prism logs every expected pipeline failure at length; the tests check
	// those errors themselves. SRDPO_TEST_LOGS=1 shows the logs.
	if os.Getenv("SRDPO_TEST_LOGS") == "" {
		beamlog.LogLevel = "error" // beam.Init sets up slog from it
	}
	ptest.Main(m)
}
