package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the accord binary built once for the package's tests: these
// tests run real `accord serve` processes.
var binary string

func TestMain(m *testing.M) {
	if os.Getenv(bareEnv) != "" {
		os.Exit(runBareBroadcast())
	}
	dir, err := os.MkdirTemp("", "accord-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "accord")
	out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build accord: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback address with a port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer collects a process's output for failure messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type node struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	done chan struct{}
	err  error
}

// startNode runs `accord serve` on dataDir with fresh ports and waits until
// /readyz answers 200.
func startNode(t *testing.T, dataDir string, extra ...string) *node {
	t.Helper()
	n := launch(t, dataDir, extra...)
	deadline := time.Now().Add(90 * time.Second)
	for {
		resp, err := http.Get(n.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n
			}
		}
		select {
		case <-n.done:
			t.Fatalf("accord exited before ready: %v\n%s", n.err, n.logs)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("accord not ready in 90 s\n%s", n.logs)
		}
	}
}

func launch(t *testing.T, dataDir string, extra ...string) *node {
	t.Helper()
	httpAddr := freePort(t)
	args := append([]string{"serve", "--data-dir", dataDir, "--http-addr", httpAddr,
		"--gossip-addr", freePort(t), "--remote-addr", freePort(t)}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL=")
	logs := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, cmd: cmd, url: "http://" + httpAddr, logs: logs, done: make(chan struct{})}
	go func() { n.err = cmd.Wait(); close(n.done) }()
	t.Cleanup(func() {
		select {
		case <-n.done:
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-n.done:
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				<-n.done
			}
		}
	})
	return n
}

// stop sends SIGTERM and waits for the exit, failing past 30 s.
func (n *node) stop() {
	n.t.Helper()
	start := time.Now()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(30 * time.Second):
		n.t.Fatalf("accord did not stop within 30 s of SIGTERM\n%s", n.logs)
	}
	if n.err != nil {
		n.t.Fatalf("accord exited with %v after SIGTERM\n%s", n.err, n.logs)
	}
	n.t.Logf("SIGTERM → exit in %v", time.Since(start).Round(time.Millisecond))
}

func (n *node) kill() {
	_ = n.cmd.Process.Kill()
	<-n.done
}

