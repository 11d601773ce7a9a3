package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultSocketPath is where the daemon listens unless configured otherwise.
const DefaultSocketPath = "/run/xhad/xhad.sock"

// Limits of the protocol.
const (
	// MaxRequestSize bounds a request line, newline excluded.
	MaxRequestSize = 64 << 10
	// MaxResponseSize bounds the response line Call accepts.
	MaxResponseSize = 16 << 20
	// RequestReadTimeout is how long the server waits for a whole request.
	RequestReadTimeout = 5 * time.Second
	// ResponseWriteTimeout is how long the server tries to send a response.
	ResponseWriteTimeout = 5 * time.Second
	// DefaultCallTimeout bounds Call when its context has no deadline.
	DefaultCallTimeout = 30 * time.Second
)

// Request is one command to the daemon.
type Request struct {
	Cmd  string            `json:"cmd"`
	Args map[string]string `json:"args,omitempty"`
}

// Response is the daemon's answer. When OK is false, Error says why.
type Response struct {
	OK    bool            `json:"ok"`
	Error string          `json:"error,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// Handler answers one request. ctx is cancelled when Serve stops. A handler
// may be called from many goroutines at once.
type Handler func(ctx context.Context, req Request) Response

// Success returns an OK response carrying data encoded as JSON (no data when
// data is nil), or an error response if data cannot be encoded.
func Success(data any) Response {
	if data == nil {
		return Response{OK: true}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return Failure(fmt.Errorf("internal error: encode response data: %w", err))
	}
	return Response{OK: true, Data: raw}
}

// Failure returns an error response with err's text.
func Failure(err error) Response {
	return Response{Error: err.Error()}
}

// Server is a listening control socket.
type Server struct {
	path      string
	listener  *net.UnixListener
	lock      *os.File
	ownUID    uint32
	readWait  time.Duration
	writeWait time.Duration
	maxSize   int

	stopListening func() error // closes the listener once
	closeOnce     sync.Once
	closeErr      error
}

// Listen creates the control socket at path, mode 0600, creating its parent
// directory (0700, root only, as the tmpfiles entry makes it) if missing. It fails if another daemon answers on path, and
// removes a socket file that nothing answers on. Listen also holds a lock on
// path+".lock" until Close, so two daemons starting at once cannot both get
// past the check.
func Listen(path string) (*Server, error) {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create control socket directory: %w", err)
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create control socket directory: %w", err)
		}
	}
	lock, err := lockSocketPath(path)
	if err != nil {
		return nil, err
	}
	s, err := listenLocked(path)
	if err != nil {
		lock.Close()
		return nil, err
	}
	s.lock = lock
	return s, nil
}

func lockSocketPath(path string) (*os.File, error) {
	lockPath := path + ".lock"
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock control socket: %w", err)
	}
	conn, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock control socket %s: %w", lockPath, err)
	}
	var flockErr error
	err = conn.Control(func(fd uintptr) {
		for {
			flockErr = unix.Flock(int(fd), unix.LOCK_EX|unix.LOCK_NB)
			if !errors.Is(flockErr, unix.EINTR) {
				return
			}
		}
	})
	if err = errors.Join(err, flockErr); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("another xhad is running: it holds %s", lockPath)
		}
		return nil, fmt.Errorf("lock control socket %s: %w", lockPath, err)
	}
	return f, nil
}

// listenLocked does Listen's work once the path lock is held.
func listenLocked(path string) (*Server, error) {
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	// Only Close removes the socket file; stopping Serve does not.
	l.SetUnlinkOnClose(false)
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		os.Remove(path)
		return nil, fmt.Errorf("restrict control socket to root: %w", err)
	}
	s := &Server{
		path:      path,
		listener:  l,
		ownUID:    uint32(os.Geteuid()),
		readWait:  RequestReadTimeout,
		writeWait: ResponseWriteTimeout,
		maxSize:   MaxRequestSize,
	}
	s.stopListening = sync.OnceValue(l.Close)
	return s, nil
}

// removeStaleSocket makes way for a new socket at path: nothing there is
// fine, a socket nobody answers on is removed, a live socket or any other
// kind of file is an error.
func removeStaleSocket(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check control socket: %w", err)
	}
	if info.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("control socket path %s exists and is not a socket; remove it if nothing uses it", path)
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
		return fmt.Errorf("another xhad is running: it answers on %s", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("check whether another xhad answers on %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale control socket: %w", err)
	}
	return nil
}

// Path returns the socket's path.
func (s *Server) Path() string {
	return s.path
}

// Serve accepts connections until ctx is done or Close is called, handling
// each in its own goroutine, and returns once every connection is finished.
// When ctx is done, requests still being read are answered "xhad is shutting
// down" and handlers see their context cancelled; after Close, connections
// already accepted are served as usual. Serve returns nil when stopped either
// way, or the error that made accepting fail. Call Serve once.
func (s *Server) Serve(ctx context.Context, h Handler) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { s.stopListening() })
	defer stop()

	var conns sync.WaitGroup
	defer conns.Wait()
	backoff := time.Duration(0)
	for {
		conn, err := s.listener.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if !transientAcceptError(err) {
				return fmt.Errorf("accept on control socket %s: %w", s.path, err)
			}
			// Out of descriptors or memory: wait a little, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		conns.Go(func() { s.handle(ctx, conn, h) })
	}
}

func transientAcceptError(err error) bool {
	for _, errno := range []syscall.Errno{unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM, unix.ECONNABORTED, unix.EINTR} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// handle serves one connection: read the request, check who sent it, call
// the handler, answer.
func (s *Server) handle(ctx context.Context, conn *net.UnixConn, h Handler) {
	defer conn.Close()
	conn.SetReadDeadline(time.Now().Add(s.readWait))
	// When Serve stops, stop waiting for a slow client's request.
	stopAbort := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	resp := s.answer(ctx, conn, h)
	stopAbort()
	line, err := json.Marshal(resp)
	if err != nil {
		line, _ = json.Marshal(Failure(fmt.Errorf("internal error: encode response: %w", err)))
	}
	conn.SetWriteDeadline(time.Now().Add(s.writeWait))
	// The client may have gone away; there is nobody left to tell.
	conn.Write(append(line, '\n'))
}

func (s *Server) answer(ctx context.Context, conn *net.UnixConn, h Handler) Response {
	// Read before judging the peer so that the answer is never lost to a
	// reset caused by closing with unread data.
	line, readErr := readRequest(conn, s.maxSize, s.readWait)
	uid, err := peerUID(conn)
	if err != nil {
		return Failure(fmt.Errorf("cannot check who is calling: %w", err))
	}
	if err := permitted(uid, s.ownUID); err != nil {
		return Failure(err)
	}
	if readErr != nil && ctx.Err() != nil {
		return Failure(errors.New("xhad is shutting down"))
	}
	if readErr != nil {
		return Failure(readErr)
	}
	req, err := decodeRequest(line)
	if err != nil {
		return Failure(err)
	}
	return h(ctx, req)
}

// readRequest reads up to the first newline, or to end of input from a
// client that half-closed without one.
func readRequest(r io.Reader, maxSize int, wait time.Duration) ([]byte, error) {
	buf := make([]byte, 0, 512)
	chunk := make([]byte, 4096)
	for {
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if end := bytes.IndexByte(buf, '\n'); end >= 0 {
			if end > maxSize {
				return nil, fmt.Errorf("bad request: longer than %d bytes", maxSize)
			}
			return buf[:end], nil
		}
		if len(buf) > maxSize {
			return nil, fmt.Errorf("bad request: longer than %d bytes", maxSize)
		}
		switch {
		case err == nil:
			continue
		case errors.Is(err, io.EOF) && len(bytes.TrimSpace(buf)) > 0:
			return buf, nil
		case errors.Is(err, io.EOF):
			return nil, errors.New("bad request: empty")
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, fmt.Errorf("bad request: no complete line within %v", wait)
		default:
			return nil, fmt.Errorf("read request: %w", err)
		}
	}
}

func decodeRequest(line []byte) (Request, error) {
	var req Request
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Request{}, fmt.Errorf("bad request: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Request{}, errors.New("bad request: more than one JSON value")
	}
	if req.Cmd == "" {
		return Request{}, errors.New(`bad request: no "cmd"`)
	}
	return req, nil
}

func peerUID(conn *net.UnixConn) (uint32, error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	var cred *unix.Ucred
	var credErr error
	err = raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if err = errors.Join(err, credErr); err != nil {
		return 0, fmt.Errorf("read peer credentials: %w", err)
	}
	return cred.Uid, nil
}

// permitted decides whether a peer with uid peer may use a daemon running as
// uid own: root always may, and so may the daemon's own user.
func permitted(peer, own uint32) error {
	if peer == 0 || peer == own {
		return nil
	}
	return fmt.Errorf("permission denied: uid %d is not root", peer)
}

// Close stops Serve from accepting, removes the socket file and releases the
// path lock. Connections being handled finish on their own; Serve waits for
// them. Calling Close again returns the first result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		var errs []error
		if err := s.stopListening(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("close control socket: %w", err))
		}
		if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("remove control socket: %w", err))
		}
		if s.lock != nil {
			if err := s.lock.Close(); err != nil {
				errs = append(errs, fmt.Errorf("release control socket lock: %w", err))
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// ErrNotRunning is wrapped by Call's error when no daemon listens.
var ErrNotRunning = errors.New("xhad is not running")

// Call sends req to the daemon listening on path and returns its response.
// A Response with OK false is the daemon's refusal and comes back as is; the
// error is for failing to get an answer at all, worded for an operator.
// Without a deadline in ctx, Call gives up after DefaultCallTimeout.
func Call(ctx context.Context, path string, req Request) (Response, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultCallTimeout)
		defer cancel()
	}
	deadline, _ := ctx.Deadline()
	budget := time.Until(deadline).Round(time.Millisecond)

	line, err := json.Marshal(req)
	if err != nil {
		return Response{}, fmt.Errorf("encode control request %q: %w", req.Cmd, err)
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "unix", path)
	if err != nil {
		return Response{}, callError(ctx, path, budget, "connect", err)
	}
	defer conn.Close()
	conn.SetDeadline(deadline)
	// Honour cancellation as well as the deadline.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if _, err := conn.Write(append(line, '\n')); err != nil {
		return Response{}, callError(ctx, path, budget, "send request", err)
	}
	reply, err := readResponse(conn)
	if err != nil {
		return Response{}, callError(ctx, path, budget, "read response", err)
	}
	var resp Response
	if err := json.Unmarshal(reply, &resp); err != nil {
		return Response{}, fmt.Errorf("xhad sent a bad response on control socket %s: %w", path, err)
	}
	return resp, nil
}

// errNoResponse reports a connection closed before any response.
var errNoResponse = errors.New("connection closed before a response")

func readResponse(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxResponseSize+1))
	if end := bytes.IndexByte(data, '\n'); end >= 0 {
		return data[:end], nil
	}
	if err != nil {
		return nil, err
	}
	if len(data) > MaxResponseSize {
		return nil, fmt.Errorf("response longer than %d bytes", MaxResponseSize)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errNoResponse
	}
	// A response ended by closing rather than by a newline.
	return data, nil
}

// callError words a failed call for the operator.
func callError(ctx context.Context, path string, budget time.Duration, step string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%w (no control socket at %s); start it with `systemctl start xhad`", ErrNotRunning, path)
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return fmt.Errorf("cannot reach the xhad control socket %s: %w (run as root)", path, fs.ErrPermission)
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("control request to %s: %w", path, context.Canceled)
	case errors.Is(ctx.Err(), context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("xhad did not answer within %v on control socket %s: %w", budget, path, context.DeadlineExceeded)
	case errors.Is(err, errNoResponse), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return fmt.Errorf("xhad closed the control connection on %s without answering: %w", path, err)
	}
	return fmt.Errorf("control socket %s: %s: %w", path, step, err)
}
