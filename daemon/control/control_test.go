package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// waitLimit bounds every wait for something that should happen promptly.
const waitLimit = 10 * time.Second

// callHelperEnv makes the test binary call a control socket and report, for
// the end-to-end test that runs it as another user (see TestMain).
const callHelperEnv = "XHAD_CONTROL_TEST_CALL"

func TestMain(m *testing.M) {
	if path := os.Getenv(callHelperEnv); path != "" {
		os.Exit(runCallHelper(path))
	}
	os.Exit(m.Run())
}

// callReport is what the helper prints: the response, or Call's error.
type callReport struct {
	Response Response `json:"response"`
	Err      string   `json:"err,omitempty"`
}

func runCallHelper(path string) int {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	resp, err := Call(ctx, path, Request{Cmd: "status"})
	report := callReport{Response: resp}
	if err != nil {
		report.Err = err.Error()
	}
	if err := json.NewEncoder(os.Stdout).Encode(report); err != nil {
		return 1
	}
	return 0
}

// socketDir returns a short directory for sockets (sun_path holds 108 bytes).
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "xhadctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// echo answers "echo" with the request, "fail" with an error, and "wait" by
// blocking until its context is cancelled.
func echo(ctx context.Context, req Request) Response {
	switch req.Cmd {
	case "echo":
		return Success(req)
	case "fail":
		return Failure(fmt.Errorf("refused: %s", req.Args["why"]))
	case "wait":
		<-ctx.Done()
		return Failure(ctx.Err())
	}
	return Failure(fmt.Errorf("unknown command %q", req.Cmd))
}

// running is a server started by serve.
type running struct {
	*Server
	stop func() // cancels Serve, waits for it, closes the server
}

// serve listens on path and serves h until the test ends (or stop is called).
func serve(t *testing.T, path string, h Handler, tune func(*Server)) *running {
	t.Helper()
	s, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen(%s): %v", path, err)
	}
	if tune != nil {
		tune(s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, h) }()
	stop := sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve returned %v", err)
			}
		case <-time.After(waitLimit):
			t.Errorf("Serve did not return within %v of its context being cancelled", waitLimit)
		}
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	t.Cleanup(stop)
	return &running{Server: s, stop: stop}
}

func call(t *testing.T, path string, req Request) Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	resp, err := Call(ctx, path, req)
	if err != nil {
		t.Fatalf("Call(%+v): %v", req, err)
	}
	return resp
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(socketDir(t), "control.sock")
	serve(t, path, echo, nil)
	tests := []struct {
		name string
		req  Request
		want Response
	}{
		{
			name: "command without arguments",
			req:  Request{Cmd: "echo"},
			want: Response{OK: true, Data: json.RawMessage(`{"cmd":"echo"}`)},
		},
		{
			name: "command with arguments",
			req:  Request{Cmd: "echo", Args: map[string]string{"force": "true", "group": "vm-a"}},
			want: Response{OK: true, Data: json.RawMessage(`{"cmd":"echo","args":{"force":"true","group":"vm-a"}}`)},
		},
		{
			name: "arguments with newlines and unicode",
			req:  Request{Cmd: "echo", Args: map[string]string{"why": "line1\nline2 — узел"}},
			want: Response{OK: true, Data: json.RawMessage(`{"cmd":"echo","args":{"why":"line1\nline2 — узел"}}`)},
		},
		{
			name: "refusal",
			req:  Request{Cmd: "fail", Args: map[string]string{"why": "replica lags 40s"}},
			want: Response{Error: "refused: replica lags 40s"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := call(t, path, tt.req)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Call(%+v)\n got %+v (data %s)\nwant %+v (data %s)", tt.req, got, got.Data, tt.want, tt.want.Data)
			}
		})
	}
}

