package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// The authkey of serve and inspect comes from, in order: --authkey-file,
// the file named by $PROCSHARE_AUTHKEY_FILE, or the default key file in the
// user's configuration directory, which serve creates (32 random bytes,
// mode 0600) the first time and reuses after that, as redis-server and
// etcd keep their secrets in a stable place rather than a new temporary
// file per start.
const authkeyEnv = "PROCSHARE_AUTHKEY_FILE"

// maxAuthkeyFile bounds what is read of a key file.
const maxAuthkeyFile = 64 << 10

// defaultAuthkeyPath returns the default key file:
// $XDG_CONFIG_HOME/procshare/authkey (~/.config/procshare/authkey) on
// Linux, the equivalent of os.UserConfigDir elsewhere.
func defaultAuthkeyPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no --authkey-file, no $%s, and no configuration directory for the default key: %w", authkeyEnv, err)
	}
	return filepath.Join(dir, "procshare", "authkey"), nil
}

// authkeyPath returns the key file that flagPath, the environment or the
// default names, and whether it is the default.
func authkeyPath(flagPath string) (path string, isDefault bool, err error) {
	if flagPath != "" {
		return flagPath, false, nil
	}
	if p := os.Getenv(authkeyEnv); p != "" {
		return p, false, nil
	}
	p, err := defaultAuthkeyPath()
	return p, true, err
}

// readAuthkeyFile reads a key file. Like ssh with private keys, it refuses
// a file that its group or others may read or write, and anything but a
// regular file (a FIFO would block the open; it is opened non-blocking and
// checked before any read).
func readAuthkeyFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("authkey file %s is not a regular file (%v)", path, fi.Mode().Type())
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("authkey file %s is accessible by others (mode %04o): the key must be secret; run chmod 600 %s", path, perm, path)
	}
	if fi.Size() > maxAuthkeyFile {
		return nil, fmt.Errorf("authkey file %s holds %d bytes, more than a key (at most %d)", path, fi.Size(), maxAuthkeyFile)
	}
	key, err := io.ReadAll(io.LimitReader(f, maxAuthkeyFile+1))
	if err != nil {
		return nil, err
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("authkey file %s is empty", path)
	}
	if len(key) > maxAuthkeyFile {
		return nil, fmt.Errorf("authkey file %s holds more than a key (at most %d bytes)", path, maxAuthkeyFile)
	}
	return key, nil
}

// clientAuthkey is the key of a client command (inspect): from the flag,
// the environment, or the default file, which must exist.
func clientAuthkey(flagPath string) ([]byte, error) {
	path, _, err := authkeyPath(flagPath)
	if err != nil {
		return nil, err
	}
	return readAuthkeyFile(path)
}

// serveAuthkey is the key of serve: as clientAuthkey, except that a missing
// default file is created with a new random key. The note says which file
// holds the key, so that clients can be given it; serve prints it.
func serveAuthkey(flagPath string) (key []byte, note string, err error) {
	path, isDefault, err := authkeyPath(flagPath)
	if err != nil {
		return nil, "", err
	}
	key, err = readAuthkeyFile(path)
	if isDefault && errors.Is(err, os.ErrNotExist) {
		key, err = createAuthkeyFile(path)
		if err == nil {
			return key, "procshare: new authkey written to " + path, nil
		}
	}
	if err != nil {
		return nil, "", err
	}
	return key, "procshare: authkey from " + path, nil
}

// createAuthkeyFile writes 32 random bytes to a new file at path (mode
// 0600, its directory 0700 if new). If another serve created it first,
// that key is used.
func createAuthkeyFile(path string) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return readAuthkeyFile(path)
	}
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, err
	}
	return key, nil
}
