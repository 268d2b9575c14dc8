//go:build race

package main

// raceEnabled: the test binary runs under the race detector, which
// multiplies a process's memory.
const raceEnabled = true
