package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/srdpo/srdpo/runners"
	"github.com/srdpo/srdpo/schemas"
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{name: "run", summary: runSummary, run: runRun},
	{name: "score", summary: scoreSummary, run: runScore},
	{name: "train", summary: trainSummary, run: runTrain},
	{name: "eval", summary: evalSummary, run: runEval},
	{name: "gen", summary: genSummary, run: runGen},
	{name: "tokenize", summary: tokenizeSummary, run: runTokenize},
	{name: "render", summary: renderSummary, run: runRender},
	{name: "export", summary: exportSummary, run: runExport},
	{name: "bench", summary: benchSummary, run: runBench},
}

// errUsage marks errors that are the user's to fix; they exit with 2.
var errUsage = errors.New("usage")

func main() {
	code := realMain(os.Args[1:], os.Stdout, os.Stderr)
	if os.Getenv(peakRSSEnv) != "" {
		reportPeakRSS(os.Stderr)
	}
	os.Exit(code)
}

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		usage(stdout)
		return 0
	case "version", "--version":
		fmt.Fprintln(stdout, "srdpo", schemas.ToolVersion)
		return 0
	}
	if strings.HasPrefix(args[0], "-") {
		// A Beam runner starts this binary as its worker with flags only
		// (--worker, --id, --control_endpoint, …); beam.Init then serves
		// the worker and does not return.
		if err := flag.CommandLine.Parse(args); err == nil {
			runners.Init()
		}
		usage(stderr)
		return 2
	}
	for _, c := range commands {
		if c.name != args[0] {
			continue
		}
		err := c.run(args[1:], stdout, stderr)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		default:
			fmt.Fprintln(stderr, "srdpo", c.name+":", err)
			return 1
		}
	}
	fmt.Fprintf(stderr, "srdpo: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "srdpo %s: align language models with Sr-DPO / Sr-IPO (arXiv 2405.21040) and the DPO family\n\n", schemas.ToolVersion)
	fmt.Fprintln(w, "Usage: srdpo <command> [flags]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'srdpo <command> --help' for its flags.")
}

// newFlagSet makes a subcommand's flag set whose --help prints the
// command's own flags first, then the Beam flags users set most. Beam's
// flags are those of the program's global flag set.
func newFlagSet(name, summary string, stdout, stderr io.Writer, beamFlags bool) *flag.FlagSet {
	fs := flag.NewFlagSet("srdpo "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "srdpo %s: %s\n\nFlags:\n", name, summary)
		printFlags(w, fs, func(n string) bool { return flag.CommandLine.Lookup(n) == nil })
		if beamFlags {
			fmt.Fprintln(w, "\nBeam pipeline flags (prism in-process when --runner is absent; all of Beam's flags are accepted):")
			common := map[string]bool{}
			for _, n := range runners.BeamFlagNames {
				common[n] = true
			}
			printFlags(w, fs, func(n string) bool { return common[n] })
		}
	}
	return fs
}

// settings is what every command's configuration is (pipelines' one
// pattern): flags bound by RegisterFlags, checked by Validate.
type settings interface {
	RegisterFlags(*flag.FlagSet)
	Validate() error
}

// parseSettings parses a command's flags into c (and Beam's, when
// beamFlags), starts the runners' filesystems and logging, and validates
// c; a usage error exits with status 2.
func parseSettings(name, summary string, c settings, beamFlags bool, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet(name, summary, stdout, stderr, beamFlags)
	c.RegisterFlags(fs)
	if beamFlags {
		runners.AddBeamFlags(fs)
	}
	if err := parseFlags(fs, args, stdout); err != nil {
		return err
	}
	runners.Init()
	if err := c.Validate(); err != nil {
		return usageError(stderr, fs, err)
	}
	return nil
}

// parseFlags parses args; --help goes to stdout, flag errors to stderr
// with exit status 2.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" || a == "--h" {
			fs.SetOutput(stdout)
		}
	}
	err := fs.Parse(args)
	switch {
	case err == nil && fs.NArg() > 0:
		fmt.Fprintf(fs.Output(), "unexpected argument %q (flags take --name=value)\n", fs.Arg(0))
		return errUsage
	case err == nil, errors.Is(err, flag.ErrHelp):
		return err
	}
	return errUsage // the flag package has printed the error and usage
}

func printFlags(w io.Writer, fs *flag.FlagSet, keep func(string) bool) {
	var names []string
	fs.VisitAll(func(f *flag.Flag) {
		if keep(f.Name) {
			names = append(names, f.Name)
		}
	})
	sort.Strings(names)
	for _, n := range names {
		f := fs.Lookup(n)
		kind, usage := flag.UnquoteUsage(f)
		line := "  --" + n
		if kind != "" {
			line += " " + kind
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, usage)
		switch {
		case f.DefValue == "" || f.DefValue == "false" || f.DefValue == "0":
		case kind == "string":
			fmt.Fprintf(w, " (default %q)", f.DefValue)
		default:
			fmt.Fprintf(w, " (default %s)", f.DefValue)
		}
		fmt.Fprintln(w)
	}
}
