// Command procshare operates procshare's shared objects from the shell:
//
//	procshare serve    run a manager server that Go and Python clients use
//	procshare inspect  list the objects of a running manager
//	procshare shm      list (ls) or remove (rm) named shared-memory segments
//	procshare version  print procshare's version (also --version)
//
// Run "procshare help" for the commands and "procshare help COMMAND" (or
// "procshare COMMAND -h") for each command's flags.
//
// # Conventions
//
// As redis-server and etcd: help asked for (-h, --help, "help") goes to
// stdout and exits 0; a command line that cannot be run (an unknown
// command or flag, a bad flag value, a missing or extra argument) exits 2
// with one line on stderr that names the problem; a failure while running
// exits 1 with one line "procshare COMMAND: error". Results go to stdout
// ("inspect --json" and "shm ls --json" print JSON there), messages to
// stderr.
//
// SIGINT (Ctrl-C) or SIGTERM ends every command at once, with exit status
// 1 and the signal named on stderr; serve stops gracefully, and ignores
// SIGHUP (see "procshare serve -h").
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"
)

// command is one subcommand. Each lives in its own file and adds itself to
// commands from an init function.
type command struct {
	name    string
	summary string

	// run runs the command. SIGINT and SIGTERM cancel ctx (with a cause
	// naming the signal); run should then return promptly. It returns
	// errHelp after printing its help, a *usageError for a command line
	// it cannot run.
	run func(ctx context.Context, args []string) error

	// graceful commands (serve) are waited for however long they take to
	// stop after the signal. Any other command that has not returned
	// interruptGrace after it is abandoned and procshare exits: Ctrl-C
	// must end it even if it is stuck in a system call that ctx cannot
	// interrupt, such as opening a FIFO named on the command line.
	graceful bool
}

// interruptGrace is how long a command that is not graceful may take to
// return after SIGINT or SIGTERM, so that it can report what it did.
const interruptGrace = time.Second

var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

// errHelp is what a command returns once it has printed the help that was
// asked for: procshare exits 0.
var errHelp = errors.New("help requested")

// usageError is a command line that cannot be run: procshare prints it on
// one line and exits 2.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usagef returns a *usageError with a formatted message.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// parseFlags parses args with fs, which prints nothing itself. When help
// is asked for (-h, -help, --help) it prints help and the flags' defaults
// on stdout and returns errHelp; any other error is a *usageError.
func parseFlags(fs *flag.FlagSet, args []string, stdout io.Writer, help string) error {
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, help)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		return errHelp
	}
	if err != nil {
		return &usageError{err}
	}
	return nil
}

func main() {
	os.Exit(run(os.Args[1:]))
}

// Exit statuses.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // the command line cannot be run
)

func run(args []string) int {
	if len(args) == 0 {
		usage(os.Stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(os.Stdout)
		return exitOK
	case "help":
		switch len(args) {
		case 1:
			usage(os.Stdout)
			return exitOK
		case 2:
			if _, ok := commands[args[1]]; ok {
				return run([]string{args[1], "-h"})
			}
			fmt.Fprintf(os.Stderr, "procshare help: unknown command %q (procshare help lists them)\n", args[1])
		default:
			fmt.Fprintf(os.Stderr, "procshare help: want at most one command, got %q\n", args[1:])
		}
		return exitUsage
	case "-version", "--version":
		args = []string{"version"}
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "procshare: unknown command %q (procshare help lists them)\n", args[0])
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- c.run(ctx, args[1:]) }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		if c.graceful {
			err = <-done
			break
		}
		select {
		case err = <-done:
		case <-time.After(interruptGrace):
			err = context.Cause(ctx) // the command is abandoned
		}
	}
	var ue *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "procshare %s: %v (procshare %s -h for help)\n", c.name, err, c.name)
		return exitUsage
	}
	// One line per error, without the package prefix the command's name
	// already implies (report).
	report(os.Stderr, c.name, err)
	return exitError
}

// usage prints procshare's commands.
func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: procshare COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nprocshare help COMMAND (or procshare COMMAND -h) describes a command and its flags.")
}
