package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"text/tabwriter"
	"time"

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
  procshare shm ls [-a] [--json]
                             list the named segments procshare programs created
                             (-a: every segment, Python's too; creator unknown: pid 0;
                             --json: a JSON array, see below)
  procshare shm rm NAME...   remove named segments (and their metadata)
  procshare shm rm -dead [-all-users]
                             remove every listed segment of yours whose creator
                             has exited (-all-users: everybody's, as root)

Named segments live in %s. "ls" shows those with a procshare metadata
file (segments created by Python or other programs are not listed): name,
size in bytes, owner, creator pid, whether the creator still runs,
creation time, and a note on any problem. A size of "-" means the segment
is gone and only its metadata is left.

Any local user can write in that directory, so a metadata file is trusted
only if it is a regular file (not a symbolic link, FIFO or device) of at
most 64 KiB owned by the segment's owner; otherwise the segment is listed
with pid 0, alive "?" and the reason in NOTE, and "rm -dead" leaves it
alone. "rm -dead" removes only segments owned by you (by root when run as
root) unless -all-users is given. Names that contain spaces, control
characters or invalid UTF-8 are printed quoted, with Go escapes.

"ls --json" prints a JSON array with one object per segment:

  {"name": "psm_1a2b", "size": 4096, "uid": 1000, "owner": "ann",
   "pid": 4242, "alive": true, "created": "2025-01-02T15:04:05Z", "note": ""}

"size" is null when only the metadata is left, "uid" null when unknown,
"owner" null when the uid has no user name, "alive" null when the creator is unknown (pid 0), "created" null
when unknown; names and notes are as found (invalid UTF-8 replaced by
U+FFFD), with JSON's escapes.
`

// shmCommand runs "procshare shm". Output and help go to stdout.
func shmCommand(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	help := fmt.Sprintf(shmUsage, shm.Dir())
	if len(args) == 0 {
		return usagef("missing subcommand (ls or rm)")
	}
	switch args[0] {
	case "ls":
		fs := flag.NewFlagSet("shm ls", flag.ContinueOnError)
		all := fs.Bool("a", false, "list every segment, not only procshare's")
		asJSON := fs.Bool("json", false, "print a JSON array (see above) instead of a table")
		if err := parseFlags(fs, args[1:], stdout, help+"\nflags of ls:\n"); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return usagef("ls takes no arguments, got %q", fs.Args())
		}
		return shmList(stdout, *all, *asJSON)
	case "rm":
		fs := flag.NewFlagSet("shm rm", flag.ContinueOnError)
		dead := fs.Bool("dead", false, "remove every segment of yours whose creator has exited")
		allUsers := fs.Bool("all-users", false, "with -dead: every user's segments, not only yours")
		if err := parseFlags(fs, args[1:], stdout, help+"\nflags of rm:\n"); err != nil {
			return err
		}
		if *allUsers && !*dead {
			return usagef("rm: -all-users needs -dead")
		}
		if fs.NArg() == 0 && !*dead {
			return usagef("rm: no segment names given")
		}
		return shmRemove(ctx, fs.Args(), *dead, *allUsers, stdout)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, help)
		return errHelp
	}
	return usagef("unknown subcommand %q (want ls or rm)", args[0])
}

// shmEntry is one segment of shm ls --json; nil fields are unknown.
type shmEntry struct {
	Name    string  `json:"name"`
	Size    *int64  `json:"size"`
	UID     *int    `json:"uid"`
	Owner   *string `json:"owner"`
	PID     int     `json:"pid"`
	Alive   *bool   `json:"alive"`
	Created *string `json:"created"`
	Note    string  `json:"note"`
}

// shmList prints the segments that shm.List (or with all, shm.ListAll)
// finds: a table, or with asJSON a JSON array of shmEntry.
func shmList(stdout io.Writer, all, asJSON bool) error {
	list := shm.List
	if all {
		list = shm.ListAll
	}
	infos, err := list()
	if err != nil {
		return err
	}
	if asJSON {
		entries := []shmEntry{}
		for _, in := range infos {
			e := shmEntry{Name: in.Name, PID: in.PID}
			if in.Size >= 0 {
				e.Size = &in.Size
			}
			if in.UID >= 0 {
				e.UID = &in.UID
				if u, err := user.LookupId(strconv.Itoa(in.UID)); err == nil {
					e.Owner = &u.Username
				}
			}
			if in.PID != 0 || in.Alive {
				alive := in.Alive
				e.Alive = &alive
			}
			if !in.Created.IsZero() {
				c := in.Created.Format(time.RFC3339)
				e.Created = &c
			}
			var me *shm.MetaError
			if errors.As(in.Err, &me) {
				e.Note = me.Reason
			}
			entries = append(entries, e)
		}
		return writeJSON(stdout, entries)
	}
	owners := map[int]string{}
	tw := tabwriter.NewWriter(stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSIZE\tOWNER\tPID\tALIVE\tCREATED\tNOTE")
	for _, in := range infos {
		size := "-"
		if in.Size >= 0 {
			size = fmt.Sprint(in.Size)
		}
		owner, ok := owners[in.UID]
		if !ok {
			owner = ownerName(in.UID)
			owners[in.UID] = owner
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
		note := ""
		var me *shm.MetaError
		if errors.As(in.Err, &me) {
			note = text(me.Reason)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", cell(in.Name), size, owner, in.PID, alive, created, note)
	}
	return tw.Flush()
}

// ownerName returns the user name of uid, or the number where it has
// none; "-" for an unknown owner (-1).
func ownerName(uid int) string {
	if uid < 0 {
		return "-"
	}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return cell(u.Username)
	}
	return strconv.Itoa(uid)
}

// shmRemove removes each name (all of them, reporting every failure) and,
// with dead, every listed segment whose creator has exited: the caller's
// own (owned by the effective uid), or everybody's with allUsers.
// Segments whose metadata is not trusted are never removed as dead.
func shmRemove(ctx context.Context, names []string, dead, allUsers bool, stdout io.Writer) error {
	if dead {
		infos, err := shm.List()
		if err != nil {
			return err
		}
		me := os.Geteuid()
		for _, in := range infos {
			// PID 0: unreadable or untrusted metadata, creator unknown.
			if in.Err == nil && !in.Alive && in.PID > 0 && (allUsers || in.UID == me) {
				names = append(names, in.Name)
			}
		}
	}
	var errs []error
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if err := shm.Remove(name); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintf(stdout, "removed %s\n", cell(name))
	}
	return errors.Join(errs...)
}
