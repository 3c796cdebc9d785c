package localpg

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// tempDataDir makes a data directory the way `mktemp -d` does: 0700, owned by us, directly
// under the system temp directory. (t.TempDir nests it in another 0700 directory, which the
// postgres user could not traverse when the tests run as root.)
func tempDataDir(t *testing.T, pattern string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove data dir: %v", err)
		}
	})
	return dir
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startServer starts a server and stops it at the end of the test.
func startServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	s, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { stopServer(t, s) })
	return s
}

func stopServer(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Stop took %v", d)
	}
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %q: %v", dsn, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func queryString(t *testing.T, conn *pgx.Conn, sql string) string {
	t.Helper()
	var s string
	if err := conn.QueryRow(context.Background(), sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestStartQueryStop(t *testing.T) {
	t.Parallel()
	dir := tempDataDir(t, "accord localpg-*") // a space: DSN and pg_ctl quoting must cope
	s := startServer(t, Config{DataDir: dir, Fast: true})

	cfg, err := pgx.ParseConfig(s.DSN())
	if err != nil {
		t.Fatalf("ParseConfig(%q): %v", s.DSN(), err)
	}
	if want := filepath.Join(dir, "run"); cfg.Host != want || cfg.Port != 5432 || cfg.User != "accord" || cfg.Database != "accord" {
		t.Errorf("DSN %q parses to host=%q port=%d user=%q db=%q, want host=%q port=5432 user=accord db=accord",
			s.DSN(), cfg.Host, cfg.Port, cfg.User, cfg.Database, want)
	}

	conn := connect(t, s.DSN())
	var one int
	if err := conn.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	if got := queryString(t, conn, "SELECT current_database()"); got != "accord" {
		t.Errorf("current_database() = %q, want accord", got)
	}
	if got := queryString(t, conn, "SHOW listen_addresses"); got != "" {
		t.Errorf("listen_addresses = %q, want '' (no TCP)", got)
	}
	if got := queryString(t, conn, "SHOW max_connections"); got != "200" {
		t.Errorf("max_connections = %q, want 200", got)
	}
	if got := queryString(t, conn, "SHOW fsync"); got != "off" {
		t.Errorf("fsync = %q with Fast, want off", got)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "accord.lock")); err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("accord.lock holds %q (%v), want our pid %d", b, err, os.Getpid())
	}

	// A second Start in this same process opens the lock file again: a new open file
	// description, so flock conflicts with our own lock.
	_, err = Start(context.Background(), Config{DataDir: dir, Logger: testLogger(t)})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Start: err = %v, want ErrLocked", err)
	}
	want := fmt.Sprintf("data directory %s is in use by another accord process (pid %d)", dir, os.Getpid())
	if err.Error() != want {
		t.Errorf("second Start: %q, want %q", err, want)
	}
	// ...and it left the running server alone.
	if err := conn.Ping(context.Background()); err != nil {
		t.Fatalf("server gone after refused second Start: %v", err)
	}

	stopServer(t, s)
	if err := s.Stop(context.Background()); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if err := conn.Ping(context.Background()); err == nil {
		t.Error("server still answers after Stop")
	}
	if _, err := os.Stat(filepath.Join(dir, "pg", "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("postmaster.pid after Stop: %v", err)
	}
	// Stop released the lock.
	l, err := lockDir(dir)
	if err != nil {
		t.Fatalf("lock after Stop: %v", err)
	}
	_ = l.release()
}

func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	dir := tempDataDir(t, "accord-localpg-*")
	cfg := Config{DataDir: dir, Database: "Chat DB"} // durable settings, a name that needs quoting
	s := startServer(t, cfg)
	conn := connect(t, s.DSN())
	if got := queryString(t, conn, "SELECT current_database()"); got != "Chat DB" {
		t.Errorf("current_database() = %q", got)
	}
	if got := queryString(t, conn, "SHOW fsync"); got != "on" {
		t.Errorf("fsync = %q without Fast, want on", got)
	}
	if _, err := conn.Exec(context.Background(), "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	stopServer(t, s)

	s2 := startServer(t, cfg)
	conn2 := connect(t, s2.DSN())
	if got := queryString(t, conn2, "SELECT v FROM kept"); got != "still here" {
		t.Errorf("after restart: %q", got)
	}
}

