package model

import (
	"reflect"
	"testing"
)

func ids(from, to int32) []int32 {
	var out []int32
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func TestTruncation(t *testing.T) {
	tr := Truncation{MaxPromptLength: 4, MaxLength: 7, Prompt: KeepEnd, Response: KeepStart}
	p, r, pc, rc := tr.Apply(ids(0, 6), ids(100, 105))
	if !reflect.DeepEqual(p, ids(2, 6)) || !reflect.DeepEqual(r, ids(100, 103)) || !pc || !rc {
		t.Errorf("keep_end/keep_start: %v %v %v %v", p, r, pc, rc)
	}
	tr.Prompt, tr.Response = KeepStart, KeepEnd
	p, r, pc, rc = tr.Apply(ids(0, 6), ids(100, 105))
	if !reflect.DeepEqual(p, ids(0, 4)) || !reflect.DeepEqual(r, ids(102, 105)) || !pc || !rc {
		t.Errorf("keep_start/keep_end: %v %v", p, r)
	}
	// A short prompt leaves its room to the response; nothing fits → no cut.
	p, r, pc, rc = tr.Apply(ids(0, 2), ids(100, 105))
	if len(p) != 2 || len(r) != 5 || pc || rc {
		t.Errorf("fits: %v %v %v %v", p, r, pc, rc)
	}
	if err := (Truncation{MaxPromptLength: 4, MaxLength: 4, Prompt: KeepEnd, Response: KeepStart}).Validate(); err == nil {
		t.Error("no room for a response, accepted")
	}
	if err := DefaultTruncation.Validate(); err != nil || DefaultTruncation.Mode() != "prompt=keep_end,response=keep_start" {
		t.Error(err)
	}
}
