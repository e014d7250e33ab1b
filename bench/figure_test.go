package bench

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/srdpo/srdpo/stats"
)

// A figure is one flat JSON object, as bench/pytorch_mix.py reads it
// ("figure", "path", "lengths" at the top), and reads back the same.
func TestFigureJSONIsFlat(t *testing.T) {
	f := Figure{Name: "steps-mix-256", Path: "shared", Unit: "ms", Spread: &stats.Spread{Median: 2, Min: 1, Max: 3, Runs: 5},
		PeakRSSMiB: 512, Setting: Setting{"d": 256.0, "lengths": []any{[]any{1.0, 2.0, 3.0}}}}
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"d":256,"figure":"steps-mix-256","lengths":[[1,2,3]],"max":3,"median":2,"min":1,"path":"shared","peak_rss_mib":512,"runs":5,"unit":"ms"}`
	if string(b) != want {
		t.Fatalf("%s\nwant %s", b, want)
	}
	var back Figure
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, f) {
		t.Fatalf("read back %+v, %v; want %+v", back, err, f)
	}
	fits := false
	b, _ = json.Marshal(Figure{Name: "largest-x", Fits: &fits, Note: "killed"}.value(0))
	if want := `{"figure":"largest-x","fits":false,"note":"killed","value":0}`; string(b) != want {
		t.Errorf("%s, want %s", b, want)
	}
	if _, err := json.Marshal(Figure{Name: "x", Setting: Setting{"unit": "s"}}); err == nil || !strings.Contains(err.Error(), `setting "unit"`) {
		t.Errorf("a setting shadowing a field: %v", err)
	}
}

// Every default group has a function, under a unique name.
func TestGroupsAreUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, g := range Groups() {
		if seen[g] {
			t.Errorf("group %s twice", g)
		}
		seen[g] = true
	}
	if len(seen) != 22 {
		t.Errorf("%d groups, want the 22 of make bench", len(seen))
	}
	if _, err := Measure(context.Background(), "no-such-group", 1); err == nil || !strings.Contains(err.Error(), "unknown figure") {
		t.Errorf("unknown group: %v", err)
	}
}
