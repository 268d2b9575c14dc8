//go:build linux

package ipcsync_test

// runtimeHasStartTimes: /proc gives every process's start time.
const runtimeHasStartTimes = true
