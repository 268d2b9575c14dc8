//go:build !linux

package main

import "errors"

// bindShmDir: stand-in directories for /dev/shm are bind mounts in a
// private mount namespace, which only Linux has.
func bindShmDir(dir string) error { return errors.New("needs Linux") }
