package stages

import (
	"slices"
	"strings"
	"testing"
)

// Given reference columns are read whole or refused: both sums or
// neither, all three id lists or none, finite sums, ids that are token
// ids; without --ref-from-corpus they are ignored.
func TestParseGivenRef(t *testing.T) {
	base := `"prompt": "Q?", "chosen": " yes", "rejected": " no"`
	o := parseOptions{Format: FormatAuto, Template: builtinTemplates[DefaultChatTemplate], IDField: "id", GivenRef: true}
	p, err := parseRecord([]byte(`{`+base+`, "ref_chosen_logps": -1.5, "ref_rejected_logps": -2.25, "prompt_ids": [7, 8], "chosen_ids": [9], "rejected_ids": [10, 11]}`), o)
	if err != nil {
		t.Fatal(err)
	}
	if *p.GivenRefChosen != -1.5 || *p.GivenRefRejected != -2.25 || !slices.Equal(p.GivenPromptIDs, []int32{7, 8}) ||
		!slices.Equal(p.GivenChosenIDs, []int32{9}) || !slices.Equal(p.GivenRejectedIDs, []int32{10, 11}) {
		t.Errorf("read %+v", p)
	}
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
	if p, err := parseRecord([]byte(`{`+base+`, "ref_chosen_logps": -1.5, "ref_rejected_logps": -2.25}`), o); err != nil || p.GivenPromptIDs != nil || p.GivenRefChosen == nil {
		t.Errorf("sums without ids: %+v, %v", p, err)
	}
	plain := o
	plain.GivenRef = false
	if p, err := parseRecord([]byte(`{`+base+`, "ref_chosen_logps": -1.5, "ref_rejected_logps": -2.25}`), plain); err != nil || p.GivenRefChosen != nil {
		t.Errorf("without --ref-from-corpus the columns are ignored: %+v, %v", p, err)
	}
	for _, c := range []struct{ extra, want string }{
		{`"ref_chosen_logps": -1.5`, "given together"},
		{`"ref_chosen_logps": -1.5, "ref_rejected_logps": "x"`, "ref_rejected_logps"},
		{`"ref_chosen_logps": -1.5, "ref_rejected_logps": 1e999`, "ref_rejected_logps"},
		{`"ref_chosen_logps": -1.5, "ref_rejected_logps": -2, "prompt_ids": [1]`, "given together"},
		{`"ref_chosen_logps": -1.5, "ref_rejected_logps": -2, "prompt_ids": [1], "chosen_ids": [-3], "rejected_ids": [2]`, "chosen_ids[0] is -3"},
		{`"ref_chosen_logps": -1.5, "ref_rejected_logps": -2, "prompt_ids": [1], "chosen_ids": [4294967296], "rejected_ids": [2]`, "not a token id"},
		{`"ref_chosen_logps": -1.5, "ref_rejected_logps": -2, "prompt_ids": [1], "chosen_ids": [1.5], "rejected_ids": [2]`, "not a list of integer ids"},
		{`"ref_chosen_logps": -1.5, "ref_rejected_logps": -2, "prompt_ids": [], "chosen_ids": [1], "rejected_ids": [2]`, "prompt_ids is empty"},
	} {
		_, err := parseRecord([]byte(`{`+base+`, `+c.extra+`}`), o)
		if err == nil || err.reason != ReasonBadGivenRef || !strings.Contains(err.detail, c.want) {
			t.Errorf("%s: %v; want %s naming %q", c.extra, err, ReasonBadGivenRef, c.want)
		}
	}
}