func TestListenCreatesDirectoryAndSocket(t *testing.T) {
	dir := filepath.Join(socketDir(t), "run", "xhad")
	path := filepath.Join(dir, "control.sock")
	r := serve(t, path, echo, nil)
	if r.Path() != path {
		t.Errorf("Path() = %q, want %q", r.Path(), path)
	}
	for _, check := range []struct {
		path string
		mode fs.FileMode
	}{
		{dir, fs.ModeDir | 0o700},
		{path, fs.ModeSocket | 0o600},
	} {
		info, err := os.Stat(check.path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != check.mode {
			t.Errorf("%s has mode %v, want %v", check.path, info.Mode(), check.mode)
		}
	}
	r.stop()
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket still there after Close: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestStaleSocketReplaced(t *testing.T) {
	path := filepath.Join(socketDir(t), "control.sock")
	// A daemon killed with -9 leaves its socket file behind.
	dead, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	dead.SetUnlinkOnClose(false)
	dead.Close()
	if _, err := net.Dial("unix", path); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("stale socket: dial gave %v, want connection refused", err)
	}
	serve(t, path, echo, nil)
	if got := call(t, path, Request{Cmd: "echo"}); !got.OK {
		t.Errorf("Call on the new socket: %+v", got)
	}
}

func TestListenRefused(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		wantErr string
	}{
		{
			name:    "another xhad serves the socket",
			prepare: func(t *testing.T, path string) { serve(t, path, echo, nil) },
			wantErr: "another xhad is running: it holds %s.lock",
		},
		{
			name: "something else answers on the socket",
			prepare: func(t *testing.T, path string) {
				l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { l.Close() })
			},
			wantErr: "another xhad is running: it answers on %s",
		},
		{
			name: "a regular file is in the way",
			prepare: func(t *testing.T, path string) {
				if err := os.WriteFile(path, []byte("keep me"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "control socket path %s exists and is not a socket; remove it if nothing uses it",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(socketDir(t), "control.sock")
			tt.prepare(t, path)
			before, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			s, err := Listen(path)
			if err == nil {
				s.Close()
				t.Fatal("Listen succeeded")
			}
			if want := fmt.Sprintf(tt.wantErr, path); err.Error() != want {
				t.Errorf("Listen error:\n got %q\nwant %q", err, want)
			}
			after, err := os.Lstat(path)
			if err != nil || !os.SameFile(before, after) {
				t.Errorf("the refused Listen replaced or removed %s: %v", path, err)
			}
		})
	}
}

func TestListenAgainAfterClose(t *testing.T) {
	path := filepath.Join(socketDir(t), "control.sock")
	first := serve(t, path, echo, nil)
	first.stop()
	serve(t, path, echo, nil)
	if got := call(t, path, Request{Cmd: "echo"}); !got.OK {
		t.Errorf("Call on the second server: %+v", got)
	}
}

// TestConcurrentClients holds every handler until all clients are inside
// one, which only works if connections are served concurrently.
func TestConcurrentClients(t *testing.T) {
	const clients = 32
	path := filepath.Join(socketDir(t), "control.sock")
	var inside atomic.Int32
	allIn := make(chan struct{})
	var once sync.Once
	serve(t, path, func(ctx context.Context, req Request) Response {
		if inside.Add(1) == clients {
			once.Do(func() { close(allIn) })
		}
		select {
		case <-allIn:
			return Success(req.Args["n"])
		case <-time.After(waitLimit):
			return Failure(fmt.Errorf("only %d of %d clients arrived within %v", inside.Load(), clients, waitLimit))
		}
	}, nil)
	var wg sync.WaitGroup
	results := make([]Response, clients)
	errs := make([]error, clients)
	for i := range clients {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 2*waitLimit)
			defer cancel()
			results[i], errs[i] = Call(ctx, path, Request{Cmd: "n", Args: map[string]string{"n": strconv.Itoa(i)}})
		})
	}
	wg.Wait()
	for i := range clients {
		want := Response{OK: true, Data: json.RawMessage(strconv.Quote(strconv.Itoa(i)))}
		if errs[i] != nil || !reflect.DeepEqual(results[i], want) {
			t.Errorf("client %d: %+v (data %s), %v; want data %s", i, results[i], results[i].Data, errs[i], want.Data)
		}
	}
}

