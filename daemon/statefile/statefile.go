package statefile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// LockFileName is the file in the state directory that Lock locks.
const LockFileName = "lock"

// tempPattern names Save's temporary files: hidden, and tied to the target.
func tempPattern(path string) string {
	return "." + filepath.Base(path) + ".tmp-*"
}

// Save writes v as JSON to path atomically and durably. Calls for the same
// path must not overlap (the daemon's event loop is the only writer); files
// for different paths may be saved at once.
func Save(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("save state %s: encode: %w", path, err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	removeStaleTemps(path)

	tmp, err := os.CreateTemp(dir, tempPattern(path))
	if err != nil {
		return fmt.Errorf("save state %s: %w", path, err)
	}
	committed := false
	defer func() {
		if !committed {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("save state %s: write %s: %w", path, tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("save state %s: fsync %s: %w", path, tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save state %s: close %s: %w", path, tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save state %s: %w", path, err)
	}
	committed = true
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("save state %s: %w", path, err)
	}
	return nil
}

// removeStaleTemps deletes temporary files that an interrupted Save of the
// same path left behind. It is best effort: a leftover costs only disk space.
func removeStaleTemps(path string) {
	leftovers, err := filepath.Glob(filepath.Join(filepath.Dir(path), tempPattern(path)))
	if err != nil {
		return
	}
	for _, name := range leftovers {
		os.Remove(name)
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open directory for fsync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync directory %s: %w", dir, err)
	}
	return nil
}

// Load reads the JSON in path into v. A missing file gives (false, nil). A
// file that cannot be decoded gives an error that names it and tells the
// operator how to recover; fields v does not know are ignored, so a newer
// daemon's file can be read by an older one.
func Load(path string, v any) (found bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("load state %s: %w", path, err)
	}
	if err := decodeOne(data, v); err != nil {
		return false, fmt.Errorf("state file %s is corrupt (%w); move it aside (mv %s %s.corrupt) to start without saved state, or restore a good copy", path, err, path, path)
	}
	return true, nil
}

// decodeOne decodes exactly one JSON value with nothing but space after it.
func decodeOne(data []byte, v any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("file is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("invalid JSON: unexpected data after offset %d", dec.InputOffset())
	}
	return nil
}

// Lock takes the state directory dir for this process, creating it (0700)
// if missing. It fails at once, naming the holder's pid, when another process
// or another Lock in this one holds it. unlock releases it (calling it again does nothing); the kernel also
// releases it when the process exits, however it exits. The lock is not
// inherited by programs the daemon starts.
func Lock(dir string) (unlock func() error, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("lock state dir %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock state dir %s: %w", dir, err)
	}
	if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("state dir %s is in use by another xhad (%s)", dir, holder(path))
		}
		return nil, fmt.Errorf("lock state dir %s: flock %s: %w", dir, path, err)
	}
	if err := writePID(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock state dir %s: record pid in %s: %w", dir, path, err)
	}
	return sync.OnceValue(func() error {
		// Clear the pid first so nobody reads a stale one; the file itself
		// stays, since unlinking a lock file races with the next locker.
		truncErr := f.Truncate(0)
		if err := f.Close(); err != nil {
			return fmt.Errorf("unlock state dir %s: %w", dir, err)
		}
		if truncErr != nil {
			return fmt.Errorf("unlock state dir %s: clear pid in %s: %w", dir, path, truncErr)
		}
		return nil
	}), nil
}

func flock(f *os.File, how int) error {
	conn, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lockErr error
	err = conn.Control(func(fd uintptr) {
		for {
			lockErr = unix.Flock(int(fd), how)
			if !errors.Is(lockErr, unix.EINTR) {
				return
			}
		}
	})
	return errors.Join(err, lockErr)
}

func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		return err
	}
	return f.Sync()
}

// holder describes the process named in the lock file, for the error message.
func holder(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "pid unknown: " + err.Error()
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return "pid unknown"
	}
	return "pid " + strconv.Itoa(pid)
}
