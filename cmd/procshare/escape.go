package main

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Segment names, type ids and reprs come from other users and other
// programs, and may hold terminal escape sequences. The commands print
// them through cell (a table column) or text (free text) so that nothing
// but printable characters reaches the terminal.

// cell returns s for a column of a table: unchanged when it is non-empty,
// valid UTF-8 of printable characters without spaces, and does not start
// with a double quote; otherwise quoted with strconv.Quote, so every cell
// is one word and a quoted one is unambiguous.
func cell(s string) string {
	if s == "" || s[0] == '"' || strings.ContainsFunc(s, func(r rune) bool {
		return r == ' ' || r == utf8.RuneError || !strconv.IsPrint(r)
	}) {
		return strconv.Quote(s)
	}
	return s
}

// text returns s with every character that is not printable (newlines
// and tabs too) written as a Go escape (\x1b, \n, \u202e, \xff for a byte
// that is not UTF-8), and everything else unchanged: one line of text
// that the terminal shows as it is.
func text(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case strconv.IsPrint(r):
			b.WriteString(s[i : i+n])
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
		i += n
	}
	return b.String()
}

// lines is text applied to each line of s.
func lines(s string) string {
	l := strings.Split(s, "\n")
	for i := range l {
		l[i] = text(l[i])
	}
	return strings.Join(l, "\n")
}

// truncate shortens s to at most max bytes, ending in "...", without
// cutting a UTF-8 sequence.
func truncate(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