func readLine(t *testing.T, conn net.Conn) Response {
	t.Helper()
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		t.Fatalf("no response line within %v: %v (got %q)", waitLimit, err, line)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		t.Fatalf("response %q: %v", line, err)
	}
	return resp
}

func TestBadRequestsGetAnError(t *testing.T) {
	const readWait = 300 * time.Millisecond
	path := filepath.Join(socketDir(t), "control.sock")
	var handled atomic.Int32
	serve(t, path, func(ctx context.Context, req Request) Response {
		handled.Add(1)
		return echo(ctx, req)
	}, func(s *Server) { s.readWait = readWait })

	tests := []struct {
		name       string
		send       string
		closeWrite bool
		wantErr    string
	}{
		{name: "garbage", send: "hello there\n", wantErr: "bad request: invalid character 'h' looking for beginning of value"},
		{name: "binary", send: "\x00\xff\xfe\n", wantErr: "bad request: invalid character"},
		{name: "no command", send: "{}\n", wantErr: `bad request: no "cmd"`},
		{name: "null", send: "null\n", wantErr: `bad request: no "cmd"`},
		{name: "unknown field", send: `{"cmd":"echo","force":true}` + "\n", wantErr: `bad request: json: unknown field "force"`},
		{name: "wrong type", send: `{"cmd":"echo","args":{"n":1}}` + "\n", wantErr: "bad request: json: cannot unmarshal number"},
		{name: "two values", send: `{"cmd":"echo"} {"cmd":"echo"}` + "\n", wantErr: "bad request: more than one JSON value"},
		{name: "oversized line", send: `{"cmd":"echo","args":{"x":"` + strings.Repeat("x", MaxRequestSize) + `"}}` + "\n", wantErr: fmt.Sprintf("bad request: longer than %d bytes", MaxRequestSize)},
		{name: "oversized without newline", send: strings.Repeat("x", 4*MaxRequestSize), wantErr: fmt.Sprintf("bad request: longer than %d bytes", MaxRequestSize)},
		{name: "never finished", send: `{"cmd":"ec`, wantErr: "bad request: no complete line within 300ms"},
		{name: "nothing sent", send: "", wantErr: "bad request: no complete line within 300ms"},
		{name: "empty, then closed", send: "", closeWrite: true, wantErr: "bad request: empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := handled.Load()
			resp := sendRaw(t, path, []byte(tt.send), tt.closeWrite)
			if resp.OK || !strings.Contains(resp.Error, tt.wantErr) {
				t.Errorf("response %+v, want an error containing %q", resp, tt.wantErr)
			}
			if n := handled.Load() - before; n != 0 {
				t.Errorf("the handler was called %d times for a bad request", n)
			}
		})
	}

	t.Run("request ended by closing instead of a newline", func(t *testing.T) {
		resp := sendRaw(t, path, []byte(`{"cmd":"echo"}`), true)
		if want := (Response{OK: true, Data: json.RawMessage(`{"cmd":"echo"}`)}); !reflect.DeepEqual(resp, want) {
			t.Errorf("response %+v, want %+v", resp, want)
		}
	})
}

// sendRaw writes send on a new connection, half-closes it if asked, and
// returns the response line.
func sendRaw(t *testing.T, path string, send []byte, closeWrite bool) Response {
	t.Helper()
	conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(waitLimit))
	// The server may answer and close before it has read everything, so
	// write in the background; an error there (a broken pipe) is expected.
	go func() {
		conn.Write(send)
		if closeWrite {
			conn.CloseWrite()
		}
	}()
	return readLine(t, conn)
}

