package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/procshare/procshare/shm"
)

func init() {
	register(command{
		name:    "shm",
		summary: "list (ls) or remove (rm) named shared-memory segments",
		run: func(ctx context.Context, args []string) error {
			return shmCommand(ctx, args, os.Stdout, os.Stderr)
		},
	})
}

const shmUsage = `usage:
  procshare shm ls [-a]      list the named segments procshare programs created
                             (-a: every segment, Python's too; creator unknown: pid 0)
  procshare shm rm NAME...   remove named segments (and their metadata)
  procshare shm rm -dead     remove every listed segment whose creator has exited

Named segments live in %s. "ls" shows those with a procshare metadata
file (segments created by Python or other programs are not listed): name,
size in bytes, creator pid, whether the creator still runs, creation time.
A size of "-" means the segment is gone and only its metadata is left.
`

// shmCommand runs "procshare shm". Output goes to stdout, usage to stderr.
func shmCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage := func() { fmt.Fprintf(stderr, shmUsage, shm.Dir()) }
	if len(args) == 0 {
		usage()
		return errors.New("missing subcommand (ls or rm)")
	}
	switch args[0] {
	case "ls":
		fs := flag.NewFlagSet("shm ls", flag.ContinueOnError)
		fs.SetOutput(stderr)
		fs.Usage = usage
		all := fs.Bool("a", false, "list every segment, not only procshare's")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("ls takes no arguments, got %q", fs.Args())
		}
		return shmList(stdout, *all)
	case "rm":
		fs := flag.NewFlagSet("shm rm", flag.ContinueOnError)
		fs.SetOutput(stderr)
		fs.Usage = usage
		dead := fs.Bool("dead", false, "remove every segment whose creator has exited")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return shmRemove(ctx, fs.Args(), *dead, stdout)
	case "-h", "-help", "--help", "help":
		usage()
		return nil
	}
	usage()
	return fmt.Errorf("unknown subcommand %q (want ls or rm)", args[0])
}

func shmList(stdout io.Writer, all bool) error {
	list := shm.List
	if all {
		list = shm.ListAll
	}
	infos, err := list()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSIZE\tPID\tALIVE\tCREATED")
	for _, in := range infos {
		size := "-"
		if in.Size >= 0 {
			size = fmt.Sprint(in.Size)
		}
		alive := "no"
		switch {
		case in.Alive:
			alive = "yes"
		case in.PID == 0:
			alive = "?"
		}
		created := "-"
		if !in.Created.IsZero() { // modification time for other programs' segments
			created = in.Created.Format("2006-01-02T15:04:05Z07:00")
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", in.Name, size, in.PID, alive, created)
	}
	return tw.Flush()
}

// shmRemove removes each name (all of them, reporting every failure) and,
// with dead, every listed segment whose creator has exited.
func shmRemove(ctx context.Context, names []string, dead bool, stdout io.Writer) error {
	if len(names) == 0 && !dead {
		return errors.New("rm: no segment names given")
	}
	if dead {
		infos, err := shm.List()
		if err != nil {
			return err
		}
		for _, in := range infos {
			if !in.Alive && in.PID > 0 { // PID 0: unreadable metadata, creator unknown
				names = append(names, in.Name)
			}
		}
	}
	var errs []error
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := shm.Remove(name); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(stdout, "removed %s\n", name)
	}
	return errors.Join(errs...)
}
