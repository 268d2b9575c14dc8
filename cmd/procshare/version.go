package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
)

func init() {
	register(command{
		name:    "version",
		summary: "print procshare's version (also procshare --version)",
		run: func(ctx context.Context, args []string) error {
			fs := flag.NewFlagSet("version", flag.ContinueOnError)
			if err := parseFlags(fs, args, os.Stdout, versionUsage); err != nil {
				return err
			}
			if fs.NArg() > 0 {
				return usagef("version takes no arguments, got %q", fs.Args())
			}
			fmt.Println(versionLine(version, debug.ReadBuildInfo))
			return nil
		},
	})
}

const versionUsage = `usage: procshare version (or procshare --version)

Prints procshare's version, the Go version it was built with, its platform
and, when the build recorded it, the commit.
`

// releaseVersion is the newest release in CHANGELOG.md, which this source
// tree is or follows. Keep the two equal when releasing.
const releaseVersion = "v0.1.0"

// version is procshare's version: the module version the binary was built
// as ("go install …/cmd/procshare@v0.1.0", or "go build" in a git checkout,
// which records the commit's tag or a pseudo-version), else
// releaseVersion+"+devel" ("go run", "go test", -buildvcs=false).
var version = buildVersion(debug.ReadBuildInfo)

// buildVersion returns the main module's version from readBuildInfo
// (debug.ReadBuildInfo, or a stand-in in tests), or the fallback.
func buildVersion(readBuildInfo func() (*debug.BuildInfo, bool)) string {
	if info, ok := readBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return releaseVersion + "+devel"
}

// versionLine is what "procshare version" prints: "procshare VERSION
// GOVERSION OS/ARCH", and "commit REVISION" (with "-dirty" for modified
// sources) when the build recorded one.
func versionLine(v string, readBuildInfo func() (*debug.BuildInfo, bool)) string {
	line := fmt.Sprintf("procshare %s %s %s/%s", v, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	info, ok := readBuildInfo()
	if !ok {
		return line
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		line += " commit " + rev
		if modified == "true" {
			line += "-dirty"
		}
	}
	return line
}