// TestStalledClientsDoNotBlockOthers leaves connections that never finish
// their request open while another client is served.
func TestStalledClientsDoNotBlockOthers(t *testing.T) {
	path := filepath.Join(socketDir(t), "control.sock")
	r := serve(t, path, echo, func(s *Server) { s.readWait = time.Hour })
	var stalled []*net.UnixConn
	for i := range 20 {
		conn, err := net.DialUnix("unix", nil, &net.UnixAddr{Name: path, Net: "unix"})
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if i%2 == 0 {
			if _, err := conn.Write([]byte(`{"cmd":`)); err != nil {
				t.Fatal(err)
			}
		}
		stalled = append(stalled, conn)
	}
	if got := call(t, path, Request{Cmd: "echo"}); !got.OK {
		t.Fatalf("Call beside stalled clients: %+v", got)
	}
	// Stopping the server answers the stalled clients instead of waiting for
	// their hour-long deadline.
	r.stop()
	for i, conn := range stalled {
		conn.SetDeadline(time.Now().Add(waitLimit))
		if resp := readLine(t, conn); resp.OK || resp.Error != "xhad is shutting down" {
			t.Errorf("stalled client %d got %+v, want the shutdown error", i, resp)
		}
	}
}

func TestServeStopCancelsHandlers(t *testing.T) {
	path := filepath.Join(socketDir(t), "control.sock")
	entered := make(chan struct{})
	r := serve(t, path, func(ctx context.Context, req Request) Response {
		close(entered)
		select {
		case <-ctx.Done():
			return Failure(fmt.Errorf("gave up: %w", ctx.Err()))
		case <-time.After(waitLimit):
			return Success("handler context never cancelled")
		}
	}, nil)
	result := make(chan Response, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*waitLimit)
		defer cancel()
		resp, err := Call(ctx, path, Request{Cmd: "wait"})
		if err != nil {
			resp = Failure(err)
		}
		result <- resp
	}()
	select {
	case <-entered:
	case <-time.After(waitLimit):
		t.Fatal("the request did not reach the handler")
	}
	r.stop() // fails the test if Serve does not return
	select {
	case resp := <-result:
		if want := (Response{Error: "gave up: context canceled"}); !reflect.DeepEqual(resp, want) {
			t.Errorf("waiting request got %+v, want %+v", resp, want)
		}
	case <-time.After(waitLimit):
		t.Fatal("the waiting request got no answer after the server stopped")
	}
}

func TestPermitted(t *testing.T) {
	tests := []struct {
		peer, own uint32
		wantErr   string
	}{
		{peer: 0, own: 0},
		{peer: 0, own: 1000},
		{peer: 1000, own: 1000},
		{peer: 1000, own: 0, wantErr: "permission denied: uid 1000 is not root"},
		{peer: 65534, own: 0, wantErr: "permission denied: uid 65534 is not root"},
		{peer: 1001, own: 1000, wantErr: "permission denied: uid 1001 is not root"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("peer %d own %d", tt.peer, tt.own), func(t *testing.T) {
			err := permitted(tt.peer, tt.own)
			if tt.wantErr == "" && err != nil {
				t.Errorf("refused: %v", err)
			}
			if tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr) {
				t.Errorf("got %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestOtherUser runs this test binary as nobody against a root daemon.
func TestOtherUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a process as another user")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	uid, _ := strconv.ParseUint(nobody.Uid, 10, 32)
	gid, _ := strconv.ParseUint(nobody.Gid, 10, 32)

	// Both the copied test binary and the socket directory must be reachable
	// by nobody.
	dir := socketDir(t)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	binary := filepath.Join(dir, "control.test")
	copyFile(t, self, binary)
	path := filepath.Join(dir, "control.sock")
	serve(t, path, echo, nil)

	runAsNobody := func() callReport {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*waitLimit)
		defer cancel()
		cmd := exec.CommandContext(ctx, binary, "-test.run=^$")
		cmd.Dir = dir
		cmd.Env = []string{callHelperEnv + "=" + path}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("helper as nobody: %v; output %q", err, out)
		}
		var report callReport
		if err := json.Unmarshal(out, &report); err != nil {
			t.Fatalf("helper output %q: %v", out, err)
		}
		return report
	}

	t.Run("socket mode keeps nobody out", func(t *testing.T) {
		report := runAsNobody()
		want := "cannot reach the xhad control socket " + path + ": permission denied (run as root)"
		if report.Err != want {
			t.Errorf("Call as nobody: %+v; want error %q", report, want)
		}
	})
	t.Run("peer credentials keep nobody out of a world-writable socket", func(t *testing.T) {
		if err := os.Chmod(path, 0o666); err != nil {
			t.Fatal(err)
		}
		report := runAsNobody()
		want := Response{Error: fmt.Sprintf("permission denied: uid %d is not root", uid)}
		if report.Err != "" || !reflect.DeepEqual(report.Response, want) {
			t.Errorf("Call as nobody: %+v; want response %+v", report, want)
		}
	})
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// fakeDaemon accepts connections and treats each with behave.
func fakeDaemon(t *testing.T, path string, behave func(net.Conn)) {
	t.Helper()
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				behave(conn)
			})
		}
	})
}

