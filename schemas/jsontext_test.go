package schemas

import "testing"

func TestUnpairedSurrogate(t *testing.T) {
	for raw, want := range map[string]int{
		`"a\ud800"`:                   2,  // high surrogate alone
		`"\udc00x"`:                   1,  // low surrogate alone
		`"ok \ud83d\ude00 emoji"`:     -1, // a pair is one character
		`"\\ud800 is text"`:           -1, // an escaped backslash, then text
		`{"a": "x", "b": ["\ud83d"]}`: 18,
		`"\ud800\u0041"`:              1, // followed by a non-surrogate escape
	} {
		_, at, found := UnpairedSurrogate([]byte(raw))
		if (want < 0) != !found || (found && at != want) {
			t.Errorf("%s: found %v at %d, want %d", raw, found, at, want)
		}
	}
}
