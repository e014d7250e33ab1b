package shardio

import (
	"reflect"
	"testing"

	"github.com/srdpo/srdpo/runners/gcstest"
)

// Shards written to and read from a GCS that fails a fifth of its
// requests (503s, resets before and after the server acts, cut bodies):
// the set is complete and equal to the rows, and the faults were made.
func TestWriteShardsOnFlakyGCS(t *testing.T) {
	proxy := gcstest.StartFlaky(t, 3, "srdpo-test")
	proxy.SetRate(0.2)
	prefix := "gs://srdpo-test/runs/prefs"
	rows := testPreferences(9)
	writePrefs(t, prefix, rows, WithShards(3))
	writePrefs(t, prefix, rows, WithShards(2))
	if m, got := readBack(t, prefix); !reflect.DeepEqual(got, rows) || m.Rows != 9 {
		t.Fatalf("gs round trip: %+v", got)
	}
	if proxy.Injected() == 0 {
		t.Fatalf("no fault was injected: %v", proxy)
	}
	t.Log(proxy)
}

// A delete whose answer is lost after GCS acted on it: the rename that
// finalises a shard (a copy, then that delete) is retried, finds its
// source gone and its target in place, and is done; removing the shards
// of an earlier set retries the delete, finds nothing, and counts it as
// removed. Both writes end with the whole set and nothing else under the
// prefix.
func TestWriteShardsSurviveLostDeleteAnswers(t *testing.T) {
	proxy := gcstest.StartFlaky(t, 4, "srdpo-test")
	prefix := "gs://srdpo-test/lost/prefs"
	rows := testPreferences(9)
	proxy.LoseAnswers("DELETE", 1)
	writePrefs(t, prefix, rows, WithShards(3))
	if proxy.ResetAfter.Load() != 1 {
		t.Fatalf("the first write lost %d answers, want 1: %v", proxy.ResetAfter.Load(), proxy)
	}
	proxy.LoseAnswers("DELETE", 4)
	writePrefs(t, prefix, rows, WithShards(2))
	if proxy.ResetAfter.Load() != 5 {
		t.Fatalf("the writes lost %d answers, want 5: %v", proxy.ResetAfter.Load(), proxy)
	}
	if m, got := readBack(t, prefix); !reflect.DeepEqual(got, rows) || m.Rows != 9 || len(m.Shards) != 2 {
		t.Fatalf("gs round trip: %d shards, %+v", len(m.Shards), got)
	}
	want := []string{"prefs-00000-of-00002.arrow", "prefs-00001-of-00002.arrow", "prefs.manifest.json"}
	if got := listNames(t, "gs://srdpo-test/lost/*"); !reflect.DeepEqual(got, want) {
		t.Errorf("left under the prefix: %v, want %v", got, want)
	}
	t.Log(proxy)
}