func TestCallErrors(t *testing.T) {
	notRunning := "xhad is not running (no control socket at %s); start it with `systemctl start xhad`"
	tests := []struct {
		name     string
		prepare  func(t *testing.T, path string)
		timeout  time.Duration
		wantErr  string
		wantIs   error
		wantResp Response
	}{
		{
			name:    "no socket file",
			prepare: func(t *testing.T, path string) {},
			wantErr: notRunning,
			wantIs:  ErrNotRunning,
		},
		{
			name: "no directory",
			prepare: func(t *testing.T, path string) {
				if err := os.Remove(filepath.Dir(path)); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: notRunning,
			wantIs:  ErrNotRunning,
		},
		{
			name: "stale socket of a dead daemon",
			prepare: func(t *testing.T, path string) {
				l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
				if err != nil {
					t.Fatal(err)
				}
				l.SetUnlinkOnClose(false)
				l.Close()
			},
			wantErr: notRunning,
			wantIs:  ErrNotRunning,
		},
		{
			name: "daemon never answers",
			prepare: func(t *testing.T, path string) {
				fakeDaemon(t, path, func(c net.Conn) { io.Copy(io.Discard, c) })
			},
			timeout: 300 * time.Millisecond,
			wantErr: "xhad did not answer within 300ms on control socket %s",
			wantIs:  context.DeadlineExceeded,
		},
		{
			name: "daemon hangs up",
			prepare: func(t *testing.T, path string) {
				fakeDaemon(t, path, func(c net.Conn) { bufio.NewReader(c).ReadBytes('\n') })
			},
			wantErr: "xhad closed the control connection on %s without answering",
		},
		{
			name: "daemon answers garbage",
			prepare: func(t *testing.T, path string) {
				fakeDaemon(t, path, func(c net.Conn) {
					bufio.NewReader(c).ReadBytes('\n')
					c.Write([]byte("<html>\n"))
				})
			},
			wantErr: "xhad sent a bad response on control socket %s: invalid character '<'",
		},
		{
			name: "response without newline is still read",
			prepare: func(t *testing.T, path string) {
				fakeDaemon(t, path, func(c net.Conn) {
					bufio.NewReader(c).ReadBytes('\n')
					c.Write([]byte(`{"ok":true}`))
				})
			},
			wantResp: Response{OK: true},
		},
		{
			name: "response too large",
			prepare: func(t *testing.T, path string) {
				fakeDaemon(t, path, func(c net.Conn) {
					bufio.NewReader(c).ReadBytes('\n')
					c.Write([]byte(`{"ok":true,"data":"`))
					c.Write([]byte(strings.Repeat("x", MaxResponseSize)))
				})
			},
			wantErr: "control socket %s: read response: response longer than 16777216 bytes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(socketDir(t), "control.sock")
			tt.prepare(t, path)
			timeout := tt.timeout
			if timeout == 0 {
				timeout = waitLimit
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			resp, err := Call(ctx, path, Request{Cmd: "status"})
			if tt.wantErr == "" {
				if err != nil || !reflect.DeepEqual(resp, tt.wantResp) {
					t.Fatalf("Call = %+v, %v; want %+v", resp, err, tt.wantResp)
				}
				return
			}
			want := tt.wantErr
			if strings.Contains(want, "%s") {
				want = fmt.Sprintf(want, path)
			}
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("Call = %+v, %v; want error %q", resp, err, want)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
		})
	}
}

func TestCallCancelled(t *testing.T) {
	path := filepath.Join(socketDir(t), "control.sock")
	received := make(chan struct{})
	fakeDaemon(t, path, func(c net.Conn) {
		bufio.NewReader(c).ReadBytes('\n')
		close(received)
		io.Copy(io.Discard, c)
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	go func() {
		// The operator presses ^C while the daemon is thinking.
		select {
		case <-received:
		case <-ctx.Done():
		}
		cancel()
	}()
	_, err := Call(ctx, path, Request{Cmd: "status"})
	want := "control request to " + path + ": context canceled"
	if err == nil || err.Error() != want || !errors.Is(err, context.Canceled) {
		t.Errorf("Call = %v; want %q", err, want)
	}
}

func TestCallErrorWording(t *testing.T) {
	const path = "/run/xhad/control.sock"
	expired, cancel := context.WithTimeout(context.Background(), 0)
	defer cancel()
	tests := []struct {
		name   string
		ctx    context.Context
		budget time.Duration
		err    error
		want   string
		wantIs error
	}{
		{"permission", context.Background(), time.Second, &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.EACCES)},
			"cannot reach the xhad control socket /run/xhad/control.sock: permission denied (run as root)", fs.ErrPermission},
		{"missing", context.Background(), time.Second, &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ENOENT)},
			"xhad is not running (no control socket at /run/xhad/control.sock); start it with `systemctl start xhad`", ErrNotRunning},
		{"refused", context.Background(), time.Second, &net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)},
			"xhad is not running (no control socket at /run/xhad/control.sock); start it with `systemctl start xhad`", ErrNotRunning},
		{"timeout", expired, 5 * time.Second, os.ErrDeadlineExceeded,
			"xhad did not answer within 5s on control socket /run/xhad/control.sock: context deadline exceeded", context.DeadlineExceeded},
		{"other", context.Background(), time.Second, syscall.EMSGSIZE,
			"control socket /run/xhad/control.sock: send request: message too long", syscall.EMSGSIZE},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := callError(tt.ctx, path, tt.budget, "send request", tt.err)
			if err.Error() != tt.want {
				t.Errorf("got  %q\nwant %q", err, tt.want)
			}
			if !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
		})
	}
}

