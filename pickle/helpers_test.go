package pickle_test

import "io"

var errEOF = io.EOF