// TestStalePidFile starts over a postmaster.pid left by a server that is gone, and over one
// whose pid was reused by another live process.
func TestStalePidFile(t *testing.T) {
	t.Parallel()
	dir := tempDataDir(t, "accord-localpg-*")
	pidFile := filepath.Join(dir, "pg", "postmaster.pid")
	s := startServer(t, Config{DataDir: dir, Fast: true})
	stale, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	stopServer(t, s)

	for _, tc := range []struct {
		name string
		pid  int
	}{
		{"dead pid", deadPid(t)},
		// Not our own pid: PostgreSQL ignores its parent's and grandparent's pids anyway.
		{"pid reused by an unrelated process of the server's user", otherProcess(t, dir)},
	} {
		_, rest, _ := strings.Cut(string(stale), "\n")
		// Written as the server's user, as PostgreSQL itself would have.
		if err := os.WriteFile(pidFile, []byte(strconv.Itoa(tc.pid)+"\n"+rest), 0o600); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(filepath.Dir(pidFile)); err != nil {
			t.Fatal(err)
		} else if err := os.Chown(pidFile, int(ownerOf(fi)), -1); err != nil {
			t.Fatal(err)
		}
		s := startServer(t, Config{DataDir: dir, Fast: true})
		conn := connect(t, s.DSN())
		if err := conn.Ping(context.Background()); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		conn.Close(context.Background())
		stopServer(t, s)
	}
}

// otherProcess starts a process that runs as the owner of dataDir (the user PostgreSQL runs
// as) until the test ends, and returns its pid.
func otherProcess(t *testing.T, dataDir string) int {
	fi, err := os.Stat(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	cmd := exec.Command("sleep", "600")
	if os.Geteuid() == 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: st.Uid, Gid: st.Gid}}
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd.Process.Pid
}

// deadPid returns the pid of a process that has exited.
func deadPid(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

const helperEnv = "LOCALPG_TEST_OWNER_DIR"

// TestHelperOwner is not a test: TestOwnerKilled runs it in a child process as the accord
// that owns a data directory and then dies by SIGKILL.
func TestHelperOwner(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("helper process for TestOwnerKilled")
	}
	if _, err := Start(context.Background(), Config{DataDir: dir, Fast: true, Logger: testLogger(t)}); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	select {} // until SIGKILL
}

// TestOwnerKilled: while the owning accord lives, Start fails with its pid; once it was
// SIGKILLed its PostgreSQL keeps running, and Start stops that server and starts its own.
func TestOwnerKilled(t *testing.T) {
	t.Parallel()
	dir := tempDataDir(t, "accord-localpg-*")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperOwner$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}

	_, err = Start(context.Background(), Config{DataDir: dir, Logger: testLogger(t)})
	want := fmt.Sprintf("(pid %d)", cmd.Process.Pid)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Start while owner lives: %v, want ErrLocked naming %s", err, want)
	}

	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed = true
	_ = cmd.Wait()
	probe := &Server{pgDir: filepath.Join(dir, "pg")}
	oldPid, state := probe.postmaster()
	if state != postmasterOurs {
		t.Fatalf("PostgreSQL of the killed owner is not running (state %d): the test proves nothing", state)
	}

	s := startServer(t, Config{DataDir: dir, Fast: true})
	conn := connect(t, s.DSN())
	var one int
	if err := conn.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	newPid, state := s.postmaster()
	if state != postmasterOurs || newPid == oldPid {
		t.Errorf("postmaster after takeover: pid %d state %d, old pid %d: want a new server", newPid, state, oldPid)
	}
	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if !processGone(oldPid) {
			return fmt.Errorf("old postmaster %d still exists", oldPid)
		}
		return nil
	})
}

// processGone reports whether pid has exited (a zombie that is not reaped yet counts).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	_, after, _ := strings.Cut(string(stat), ") ")
	return strings.HasPrefix(after, "Z")
}

// checkFor polls fn until it succeeds or total has passed.
func checkFor(t *testing.T, total, every time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(every)
	}
}

func TestRootDataDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: PostgreSQL runs as ourselves, nothing to hand over")
	}
	t.Parallel()
	dir := tempDataDir(t, "tmp.*") // what `d=$(mktemp -d)` gives a root shell: 0700, root's
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 || ownerOf(fi) != 0 {
		t.Fatalf("setup: %v %v", fi, err)
	}
	s := startServer(t, Config{DataDir: dir, Fast: true})
	conn := connect(t, s.DSN())
	if got := queryString(t, conn, "SELECT current_user"); got != "accord" {
		t.Errorf("current_user = %q", got)
	}

	acct := s.run.user
	if acct == nil {
		t.Fatal("running as root but no server account chosen")
	}
	for _, p := range []string{dir, filepath.Join(dir, "pg"), filepath.Join(dir, "run"), filepath.Join(dir, "pg.log")} {
		fi, err := os.Stat(p)
		if err != nil || ownerOf(fi) != acct.uid {
			t.Errorf("%s: owner %d (%v), want %s (%d)", p, ownerOf(fi), err, acct.name, acct.uid)
		}
	}
	pid, _ := s.postmaster()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" && f[1] != strconv.Itoa(int(acct.uid)) {
			t.Errorf("postmaster runs as uid %s, want %d", f[1], acct.uid)
		}
	}
}

func TestRootUnreachableDataDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root")
	}
	t.Parallel()
	parent := tempDataDir(t, "accord-private-*") // 0700 root, like /root
	dir := filepath.Join(parent, "data")
	_, err := Start(context.Background(), Config{DataDir: dir, Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), parent+" is not searchable") {
		t.Fatalf("Start under a 0700 root directory: %v, want an error naming %s", err, parent)
	}
	l, err := lockDir(dir)
	if err != nil {
		t.Fatalf("failed Start kept the lock: %v", err)
	}
	_ = l.release()
}

func TestNoBinaries(t *testing.T) {
	empty := t.TempDir()
	t.Setenv("PATH", empty)
	old := debianBinGlob
	debianBinGlob = filepath.Join(empty, "*", "bin")
	t.Cleanup(func() { debianBinGlob = old })

	for _, binDir := range []string{empty, ""} {
		dir := tempDataDir(t, "accord-localpg-*")
		_, err := Start(context.Background(), Config{DataDir: dir, BinDir: binDir, Logger: testLogger(t)})
		if !errors.Is(err, ErrNoBinaries) {
			t.Fatalf("BinDir %q: err = %v, want ErrNoBinaries", binDir, err)
		}
		if !strings.Contains(err.Error(), "apt-get install postgresql") {
			t.Errorf("error does not say what to install: %v", err)
		}
		l, err := lockDir(dir)
		if err != nil {
			t.Fatalf("failed Start kept the lock: %v", err)
		}
		_ = l.release()
	}
}

// TestFindBinaries checks the search order with fake installations of two versions.
func TestFindBinaries(t *testing.T) {
	root := t.TempDir()
	t.Setenv("PATH", t.TempDir())
	old := debianBinGlob
	debianBinGlob = filepath.Join(root, "*", "bin")
	t.Cleanup(func() { debianBinGlob = old })
	for _, v := range []string{"9.6", "15", "16"} {
		bin := filepath.Join(root, v, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, name := range requiredBinaries {
			script := fmt.Sprintf("#!/bin/sh\necho '%s (PostgreSQL) %s.3 (Debian)'\n", name, v)
			if err := os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	ctx := context.Background()
	for _, tc := range []struct {
		cluster int
		want    string
	}{{0, "16"}, {15, "15"}, {16, "16"}, {9, "9.6"}} {
		b, err := findBinaries(ctx, "", tc.cluster)
		if err != nil || b.dir != filepath.Join(root, tc.want, "bin") {
			t.Errorf("cluster %d: %+v, %v; want %s", tc.cluster, b, err, tc.want)
		}
	}
	if _, err := findBinaries(ctx, "", 14); err == nil || !strings.Contains(err.Error(), "install postgresql-14") {
		t.Errorf("cluster 14 without its binaries: %v", err)
	}
	// PATH comes first, even when older.
	t.Setenv("PATH", filepath.Join(root, "15", "bin"))
	if b, err := findBinaries(ctx, "", 0); err != nil || b.major != 15 {
		t.Errorf("with 15 on PATH: %+v, %v", b, err)
	}
}

func TestKeywordDSN(t *testing.T) {
	for _, host := range []string{"/tmp/a", "/tmp/with space", `/tmp/it's`, `/tmp/back\slash`} {
		dsn := keywordDSN("host", host, "port", "5432", "user", "accord", "dbname", "", "sslmode", "disable")
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil || cfg.Host != host || cfg.Port != 5432 {
			t.Errorf("%q: host %q port %d, %v", dsn, cfg.Host, cfg.Port, err)
		}
	}
}

// TestStopCanceledContext: a caller whose context already ended still gets the server
// stopped (by immediate shutdown) rather than left running.
func TestStopCanceledContext(t *testing.T) {
	t.Parallel()
	dir := tempDataDir(t, "accord-localpg-*")
	s := startServer(t, Config{DataDir: dir, Fast: true})
	conn := connect(t, s.DSN())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := s.Stop(ctx); err != nil {
		t.Errorf("Stop(canceled ctx): %v", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Stop took %v", d)
	}
	if _, state := s.postmaster(); state == postmasterOurs {
		t.Error("server still running after Stop(canceled ctx)")
	}
	if err := conn.Ping(context.Background()); err == nil {
		t.Error("server still answers after Stop")
	}
}
