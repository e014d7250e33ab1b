package schemas

import (
	"bytes"
	"math"
	"reflect"
	"strings"
	"testing"
)

func f64(v float64) *float64 { return &v }

func samplePreferences() []Row {
	return []Row{
		Preference{ID: "a", Prompt: "2+2?", Chosen: " 4", Rejected: " 5", SourceFormat: "trl_standard",
			ScoreChosen: f64(9), ScoreRejected: f64(1.5)},
		Preference{ID: "b", Prompt: "héllo 世界", Chosen: " ok", Rejected: " no", SourceFormat: "hh_rlhf", Offset: f64(0.25)},
	}
}

func TestRoundTripEveryFormat(t *testing.T) {
	md := NewMetadata().With(KeyAugPrompt, DefaultAugPrompt).With(KeyAugSeparator, DefaultAugSeparator)
	cases := []struct {
		tb   *Table
		rows []Row
	}{
		{Preferences, samplePreferences()},
		{ScoredRows, []Row{Scored{ID: "a", PromptIDs: []int32{1, 2}, AugPromptIDs: []int32{7, 1, 2}, ChosenIDs: []int32{3},
			RejectedIDs: []int32{4, 5}, PromptTokens: 2, AugPromptTokens: 3, ChosenTokens: 1, RejectedTokens: 2,
			PromptTruncated: true, RefLogpChosen: -1.25, RefLogpRejected: -3.5, RefLogpChosenAug: -0.5,
			RefLogpRejectedAug: -4, ScoreChosen: f64(1), ScoreRejected: f64(0)}}},
		{Metrics, []Row{Metric{Split: "train", Step: 3, Epoch: 0.5, Loss: math.Ln2, RewardsAccuracies: 1, DeltaStd: 0.1}}},
		{Evals, []Row{Eval{Policy: "dpo", Benchmark: "gold_reward", Metric: "mean", Value: 0.7, N: 100, Seed: 1}}},
		{Sweeps, []Row{SweepRow{Seed: 2, LabelTemperature: 0.1, Beta: 0.1, Lambda: 0.5, Method: "sr-dpo", Step: 40,
			Benchmark: "gold_reward", Metric: "kl_to_reference", Value: 0.25, N: 200}}},
		{DeadLetters, []Row{DeadLetter{Source: "a.jsonl", Line: 3, Record: 3, Offset: 10, Reason: "malformed_json", Raw: "{"}}},
	}
	for _, c := range cases {
		for _, f := range []Format{FormatArrow, FormatParquet} {
			var buf bytes.Buffer
			if err := WriteFile(&buf, f, c.tb, md, c.rows); err != nil {
				t.Fatalf("%s/%s: write: %v", c.tb.Name, f, err)
			}
			got, gotMD, err := ReadFile(buf.Bytes(), f, c.tb)
			if err != nil {
				t.Fatalf("%s/%s: read: %v", c.tb.Name, f, err)
			}
			if !reflect.DeepEqual(got, c.rows) {
				t.Errorf("%s/%s: got %#v\nwant %#v", c.tb.Name, f, got, c.rows)
			}
			if err := gotMD.Expect(md.With(KeyTable, c.tb.Name).With(KeySchemaVersion, c.tb.Version)); err != nil {
				t.Errorf("%s/%s: %v", c.tb.Name, f, err)
			}
		}
	}
}

func TestEmptyFileKeepsSchemaAndMetadata(t *testing.T) {
	var buf bytes.Buffer
	md := NewMetadata().With(KeyModelFingerprint, "abc")
	if err := WriteFile(&buf, FormatArrow, Preferences, md, nil); err != nil {
		t.Fatal(err)
	}
	rows, gotMD, err := ReadFile(buf.Bytes(), FormatArrow, Preferences)
	if err != nil || len(rows) != 0 || gotMD.Get(KeyModelFingerprint) != "abc" {
		t.Fatalf("rows=%v md=%v err=%v", rows, gotMD, err)
	}
}

