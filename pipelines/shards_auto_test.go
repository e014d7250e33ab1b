package pipelines

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// --shards auto: the corpus files' size times the output's bytes per
// corpus byte, over --shard-mb, rounded up; a count stays as given.
func TestResolveShards(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.jsonl", "b.jsonl"} {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, 1<<20), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := DefaultIngestConfig()
	c.Corpus, c.Shards, c.ShardMB = []string{filepath.Join(dir, "*.jsonl")}, 0, 1
	for _, tc := range []struct {
		perIn float64
		want  int
	}{{1, 2}, {2.5, 5}, {0.1, 1}} {
		n, size, err := c.ResolveShards(context.Background(), tc.perIn)
		if err != nil || n != tc.want || size != 2<<20 {
			t.Errorf("%g output bytes a corpus byte: %d shards of %d bytes (%v), want %d", tc.perIn, n, size, err, tc.want)
		}
	}
	c.Shards = 7
	if n, _, _ := c.ResolveShards(context.Background(), 1); n != 7 {
		t.Errorf("a given count became %d", n)
	}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	c.RegisterFlags(fs)
	if err := fs.Parse([]string{"--shards", "auto"}); err != nil || c.Shards != 0 {
		t.Errorf("--shards auto: %d, %v", c.Shards, err)
	}
	for _, bad := range []string{"0", "-2", "many"} {
		if err := fs.Parse([]string{"--shards", bad}); err == nil {
			t.Errorf("--shards %s accepted", bad)
		}
	}
}
