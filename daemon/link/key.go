package link

import (
	"fmt"
	"io"
	"os"
)

// Bounds of a shared key file.
const (
	MinKeySize = 16
	maxKeySize = 64 << 10
)

// LoadKey reads the shared HMAC key from path. It refuses a file that is not
// a regular file, that group or others may access (mode must be 0600 or
// stricter), or that holds fewer than MinKeySize bytes; the error says how to
// fix it. The file's bytes are the key, as they are (a trailing newline too).
func LoadKey(path string) ([]byte, error) {
	howToCreate := fmt.Sprintf("create one on one node with `head -c 32 /dev/urandom > %s && chmod 600 %s` and copy it to the other", path, path)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read key file: %w; %s", err, howToCreate)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("read key file %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("key file %s is not a regular file (%s); %s", path, info.Mode().Type(), howToCreate)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("key file %s has mode %04o: group and others must have no access; run `chmod 600 %s`", path, perm, path)
	}
	key, err := io.ReadAll(io.LimitReader(f, maxKeySize+1))
	if err != nil {
		return nil, fmt.Errorf("read key file %s: %w", path, err)
	}
	switch {
	case len(key) < MinKeySize:
		return nil, fmt.Errorf("key file %s holds %d bytes, need at least %d; %s", path, len(key), MinKeySize, howToCreate)
	case len(key) > maxKeySize:
		return nil, fmt.Errorf("key file %s is larger than %d bytes; %s", path, maxKeySize, howToCreate)
	}
	return key, nil
}
