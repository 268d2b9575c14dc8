package main

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/procshare/procshare/manager"
	"github.com/procshare/procshare/pickle"
)

// exposeFlag collects repeated --expose NAME=TYPEID[:ARGS] flags.
type exposeFlag []manager.ExposedObject

func (e *exposeFlag) String() string {
	var parts []string
	for _, x := range *e {
		s := x.Name + "=" + x.TypeID
		if len(x.Args) > 0 {
			var args []string
			for _, a := range x.Args {
				args = append(args, pickle.Repr(a))
			}
			s += ":" + strings.Join(args, ",")
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func (e *exposeFlag) Set(s string) error {
	name, spec, ok := strings.Cut(s, "=")
	typeid, argText, hasArgs := strings.Cut(spec, ":")
	if !ok || name == "" || typeid == "" {
		return fmt.Errorf("want NAME=TYPEID[:ARGS] (e.g. jobs=Queue:100), got %q", s)
	}
	x := manager.ExposedObject{Name: name, TypeID: typeid}
	if hasArgs {
		args, err := parseExposeArgs(argText)
		if err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		x.Args = args
	}
	*e = append(*e, x)
	return nil
}

// exposeArgsHelp documents the ARGS of --expose; serve's help prints it.
const exposeArgsHelp = `ARGS of --expose are the constructor's arguments, as in Python's call,
comma-separated: Value:i,0 is Value('i', 0), Queue:100 is Queue(100),
Barrier:3 is Barrier(3), Semaphore:2, Array:d,[0.5,0,0], list:[1,2,3]. Each
argument is a Python-like literal: an integer (-7, 12345678901234567890), a
float (0.5, 1e-3, -2.0), True, False, None, a list [a,b,...] of arguments,
a string quoted with ' or " (backslash escapes as in Python: \n \t \\ \'
\" \xHH \uHHHH), or a bare word, which is a string (i, d, abc). Spaces
around an argument are ignored; quote a string that has a comma, a bracket,
a quote or spaces at its ends, or that reads as a number or a keyword
('1', 'None').
`

// parseExposeArgs parses the ARGS of --expose (see exposeArgsHelp) into
// pickle values.
func parseExposeArgs(s string) ([]pickle.Value, error) {
	p := &argParser{s: s}
	args, err := p.list(0)
	if err != nil {
		return nil, err
	}
	if p.i < len(p.s) {
		return nil, p.errorf("unexpected %q", p.s[p.i])
	}
	return args, nil
}

// argParser is a recursive-descent parser of --expose ARGS.
type argParser struct {
	s string
	i int // the next byte to read
}

// maxArgDepth bounds the nesting of lists.
const maxArgDepth = 32

func (p *argParser) errorf(format string, args ...any) error {
	return fmt.Errorf("ARGS at byte %d: %s", p.i+1, fmt.Sprintf(format, args...))
}

func (p *argParser) skipSpace() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// list parses comma-separated values up to the end of the text or, inside
// brackets (depth > 0), up to the closing bracket, which it leaves.
func (p *argParser) list(depth int) ([]pickle.Value, error) {
	var vals []pickle.Value
	p.skipSpace()
	if depth > 0 && p.i < len(p.s) && p.s[p.i] == ']' {
		return vals, nil // []
	}
	for {
		v, err := p.value(depth)
		if err != nil {
			return nil, err
		}
		vals = append(vals, v)
		p.skipSpace()
		if p.i == len(p.s) || p.s[p.i] != ',' {
			return vals, nil
		}
		p.i++
	}
}

func (p *argParser) value(depth int) (pickle.Value, error) {
	p.skipSpace()
	if p.i == len(p.s) {
		return nil, p.errorf("missing argument")
	}
	switch c := p.s[p.i]; c {
	case '[':
		if depth >= maxArgDepth {
			return nil, p.errorf("lists nested more than %d deep", maxArgDepth)
		}
		p.i++
		items, err := p.list(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.i == len(p.s) || p.s[p.i] != ']' {
			return nil, p.errorf("missing ]")
		}
		p.i++
		return &pickle.List{Items: items}, nil
	case '\'', '"':
		return p.quoted(c)
	case ',', ']':
		return nil, p.errorf("missing argument")
	}
	start := p.i
	for p.i < len(p.s) && !strings.ContainsRune(",[]'\"", rune(p.s[p.i])) {
		p.i++
	}
	word := strings.TrimRight(p.s[start:p.i], " \t")
	return bareValue(word), nil
}

// quoted parses a string in quote characters q, with Python's escapes
// (those strconv.UnquoteChar decodes). Invalid UTF-8 becomes U+FFFD.
func (p *argParser) quoted(q byte) (pickle.Value, error) {
	start := p.i
	p.i++
	var b strings.Builder
	for {
		if p.i == len(p.s) {
			p.i = start
			return nil, p.errorf("unterminated string")
		}
		if p.s[p.i] == q {
			p.i++
			return b.String(), nil
		}
		// \xHH is the code point U+00HH, as in Python (Go would
		// make it a byte).
		r, _, tail, err := strconv.UnquoteChar(p.s[p.i:], q)
		if err != nil {
			return nil, p.errorf("bad escape in a string")
		}
		b.WriteRune(r)
		p.i = len(p.s) - len(tail)
	}
}

// bareValue reads an unquoted word: an integer, a float, True, False,
// None, or else the word as a string.
func bareValue(w string) pickle.Value {
	switch w {
	case "True":
		return true
	case "False":
		return false
	case "None":
		return nil
	}
	if n, err := strconv.ParseInt(w, 10, 64); err == nil {
		return n
	} else if errors.Is(err, strconv.ErrRange) {
		if b, ok := new(big.Int).SetString(w, 10); ok {
			return b
		}
	}
	if isFloatLiteral(w) {
		if f, err := strconv.ParseFloat(w, 64); err == nil {
			return f
		}
	}
	return w
}

// isFloatLiteral reports whether w is a decimal float as Python writes one
// (digits with a point or an exponent; no inf, nan, hex or underscores,
// which stay strings).
func isFloatLiteral(w string) bool {
	w = strings.TrimLeft(w, "+-")
	digits := false
	for _, c := range w {
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-':
		default:
			return false
		}
	}
	return digits && strings.ContainsAny(w, ".eE")
}
