package main

import (
	"os/exec"
	"testing"
)

// A bench child the kernel's OOM killer ends (SIGKILL) is a figure — the
// group does not fit — while any other failure stays an error.
func TestKilledTellsSIGKILLFromFailure(t *testing.T) {
	for _, c := range []struct {
		script string
		want   bool
	}{{"kill -9 $$", true}, {"kill -15 $$", false}, {"exit 1", false}, {"exit 0", false}} {
		cmd := exec.Command("sh", "-c", c.script)
		_ = cmd.Run()
		if got := killed(cmd.ProcessState); got != c.want {
			t.Errorf("%q: killed %v, want %v", c.script, got, c.want)
		}
	}
}
