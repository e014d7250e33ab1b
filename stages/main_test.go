package stages

import (
	"testing"

	"github.com/srdpo/srdpo/runners/prismtest"
)

func TestMain(m *testing.M) { prismtest.Main(m) }
