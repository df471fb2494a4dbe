package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"

	"github.com/keyrate/keyrate/report"
)

// Exit codes, a contract with cron jobs and scripts.
const (
	exitOK        = 0
	exitRuntime   = 1 // unreadable input, corrupt stream, output failure
	exitUsage     = 2
	exitMalformed = 3 // malformed-line ratio above --max-bad-ratio
	exitSkipped   = 4 // --strict-exit and --skip-corrupt skipped some input
	exitLocked    = 5 // another run holds the --out directory's lock
	// A run stopped by a signal exits 128+N: 130 for SIGINT, 143 for
	// SIGTERM (see signalError).
)

// version is set at build time with -ldflags "-X main.version=..."; when
// it is not, it comes from the build info (see versionOf).
var version = ""

func keyrateVersion() string {
	if version != "" {
		return version
	}
	bi, _ := debug.ReadBuildInfo()
	return versionOf(bi)
}

// versionOf names a build: its module version (a release tag, or the
// pseudo-version Go derives from the commit when it stamps version
// control information), else the commit it was built from ("dirty" when
// the checkout had changes), else "dev". The manifest and every Parquet
// footer carry it, so a report says which code wrote it.
func versionOf(bi *debug.BuildInfo) string {
	if bi == nil {
		return "dev"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	v := "dev+" + rev[:min(12, len(rev))]
	if dirty {
		v += "-dirty"
	}
	return v
}

// exitError carries the exit code an error maps to.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageErrorf(format string, a ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

// A command is one verb of keyrate ('keyrate analyze', 'keyrate policy
// check'): it parses its own arguments and runs. Commands are tested by
// calling run with an argument slice.
type command struct {
	name  string
	usage string // the verb's line in the root usage
	run   func(ctx context.Context, inv *invocation, args []string) error
}

// commands are keyrate's verbs, in the order the root usage lists them.
var commands = []command{
	{"analyze", "analyze [flags] PATH...   count requests per key and find limit violations", runAnalyze},
	{"policy", "policy check FILE         validate a policy file of plans and limits", runPolicy},
	{"dataset", "dataset ls|forget DIR ...  list a --partition day dataset's inputs and dates, or take inputs back", runDataset},
}

// invocation is what every command works with besides its arguments.
type invocation struct {
	env    env
	diag   *diag
	stdout io.Writer
	stderr io.Writer
}

func rootUsage() string {
	var b strings.Builder
	b.WriteString("keyrate audits API keys' request rates from HTTPS access logs.\n\nUsage:\n")
	for _, c := range commands {
		b.WriteString("  keyrate " + c.usage + "\n")
	}
	b.WriteString("  keyrate --help                    this help\n")
	b.WriteString("  keyrate --version                 print the version\n")
	b.WriteString("\nRun 'keyrate analyze --help' for the analyze flags and examples.\n")
	return b.String()
}

// env is what a run works through besides its arguments and streams.
// Tests replace parts of it to inject faults.
type env struct {
	// outputFS is what reports are written, and --out recovered,
	// through.
	outputFS report.FS
}

// osEnv is the operating system's env.
func osEnv() env { return env{outputFS: report.OSFS{}} }

// run executes one keyrate invocation and returns its exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runIn(ctx, osEnv(), args, stdout, stderr)
}

// runIn is run working through e.
func runIn(ctx context.Context, e env, args []string, stdout, stderr io.Writer) int {
	inv := &invocation{env: e, diag: newDiag(stderr), stdout: stdout, stderr: stderr}
	err := dispatch(ctx, inv, args)
	if err == nil {
		return exitOK
	}
	code := exitRuntime
	var ee *exitError
	if se := interruption(ctx); se != nil {
		err, code = se, se.exitCode()
	} else if errors.As(err, &ee) {
		code = ee.code
	}
	inv.diag.log.Error(err.Error())
	if code == exitUsage && !inv.diag.json {
		fmt.Fprintf(stderr, "Run '%s' for usage.\n", helpCommand(args))
	}
	return code
}

// helpCommand is the help that explains args' command: 'keyrate analyze
// --help' lists the analyze flags, which 'keyrate --help' does not.
func helpCommand(args []string) string {
	if len(args) > 0 {
		for _, c := range commands {
			if c.name == args[0] {
				return "keyrate " + c.name + " --help"
			}
		}
	}
	return "keyrate --help"
}

func dispatch(ctx context.Context, inv *invocation, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(inv.stderr, rootUsage())
		return usageErrorf("no command given")
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(inv.stdout, rootUsage())
		return nil
	case "--version", "version":
		fmt.Fprintf(inv.stdout, "keyrate %s\n", keyrateVersion())
		return nil
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, inv, args[1:])
		}
	}
	if strings.HasPrefix(args[0], "-") {
		return usageErrorf("unknown flag %s before the command", args[0])
	}
	return usageErrorf("unknown command %q", args[0])
}

// quietInvocation runs a command with its output thrown away (tests and
// benchmarks).
func quietInvocation() *invocation {
	return &invocation{env: osEnv(), diag: newDiag(io.Discard), stdout: io.Discard, stderr: io.Discard}
}