type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (n *node) do(method, path, auth string, body any) response {
	n.t.Helper()
	r, err := n.tryDo(method, path, auth, body)
	if err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// tryDo is do for load generators: errors are returned, not fatal.
func (n *node) tryDo(method, path, auth string, body any) (response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		rd = bytes.NewReader(buf)
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, n.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r, nil
}

func (n *node) expect(r response, status int) response {
	n.t.Helper()
	if r.status != status {
		n.t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	return r
}

func str(m map[string]any, key string) string { s, _ := m[key].(string); return s }

// TestAccountFlow is the README's walk-through against a real node with its
// private PostgreSQL: register, log in every way, each Authorization form,
// refresh, reuse detection, logout, and data surviving a restart.
func TestAccountFlow(t *testing.T) {
	dir := tempDir(t)
	n := startNode(t, dir)

	reg := n.expect(n.do("POST", "/api/auth/register", "", map[string]string{
		"username": "ada", "email": "Ada@Example.com", "password": "correct horse"}), 201)
	user, _ := reg.body["user"].(map[string]any)
	if str(reg.body, "token_type") != "Bearer" || reg.body["expires_in"] != float64(900) || str(user, "id") == "" {
		t.Fatalf("register answer: %s", reg.raw)
	}
	disc := str(user, "discriminator")

	for _, login := range []string{"ada@example.com", "ada#" + disc, "ada"} {
		n.expect(n.do("POST", "/api/auth/login", "", map[string]string{"login": login, "password": "correct horse"}), 200)
	}
	bad := n.expect(n.do("POST", "/api/auth/login", "", map[string]string{"login": "ada@example.com", "password": "wrong password"}), 400)
	none := n.expect(n.do("POST", "/api/auth/login", "", map[string]string{"login": "nobody@example.com", "password": "wrong password"}), 400)
	if bad.raw != none.raw || bad.body["code"] != float64(50035) {
		t.Fatalf("failed logins differ: %s vs %s", bad.raw, none.raw)
	}

	access, refresh := str(reg.body, "access_token"), str(reg.body, "refresh_token")
	for _, auth := range []string{"Bearer " + access, "Bot " + access, access} {
		me := n.expect(n.do("GET", "/api/v10/users/@me", auth, nil), 200)
		if str(me.body, "id") != str(user, "id") || str(me.body, "email") != "Ada@Example.com" {
			t.Fatalf("@me: %s", me.raw)
		}
		if ct := me.header.Get("Content-Type"); ct != "application/json" {
			t.Fatalf("Content-Type %q", ct)
		}
	}

	ref := n.expect(n.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": refresh}), 200)
	access2, refresh2 := str(ref.body, "access_token"), str(ref.body, "refresh_token")
	if refresh2 == "" || refresh2 == refresh {
		t.Fatalf("refresh did not rotate: %s", ref.raw)
	}
	n.expect(n.do("GET", "/api/v10/users/@me", "Bearer "+access2, nil), 200)
	// Reusing the rotated token revokes the family: the new pair dies too.
	n.expect(n.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": refresh}), 401)
	n.expect(n.do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": refresh2}), 401)
	waitStatus(t, n, "Bearer "+access2, 401)

	// A second login, then logout all: its token stops working.
	login := n.expect(n.do("POST", "/api/auth/login", "", map[string]string{"login": "ada", "password": "correct horse"}), 200)
	a3 := str(login.body, "access_token")
	n.expect(n.do("POST", "/api/auth/logout", "Bearer "+a3, map[string]bool{"all": true}), 204)
	waitStatus(t, n, "Bearer "+a3, 401)

	// Key rotation runs beside the live node, through its PostgreSQL socket,
	// and tokens signed before it keep verifying.
	if out, err := exec.Command(binary, "admin", "rotate-signing-key", "--data-dir", dir).CombinedOutput(); err != nil {
		t.Fatalf("rotate-signing-key beside a running node: %v\n%s", err, out)
	}
	again := n.expect(n.do("POST", "/api/auth/login", "", map[string]string{"login": "ada", "password": "correct horse"}), 200)
	n.expect(n.do("GET", "/api/v10/users/@me", "Bearer "+str(again.body, "access_token"), nil), 200)

	// Data survives a restart.
	n.stop()
	n = startNode(t, dir)
	n.expect(n.do("POST", "/api/auth/login", "", map[string]string{"login": "ada#" + disc, "password": "correct horse"}), 200)
	n.stop()
}

func waitStatus(t *testing.T, n *node, auth string, status int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := n.do("GET", "/api/v10/users/@me", auth, nil)
		if r.status == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET @me still %d after 5 s, want %d", r.status, status)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDataDirOwnership checks the lock on the data directory: a second node
// is refused while the first lives, and a SIGKILLed node's directory (with
// its PostgreSQL still running) is taken over by the next start.
func TestDataDirOwnership(t *testing.T) {
	dir := tempDir(t)
	n := startNode(t, dir)
	n.expect(n.do("POST", "/api/auth/register", "", map[string]string{
		"username": "bob", "email": "bob@example.com", "password": "hunter2hunter2"}), 201)

	second := launch(t, dir)
	select {
	case <-second.done:
	case <-time.After(30 * time.Second):
		t.Fatal("second accord on the same data dir kept running")
	}
	if second.err == nil || !strings.Contains(second.logs.String(), "in use") {
		t.Fatalf("second accord: err=%v, output:\n%s", second.err, second.logs)
	}
	n.expect(n.do("GET", "/livez", "", nil), 200)

	n.kill()
	n = startNode(t, dir)
	n.expect(n.do("POST", "/api/auth/login", "", map[string]string{"login": "bob", "password": "hunter2hunter2"}), 200)
	n.stop()
}

// TestMktempDataDir starts accord on a 0700 directory made by mktemp, which
// as root must be handed to the unprivileged PostgreSQL user.
func TestMktempDataDir(t *testing.T) {
	out, err := exec.Command("mktemp", "-d").Output()
	if err != nil {
		t.Skip("mktemp unavailable:", err)
	}
	dir := strings.TrimSpace(string(out))
	t.Cleanup(func() { os.RemoveAll(dir) })
	n := startNode(t, dir)
	n.expect(n.do("GET", "/api/v10/users/@me", "", nil), 401)
	n.stop()
}

// tempDir makes a data directory the way an operator would (mktemp -d): a
// 0700 directory in a world-traversable parent. t.TempDir nests it in a
// 0700 parent that PostgreSQL's unprivileged user could not traverse.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "accord-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
