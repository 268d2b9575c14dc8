package main

import (
	"strings"
	"testing"
)

func TestCellText(t *testing.T) {
	for _, tc := range []struct{ in, cell, text string }{
		{"psm_3f2a", "psm_3f2a", "psm_3f2a"},
		{"café-ü", "café-ü", "café-ü"},
		{"a b", `"a b"`, "a b"},
		{"", `""`, ""},
		{`"quoted"`, `"\"quoted\""`, `"quoted"`},
		{"x\x1b[31m", `"x\x1b[31m"`, `x\x1b[31m`},
		{"tab\there\nnl", `"tab\there\nnl"`, `tab\there\nnl`},
		{"bidi\u202eevil", `"bidi\u202eevil"`, `bidi\u202eevil`},
		{"bad\xffutf8", `"bad\xffutf8"`, `bad\xffutf8`},
	} {
		if got := cell(tc.in); got != tc.cell {
			t.Errorf("cell(%q) = %s, want %s", tc.in, got, tc.cell)
		}
		if got := text(tc.in); got != tc.text {
			t.Errorf("text(%q) = %s, want %s", tc.in, got, tc.text)
		}
	}
	if got := lines("a\x1b\nb"); got != "a\\x1b\nb" {
		t.Errorf("lines = %q", got)
	}
	if got := truncate("ééééé", 6); got != "é..." {
		t.Errorf("truncate = %q", got)
	}
}

// hasRawControl reports whether s holds the raw bytes that the hostile
// names in these tests contain: ESC, BEL, or 0xff (not UTF-8).
func hasRawControl(s string) bool {
	return strings.ContainsAny(s, "\x1b\a") || strings.IndexByte(s, 0xff) >= 0
}
