// Command procshare operates procshare's shared objects from the shell:
//
//	procshare serve    run a manager server that Go and Python clients use
//	procshare inspect  list the objects of a running manager
//	procshare shm      list (ls) or remove (rm) named shared-memory segments
//
// Run "procshare help" or "procshare COMMAND -h" for each command's flags.
//
// SIGINT (Ctrl-C) or SIGTERM ends every command at once, with exit status
// 1 and the signal named on stderr; serve stops gracefully (see "procshare
// serve -h").
package main

import (
	"context"
	"fmt"
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
	// naming the signal); run should then return promptly.
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

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "procshare: unknown command %q\n", args[0])
		usage()
		return 2
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
	if err != nil {
		report(os.Stderr, c.name, err)
		return 1
	}
	return 0
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: procshare COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, commands[n].summary)
	}
}
