package shardio

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
)

// writers counts this process's shard writers at work, so that the
// cleanup after a failed job can wait for them: a runner reports a job
// failed while other bundles of it may be mid-write, and a write that
// lands after the cleanup would leave part of a set.
type writers struct {
	mu     sync.Mutex
	idle   *sync.Cond
	active int
	halted bool
}

var shardWriters = func() *writers { w := &writers{}; w.idle = sync.NewCond(&w.mu); return w }()

func (w *writers) start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.halted {
		return fmt.Errorf("shard writes are halted: the job failed")
	}
	w.active++
	return nil
}

func (w *writers) end() {
	w.mu.Lock()
	w.active--
	w.mu.Unlock()
	w.idle.Broadcast()
}

// GuardOutputs runs job, a pipeline that writes the shard sets under
// prefixes, and owns what it leaves: the manifests standing before it are
// recorded, and after a failure this process's writers are halted (those
// at work finish first) and what the job wrote is removed
// (removeUnfinished), the sets as one output — where one set is gone, all
// go. A failed job thus leaves the earlier complete sets, as they were, or
// nothing. Problems while cleaning up are written to log; job's error is
// returned.
func GuardOutputs(ctx context.Context, prefixes []string, log io.Writer, job func() error) error {
	before := map[string][]byte{}
	for _, prefix := range prefixes {
		before[prefix] = manifestBytes(ctx, prefix)
	}
	err := job()
	if err == nil {
		return nil
	}
	resume := haltWrites()
	defer resume()
	clean := func(prefix string, before []byte) {
		if cerr := removeUnfinished(ctx, prefix, before); cerr != nil {
			fmt.Fprintf(log, "srdpo: cleaning up %s: %v\n", prefix, cerr)
		}
	}
	gone := false
	for _, prefix := range prefixes {
		clean(prefix, before[prefix])
		gone = gone || manifestBytes(ctx, prefix) == nil
	}
	if gone {
		for _, prefix := range prefixes {
			clean(prefix, nil)
		}
	}
	return err
}

// haltWrites stops this process's shard writers — those at work finish,
// new ones fail — and returns once none is at work, with the function that
// lets writers start again.
func haltWrites() (resume func()) {
	w := shardWriters
	w.mu.Lock()
	w.halted = true
	for w.active > 0 {
		w.idle.Wait()
	}
	w.mu.Unlock()
	return func() {
		w.mu.Lock()
		w.halted = false
		w.mu.Unlock()
	}
}

// removeUnfinished removes what a failed job left under prefix. A runner
// may go on running the stages after the one that failed, so the job can
// even have written a manifest — of a set missing the failed bundle's
// rows: a manifest other than the one that stood before the job (before)
// goes. Then temporary files go, and shards too where no manifest stands
// (the job had begun replacing the set: its writers remove the earlier
// manifest first). A failed job thus leaves the earlier complete set, as
// it was, or nothing.
func removeUnfinished(ctx context.Context, prefix string, before []byte) error {
	fs, err := filesystem.New(ctx, prefix)
	if err != nil {
		return err
	}
	defer fs.Close()
	standing := manifestBytes(ctx, prefix)
	if standing != nil && !bytes.Equal(standing, before) {
		if err := removeManifest(ctx, prefix); err != nil {
			return err
		}
		standing = nil
	}
	if err := removeRuns(ctx, prefix); err != nil {
		return err
	}
	names, err := fs.List(ctx, prefix+"-*")
	if err != nil {
		return fmt.Errorf("listing %s-*: %w", prefix, err)
	}
	for _, name := range names {
		if !isShardOf(prefix, name) {
			continue
		}
		if strings.Contains(name, ".tmp-") || standing == nil {
			if err := RemoveFile(ctx, fs, name); err != nil {
				return err
			}
		}
	}
	return nil
}
