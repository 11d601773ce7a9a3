package dbrepl

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// LoadCredentials reads a credentials file: either one line "user:password",
// or key=value lines with the keys user and password (# starts a comment).
// A file readable or writable by group or others is refused.
func LoadCredentials(path string) (user, password string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", fmt.Errorf("read database credentials: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", "", fmt.Errorf("read database credentials %s: %w", path, err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return "", "", fmt.Errorf("database credentials %s have mode %04o, readable by others; run chmod 600 %s", path, perm, path)
	}
	sc := bufio.NewScanner(f)
	var kv bool
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if k, v, ok := strings.Cut(s, "="); ok && (strings.TrimSpace(k) == "user" || strings.TrimSpace(k) == "password") {
			kv = true
			if strings.TrimSpace(k) == "user" {
				user = strings.TrimSpace(v)
			} else {
				password = strings.TrimSpace(v)
			}
			continue
		}
		if kv || user != "" {
			return "", "", fmt.Errorf("database credentials %s:%d: unexpected line; write one line user:password, or lines user=NAME and password=SECRET", path, line)
		}
		u, p, ok := strings.Cut(s, ":")
		if !ok {
			return "", "", fmt.Errorf("database credentials %s:%d: no ':' between user and password; write user:password", path, line)
		}
		user, password = strings.TrimSpace(u), p
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("read database credentials %s: %w", path, err)
	}
	if user == "" {
		return "", "", fmt.Errorf("database credentials %s: no user; write user:password, or user=NAME and password=SECRET", path)
	}
	return user, password, nil
}
