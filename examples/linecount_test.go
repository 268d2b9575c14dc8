package examples_test

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the line-count table in ../README.md")

// twins are the four programs of the README's table: each Go program and
// its Python twin. A file both sides share (pyproducer's producer.py,
// cpymanager's server.py) is in neither column.
var twins = []struct {
	program, goFile, pyFile string
}{
	{"worker pool with progress (two manager queues)", "workerpool/main.go", "workerpool/workerpool.py"},
	{"histogram in a shared-memory array (8 children)", "histogram/main.go", "histogram/histogram.py"},
	{"consumer of a Python producer through `procshare serve`", "pyproducer/main.go", "pyproducer/consumer.py"},
	{"client of a CPython manager (dict and Lock)", "cpymanager/main.go", "cpymanager/client.py"},
}

// variants are other ways of writing one of the four, listed after them.
var variants = []struct {
	program, goFile, pyFile string
}{
	{"variant: the worker pool as a `procshare.Pool` (Python: `mp.Pool`)", "poolmap/main.go", "poolmap/poolmap.py"},
}

// The table sits between these lines of README.md.
const (
	tableBegin = "<!-- begin line counts: examples/linecount_test.go checks them, go test ./examples -update rewrites them -->"
	tableEnd   = "<!-- end line counts -->"
)

// count is what countLines finds in a file.
type count struct {
	code   int // lines of code: neither blank nor comment
	errChk int // of which, in Go, error checks (see countLines)
}

// countLines counts the lines of the file that hold code: neither blank nor
// comment. Comments are Go's // lines and /* */ blocks, and Python's #
// lines and docstrings (a string statement beginning a line with triple
// quotes, to the line that closes it). In Go it also counts the lines of
// error checks of the forms
//
//	if err != nil {        if x, err := f(); err != nil {
//		one statement          one statement
//	}                      }
//
// all three lines of the first, the last two of the second (its first line
// holds the call).
func countLines(t *testing.T, path string) count {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	python := filepath.Ext(path) == ".py"
	var code []string
	closer := "" // the end of the block comment or docstring we are in
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case closer != "":
			if strings.Contains(line, closer) {
				closer = ""
			}
		case line == "":
		case python && strings.HasPrefix(line, "#"):
		case python && (strings.HasPrefix(line, `"""`) || strings.HasPrefix(line, "'''")):
			if !strings.Contains(line[3:], line[:3]) {
				closer = line[:3]
			}
		case !python && strings.HasPrefix(line, "//"):
		case !python && strings.HasPrefix(line, "/*"):
			if !strings.Contains(line[2:], "*/") {
				closer = "*/"
			}
		default:
			code = append(code, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	c := count{code: len(code)}
	for i, line := range code {
		if python || !strings.HasPrefix(line, "if ") || !strings.HasSuffix(line, "err != nil {") ||
			i+2 >= len(code) || strings.HasSuffix(code[i+1], "{") || code[i+2] != "}" {
			continue
		}
		c.errChk += 2
		if line == "if err != nil {" {
			c.errChk++
		}
	}
	return c
}

// table renders the README's table from the files.
func table(t *testing.T) string {
	var b strings.Builder
	b.WriteString("| program | Go | lines | of which error checks | Python twin | lines | Go ÷ Python | without the error checks |\n")
	b.WriteString("|---|---|--:|--:|---|--:|--:|--:|\n")
	row := func(program, goLink, pyLink string, g, p count) {
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %d | %.1f× | %.1f× |\n", program, goLink, g.code, g.errChk,
			pyLink, p.code, float64(g.code)/float64(p.code), float64(g.code-g.errChk)/float64(p.code))
	}
	link := func(f string) string { return fmt.Sprintf("[%s](examples/%s)", f, f) }
	var goSum, pySum count
	for _, tw := range twins {
		g, p := countLines(t, tw.goFile), countLines(t, tw.pyFile)
		row(tw.program, link(tw.goFile), link(tw.pyFile), g, p)
		goSum.code += g.code
		goSum.errChk += g.errChk
		pySum.code += p.code
	}
	row("all four", "", "", goSum, pySum)
	for _, v := range variants {
		row(v.program, link(v.goFile), link(v.pyFile), countLines(t, v.goFile), countLines(t, v.pyFile))
	}
	return b.String()
}

// TestLineCounts recounts the lines of the examples and their Python twins
// and compares the table with README.md's (-update writes it there).
func TestLineCounts(t *testing.T) {
	want := table(t)
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(readme), tableBegin+"\n")
	got, after, ok2 := strings.Cut(rest, tableEnd)
	if !ok1 || !ok2 {
		t.Fatalf("README.md has no line-count table between\n%s\nand\n%s", tableBegin, tableEnd)
	}
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile("../README.md", []byte(before+tableBegin+"\n"+want+tableEnd+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's line counts are stale (go test ./examples -update rewrites them):\n%s\nwant:\n%s", got, want)
}

// TestCountLines checks the counting rules on a Go and a Python file.
func TestCountLines(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, text string
		want       count
	}{
		{"a.go", `// doc
package main

/* block
   comment */
func main() {
	// inside
	println(1) // trailing
	if err != nil {
		log.Fatal(err)
	}
	if err := f(); err != nil {
		return err
	}
	if err != nil {
		if x {
			y()
		}
	}
}
/* one line */
`, count{code: 15, errChk: 5}},
		{"a.py", `#!/usr/bin/env python3
"""Doc
string."""
import sys


def f():
    '''One line.'''
    # a comment
    return 1  # trailing
`, count{code: 3}},
	} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		if c := countLines(t, path); c != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, c, tc.want)
		}
	}
}