func TestJSONLUsesColumnNames(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteFile(&buf, FormatJSONL, Preferences, NewMetadata(), samplePreferences()[:1]); err != nil {
		t.Fatal(err)
	}
	want := `{"aug_prompt":"","chosen":" 4","given_chosen_ids":[],"given_prompt_ids":[],"given_ref_chosen_logps":null,"given_ref_rejected_logps":null,"given_rejected_ids":[],"id":"a","messages":"","offset":null,"prompt":"2+2?","rejected":" 5","score_chosen":9,"score_rejected":1.5,"source_format":"trl_standard"}`
	if got := strings.TrimSpace(buf.String()); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestValidationNamesRowAndColumn(t *testing.T) {
	rows := samplePreferences()
	bad := rows[1].(Preference)
	bad.Rejected = bad.Chosen
	rows[1] = bad
	err := Preferences.ValidateRows(rows)
	if err == nil || err.Error() != `preference: row 1: column "rejected": identical to chosen` {
		t.Fatalf("got %v", err)
	}
	cases := map[string]Row{
		`column "prompt": not valid UTF-8`:                    Preference{ID: "x", Prompt: "\xff", Chosen: "a", Rejected: "b"},
		`column "score_rejected": gold scores must be given`:  Preference{ID: "x", Prompt: "p", Chosen: "a", Rejected: "b", ScoreChosen: f64(1)},
		`column "chosen_tokens": is 2 but the token id list`:  Scored{ID: "x", PromptIDs: []int32{1}, PromptTokens: 1, AugPromptIDs: []int32{1}, AugPromptTokens: 1, ChosenIDs: []int32{1}, ChosenTokens: 2},
		`column "ref_logp_chosen_aug": not finite`:            Scored{ID: "x", PromptIDs: []int32{1}, PromptTokens: 1, AugPromptIDs: []int32{1}, AugPromptTokens: 1, ChosenIDs: []int32{1}, ChosenTokens: 1, RejectedIDs: []int32{1}, RejectedTokens: 1, RefLogpChosenAug: math.NaN()},
		`column "ref_logp_rejected": log-prob sum 0.5 is pos`: Scored{ID: "x", PromptIDs: []int32{1}, PromptTokens: 1, AugPromptIDs: []int32{1}, AugPromptTokens: 1, ChosenIDs: []int32{1}, ChosenTokens: 1, RejectedIDs: []int32{1}, RejectedTokens: 1, RefLogpRejected: 0.5},
		`column "loss": not finite`:                           Metric{Split: "train", Loss: math.Inf(1)},
		`column "split": is "test"`:                           Metric{Split: "test"},
		`column "metric": empty`:                              Eval{Policy: "p", Benchmark: "b"},
	}
	for want, r := range cases {
		tb, _ := Lookup(map[string]string{"Preference": "preference", "Scored": "scored", "Metric": "metrics", "Eval": "eval"}[reflect.TypeOf(r).Name()])
		err := tb.ValidateRows([]Row{r})
		if err == nil || !strings.Contains(err.Error(), "row 0: "+want) {
			t.Errorf("want %q, got %v", want, err)
		}
	}
}

func TestReadRejectsOtherTableAndVersion(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteFile(&buf, FormatArrow, Evals, NewMetadata(), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadFile(buf.Bytes(), FormatArrow, ScoredRows); err == nil || !strings.Contains(err.Error(), `is "eval", want "scored"`) {
		t.Fatalf("got %v", err)
	}
	buf.Reset()
	// A file written by a future srdpo with another schema version.
	future := *Evals
	future.Version = "99"
	if err := WriteFile(&buf, FormatArrow, &future, NewMetadata(), nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadFile(buf.Bytes(), FormatArrow, Evals); err == nil || !strings.Contains(err.Error(), `schema version is "99"`) {
		t.Fatalf("got %v", err)
	}
	if _, _, err := ReadFile([]byte("not arrow"), FormatArrow, Evals); err == nil {
		t.Fatal("garbage read as Arrow")
	}
}

func TestManifestCountsMustAddUp(t *testing.T) {
	m := Manifest{Table: "preference", Rows: 3, Shards: []ManifestShard{{"a", 1}, {"b", 2}}}
	if _, err := ParseManifest(m.Marshal()); err != nil {
		t.Fatal(err)
	}
	m.Rows = 4
	if _, err := ParseManifest(m.Marshal()); err == nil {
		t.Fatal("inconsistent manifest accepted")
	}
}

func TestAugment(t *testing.T) {
	if got := Augment("P:", " ", "x"); got != "P: x" {
		t.Fatal(got)
	}
	if !strings.HasPrefix(DefaultAugPrompt, "Please generate a response with a usefulness rating of 100") || !strings.HasSuffix(DefaultAugPrompt, "Query:") {
		t.Fatal("default p is not the paper's")
	}
}
