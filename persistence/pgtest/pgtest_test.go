package pgtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
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

	"github.com/accordchat/accord/persistence/localpg"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(orphanEnv); dir != "" {
		orphanHelper(dir)
		return
	}
	os.Exit(Main(m))
}

const orphanEnv = "PGTEST_ORPHAN_DIR"

// orphanHelper plays a test binary that started its server and then died: it starts a
// server in dir, says so, and waits for SIGKILL.
func orphanHelper(dir string) {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if _, err := localpg.Start(context.Background(), localpg.Config{DataDir: dir, Fast: true, Logger: log}); err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Println("ready")
	select {}
}

func TestSweepOrphans(t *testing.T) {
	parent, err := os.MkdirTemp("", "pgtest-sweep-") // 0700 but only root needs to read it
	if err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chmod(parent, 0o711); err != nil { // the postgres user must traverse it
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	orphan := filepath.Join(parent, dirPrefix+"orphan")
	young := filepath.Join(parent, dirPrefix+"young") // just made by a binary about to lock it
	for _, d := range []string{orphan, young} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}

	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), orphanEnv+"="+orphan)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper said %q, %v", line, err)
	}
	pidFile, err := os.ReadFile(filepath.Join(orphan, "pg", "postmaster.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(pidFile), "\n", 2)[0])

	// Old enough to sweep, were it not locked.
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(filepath.Join(orphan, "accord.lock"), old, old); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	sweepOrphans(log, parent) // its binary still lives: untouched
	if _, err := os.Stat(orphan); err != nil {
		t.Fatalf("swept the directory of a live binary: %v", err)
	}

	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("the dead binary's PostgreSQL is not running (%v): the test proves nothing", err)
	}
	sweepOrphans(log, parent)
	if _, err := os.Stat(orphan); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("orphan directory still there: %v", err)
	}
	if _, err := os.Stat(young); err != nil {
		t.Errorf("swept a directory made moments ago: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("orphaned PostgreSQL %d still running", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processGone reports whether pid has exited (an unreaped zombie counts).
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

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	conn := connect(t, server.DSNFor("postgres"))
	var exists bool
	err := conn.QueryRow(context.Background(), "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists)
	if err != nil {
		t.Fatal(err)
	}
	return exists
}

func TestNewDatabaseIsFreshAndDropped(t *testing.T) {
	var name string
	t.Run("use", func(t *testing.T) {
		dsn := NewDatabase(t)
		conn := connect(t, dsn)
		if err := conn.QueryRow(context.Background(), "SELECT current_database()").Scan(&name); err != nil {
			t.Fatal(err)
		}
		var tables int
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").Scan(&tables); err != nil || tables != 0 {
			t.Fatalf("fresh database has %d tables (%v)", tables, err)
		}
		if _, err := conn.Exec(context.Background(), "CREATE TABLE t (v int); INSERT INTO t VALUES (1)"); err != nil {
			t.Fatal(err)
		}
		var fsync string
		if err := conn.QueryRow(context.Background(), "SHOW fsync").Scan(&fsync); err != nil || fsync != "off" {
			t.Errorf("fsync = %q (%v), want off on the test server", fsync, err)
		}
		// The connection stays open: the drop at cleanup must not wait for it.
	})
	if name == "" || !strings.Contains(name, "newdatabaseisfreshanddropped") {
		t.Fatalf("database name %q does not name its test", name)
	}
	if databaseExists(t, name) {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

func TestDatabasesAreIsolated(t *testing.T) {
	a, b := NewDatabase(t), NewDatabase(t)
	if a == b {
		t.Fatalf("same DSN twice: %s", a)
	}
	ca, cb := connect(t, a), connect(t, b)
	if _, err := ca.Exec(context.Background(), "CREATE TABLE only_in_a (v int)"); err != nil {
		t.Fatal(err)
	}
	if _, err := cb.Exec(context.Background(), "SELECT * FROM only_in_a"); err == nil {
		t.Error("table created in one database is visible in another")
	}
}

func TestParallel(t *testing.T) {
	for i := range 16 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			conn := connect(t, NewDatabase(t))
			if _, err := conn.Exec(context.Background(), "CREATE TABLE t (v int)"); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(context.Background(), "INSERT INTO t VALUES ($1)", i); err != nil {
				t.Fatal(err)
			}
			var sum int
			if err := conn.QueryRow(context.Background(), "SELECT sum(v) FROM t").Scan(&sum); err != nil || sum != i {
				t.Errorf("sum = %d (%v), want %d: databases shared between parallel tests?", sum, err, i)
			}
		})
	}
}

func TestDatabaseName(t *testing.T) {
	for _, tc := range []struct {
		test string
		n    uint64
		want string
	}{
		{"TestX", 1, "t1_testx"},
		{"TestX/sub case#01", 22, "t22_testx_sub_case_01"},
		{"Test" + strings.Repeat("Long", 30), 3, ("t3_test" + strings.Repeat("long", 30))[:63]},
	} {
		if got := databaseName(tc.test, tc.n); got != tc.want {
			t.Errorf("databaseName(%q, %d) = %q, want %q", tc.test, tc.n, got, tc.want)
		}
	}
}

// fatalTB records Fatal instead of ending the goroutine.
type fatalTB struct {
	testing.TB
	msg string
}

type fatalCalled struct{}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	panic(fatalCalled{})
}

func TestNewDatabaseWithoutMain(t *testing.T) {
	saved := server
	server = nil
	defer func() { server = saved }()

	tb := &fatalTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil {
				if _, ok := r.(fatalCalled); !ok {
					panic(r)
				}
			}
		}()
		NewDatabase(tb)
	}()
	if !strings.Contains(tb.msg, "pgtest.Main") {
		t.Errorf("without Main: Fatal(%q), want a hint to call pgtest.Main", tb.msg)
	}
}
