// Package examples holds runnable programs, each a main package of its own
// with its tests, and the test that keeps the README's line counts true.
//
// The four programs of issue 10 ("a user's first week"), each next to its
// Python twin, and each run with the twin by its test (real processes,
// CPython 3.8 and the newest one found by internal/pyenv):
//
//   - workerpool: a worker pool over two manager queues, with progress
//     (workerpool.py);
//   - histogram: 8 children adding to the bins of a shared-memory array
//     (histogram.py);
//   - pyproducer: a Go consumer of the queue a Python producer fills
//     through `procshare serve` (producer.py; consumer.py is the twin);
//   - cpymanager: a Go client of a real CPython manager sharing a dict and
//     a Lock (server.py; client.py is the twin).
//
// poolmap is workerpool written with a procshare.Pool, next to Python's
// multiprocessing.Pool (poolmap.py).
//
// linecount_test.go counts the non-blank, non-comment lines of each
// program and its twin, and fails when the table in the repository's
// README.md differs; go test ./examples -update rewrites the table.
//
// The others: seed (the seed article's programs in Go), seed-python (its
// third program in Python, against procshare serve) and mixed (Go and
// Python workers on one manager).
package examples
