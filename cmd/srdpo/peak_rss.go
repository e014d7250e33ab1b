package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// peakRSSEnv, when set, makes srdpo end by writing its peak resident
// memory (VmHWM) to stderr. Tests read it there: the rusage a parent gets
// of a child it started counts the parent's own memory at the fork.
const peakRSSEnv = "SRDPO_REPORT_PEAK_RSS"

// reportPeakRSS writes "peak_rss_kib N" from /proc/self/status.
func reportPeakRSS(w io.Writer) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			var kib int64
			fmt.Sscan(string(bytes.TrimSuffix(bytes.TrimSpace(v), []byte("kB"))), &kib)
			fmt.Fprintf(w, "peak_rss_kib %d\n", kib)
		}
	}
}
