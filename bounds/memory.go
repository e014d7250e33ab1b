package bounds

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// MachineMemory is the memory this process may use, in bytes: the
// machine's (/proc/meminfo's MemTotal), or its cgroup's limit when that is
// lower (a container: cgroup v2's memory.max, v1's memory.limit_in_bytes).
func MachineMemory() (int64, error) {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	total, err := memTotal(string(b))
	if err != nil {
		return 0, err
	}
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		if b, err := os.ReadFile(f); err == nil {
			if limit, ok := cgroupLimit(string(b)); ok {
				total = min(total, limit)
			}
		}
	}
	return total, nil
}

// memTotal reads MemTotal (kB) from /proc/meminfo's text.
func memTotal(meminfo string) (int64, error) {
	for _, line := range strings.Split(meminfo, "\n") {
		rest, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil || kb <= 0 || kb > 1<<50 {
			return 0, fmt.Errorf("/proc/meminfo: MemTotal %q", strings.TrimSpace(rest))
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("/proc/meminfo: no MemTotal line")
}

// cgroupLimit reads a cgroup memory limit file: a byte count, or "max"
// (v2) or a huge number (v1) for none.
func cgroupLimit(text string) (int64, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
	if err != nil || n <= 0 || n >= 1<<60 {
		return 0, false
	}
	return n, true
}
