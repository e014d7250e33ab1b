package bounds

import "testing"

func TestMemTotalAndCgroupLimit(t *testing.T) {
	// The head of /proc/meminfo on this project's machine.
	got, err := memTotal("MemTotal:       24586572 kB\nMemFree:        23312412 kB\n")
	if err != nil || got != 24586572*1024 {
		t.Errorf("memTotal: %d, %v; want %d", got, err, 24586572*1024)
	}
	for _, bad := range []string{"", "MemFree: 12 kB\n", "MemTotal: lots kB\n", "MemTotal: -5 kB\n"} {
		if _, err := memTotal(bad); err == nil {
			t.Errorf("memTotal(%q) accepted", bad)
		}
	}
	for text, want := range map[string]int64{"8589934592\n": 8 << 30, "max\n": 0, "9223372036854771712\n": 0, "": 0} {
		n, ok := cgroupLimit(text)
		if n != want || ok != (want > 0) {
			t.Errorf("cgroupLimit(%q) = %d, %v; want %d", text, n, ok, want)
		}
	}
	if n, err := MachineMemory(); err != nil || n < 1<<20 {
		t.Errorf("MachineMemory: %d, %v", n, err)
	}
}