func TestCallAfterServerClosed(t *testing.T) {
	path := filepath.Join(socketDir(t), "control.sock")
	r := serve(t, path, echo, nil)
	r.stop()
	_, err := Call(context.Background(), path, Request{Cmd: "status"})
	if !errors.Is(err, ErrNotRunning) {
		t.Errorf("Call after Close: %v; want the not-running error", err)
	}
}

func TestSuccessAndFailure(t *testing.T) {
	tests := []struct {
		name string
		got  Response
		want Response
	}{
		{"no data", Success(nil), Response{OK: true}},
		{"struct data", Success(struct {
			Role string `json:"role"`
		}{"ACTIVE"}), Response{OK: true, Data: json.RawMessage(`{"role":"ACTIVE"}`)}},
		{"data that cannot be encoded", Success(make(chan int)), Response{Error: "internal error: encode response data: json: unsupported type: chan int"}},
		{"failure", Failure(errors.New("takeover refused: peer is primary")), Response{Error: "takeover refused: peer is primary"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %+v (data %s), want %+v (data %s)", tt.got, tt.got.Data, tt.want, tt.want.Data)
			}
		})
	}
}

func BenchmarkCall(b *testing.B) {
	dir, err := os.MkdirTemp("", "xhadctl")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "control.sock")
	s, err := Listen(path)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, echo) }()
	defer func() {
		cancel()
		<-done
		s.Close()
	}()
	req := Request{Cmd: "echo", Args: map[string]string{"group": "vm-a"}}
	for b.Loop() {
		if resp, err := Call(context.Background(), path, req); err != nil || !resp.OK {
			b.Fatalf("Call: %+v, %v", resp, err)
		}
	}
}
