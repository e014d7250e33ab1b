package stages

import (
	"strings"
	"testing"
)

// A record holding half a surrogate pair is a dead letter naming the
// field, not a row whose text silently became U+FFFD; a whole pair is
// text like any other.
func TestUnpairedSurrogateIsADeadLetter(t *testing.T) {
	o := parseOptions{Format: FormatAuto, Template: builtinTemplates[DefaultChatTemplate], IDField: "id", OffsetField: "offset"}
	for raw, field := range map[string]string{
		`{"prompt": "Q\ud800", "chosen": " a", "rejected": " b"}`:                                                      "prompt",
		`{"prompt": "Q", "chosen": " a\udfff", "rejected": " b"}`:                                                      "chosen",
		`{"chosen": [{"role": "user", "content": "x\ud83d"}, {"role": "assistant", "content": "y"}], "rejected": "z"}`: "chosen",
	} {
		_, err := parseRecord([]byte(raw), o)
		if err == nil || err.reason != ReasonUnpairedSurrogate || !strings.Contains(err.detail, `"`+field+`"`) {
			t.Errorf("%s: %v, want %s naming %q", raw, err, ReasonUnpairedSurrogate, field)
		}
	}
	p, err := parseRecord([]byte(`{"prompt": "Q \ud83d\ude00", "chosen": " a", "rejected": " b"}`), o)
	if err != nil || p.Prompt != "Q 😀" {
		t.Errorf("a surrogate pair: %q, %v", p.Prompt, err)
	}
}
