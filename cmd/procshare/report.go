package main

import (
	"fmt"
	"io"
	"strings"
)

// packagePrefixes are the prefixes that procshare's packages begin their
// error messages with. The command's own prefix ("procshare shm: ") says
// where an error comes from, so report drops them.
var packagePrefixes = []string{"shm: ", "manager: ", "ipcsync: ", "pickle: ", "procshare: "}

// report writes err, the error of command name, to w: one line per line of
// its message (errors.Join puts each error on a line of its own), each
// "procshare NAME: message", without a package's prefix at the start of the
// message, so that "procshare shm: remove …" does not read "procshare shm:
// shm: remove …".
func report(w io.Writer, name string, err error) {
	for line := range strings.SplitSeq(err.Error(), "\n") {
		for _, p := range packagePrefixes {
			if rest, ok := strings.CutPrefix(line, p); ok {
				line = rest
				break
			}
		}
		fmt.Fprintf(w, "procshare %s: %s\n", name, line)
	}
}
