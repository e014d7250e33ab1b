package stages

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
