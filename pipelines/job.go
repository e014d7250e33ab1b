package pipelines

import (
	"context"
	"io"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/srdpo/srdpo/runners"
	"github.com/srdpo/srdpo/stages/shardio"
)

// RunJob runs a pipeline that writes the shard sets under outputs on the
// chosen runner, the one way every command runs a job that writes: the
// manifests standing before it are recorded and, when it fails, what it
// wrote is removed, the sets as one output (shardio.GuardOutputs), so a
// failed job leaves the earlier complete sets or nothing. Its result
// carries the job's counters (stages.Counters).
func RunJob(ctx context.Context, p *beam.Pipeline, outputs []string, log io.Writer) (beam.PipelineResult, error) {
	var res beam.PipelineResult
	err := shardio.GuardOutputs(ctx, outputs, log, func() error {
		var err error
		res, err = runners.Run(ctx, p)
		return err
	})
	return res, err
}
