package runners

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	beamrunners "github.com/apache/beam/sdks/v2/go/pkg/beam/runners"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	// Filesystems: beamx brings local and gs://; memfs:// is for tests and
	// small in-memory jobs.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/memfs"
)

// Init finishes Beam's set-up once flags are parsed (beam.Init), and serves
// as the worker when a runner started this binary as one. Beam logs every
// job step at INFO; srdpo shows warnings and errors unless SRDPO_LOG is
// debug, info, warn or error.
func Init() {
	level := strings.ToLower(os.Getenv("SRDPO_LOG"))
	switch level {
	case "debug", "info", "warn", "error":
	default:
		level = "warn"
		if DryRun() {
			level = "info" // Beam prints the translated job at INFO
		}
	}
	beamlog.LogLevel = level
	beam.Init()
}

// DryRun tells whether --dry_run was given: the Dataflow runner then
// translates and prints the job without submitting it.
func DryRun() bool {
	f := flag.Lookup("dry_run")
	return f != nil && f.Value.String() == "true"
}

// Default is the runner used when --runner is not given.
const Default = "prism"

// Name is the runner a pipeline will run on.
func Name() string {
	if *beamrunners.Runner == "" {
		return Default
	}
	return *beamrunners.Runner
}

// Run executes p on the chosen runner and waits for it.
func Run(ctx context.Context, p *beam.Pipeline) (beam.PipelineResult, error) {
	return beamx.RunWithMetrics(ctx, p)
}

// CheckPath reports a path whose scheme has no registered filesystem, with
// Beam's own advice, instead of the panic Beam's transforms raise later.
func CheckPath(path string) error {
	if path == "" {
		return fmt.Errorf("empty path")
	}
	fs, err := filesystem.New(context.Background(), path)
	if err != nil {
		return err
	}
	return fs.Close()
}

// AddBeamFlags makes Beam's pipeline flags (--runner, --endpoint,
// --environment_type, --project, …), which Beam's packages declare on the
// program's global flag set, parse as part of a subcommand's flag set too.
// The values are shared, so beam.Init() sees what was parsed.
func AddBeamFlags(fs *flag.FlagSet) {
	flag.CommandLine.VisitAll(func(f *flag.Flag) {
		if fs.Lookup(f.Name) == nil {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
}

// BeamFlagNames are the Beam flags a user of srdpo most often sets; --help
// lists these first.
var BeamFlagNames = []string{
	"runner", "endpoint", "environment_type", "environment_config", "job_name",
	"project", "region", "staging_location", "temp_location", "worker_binary",
	"dry_run", "parallelism",
}
