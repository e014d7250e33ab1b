package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/srdpo/srdpo/bench"
)

const benchSummary = "measure throughput and step times; one JSON object per figure"

func runBench(args []string, stdout, stderr io.Writer) error {
	c := bench.DefaultConfig()
	if err := parseSettings("bench", benchSummary, &c, false, args, stdout, stderr); err != nil {
		return err
	}
	if c.List {
		fmt.Fprintln(stdout, strings.Join(append(bench.Groups(), bench.LargestGroups()...), "\n"))
		return nil
	}
	if c.Figure != "" {
		figs, err := bench.Measure(context.Background(), c.Figure, c.Runs)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		for _, f := range figs {
			if err := enc.Encode(f); err != nil {
				return err
			}
		}
		return nil
	}
	// Each group runs in its own process, so its peak RSS is its own.
	self, err := os.Executable()
	if err != nil {
		return err
	}
	var all []bench.Figure
	began := time.Now()
	for _, group := range c.Figures {
		fmt.Fprintf(stderr, "srdpo bench: measuring %s…\n", group)
		cmd := exec.Command(self, "bench", "--figure", group, "--runs", fmt.Sprint(c.Runs))
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, stderr
		err := cmd.Run()
		rss := float64(cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) / 1024 // KiB → MiB
		if killed(cmd.ProcessState) {
			// The kernel's OOM killer: the figure is that the group does
			// not fit on this machine, not a failed bench.
			fits := false
			f := bench.Figure{Name: group, Fits: &fits, PeakRSSMiB: rss, Note: "killed by SIGKILL (the kernel's OOM killer, most likely)"}
			line, _ := json.Marshal(f)
			fmt.Fprintln(stdout, string(line))
			all = append(all, f)
			continue
		}
		if err != nil {
			return fmt.Errorf("figure %s: %w", group, err)
		}
		sc := bufio.NewScanner(&buf)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if !bytes.HasPrefix(sc.Bytes(), []byte("{")) {
				continue // not a figure
			}
			var f bench.Figure
			if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
				return fmt.Errorf("figure %s printed %q: %w", group, sc.Text(), err)
			}
			f.PeakRSSMiB = rss
			line, _ := json.Marshal(f)
			fmt.Fprintln(stdout, string(line))
			all = append(all, f)
		}
	}
	if err := os.MkdirAll(filepath.Dir(c.Out), 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(all, "", "  ")
	if err := os.WriteFile(c.Out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "srdpo bench: %d figures in %s, %s\n", len(all), c.Out, time.Since(began).Round(time.Second))
	return nil
}

// killed is whether a child ended on SIGKILL, the kernel's OOM killer's
// signal.
func killed(ps *os.ProcessState) bool {
	ws, ok := ps.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}
