// Package pgtest gives tests a real, throwaway PostgreSQL: one server per test binary,
// started by localpg (the same mechanism `accord serve` uses) in a temporary directory, and
// one fresh database per test.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestSomething(t *testing.T) {
//		dsn := pgtest.NewDatabase(t) // empty database, dropped when the test ends
//		...
//	}
//
// The server runs with localpg's Fast settings (no fsync): fine for data that lives as long
// as the test binary, never for anything else. Its directory is on /dev/shm when that is a
// tmpfs with at least 1 GiB free, since CREATE DATABASE creates a few hundred files and that
// is about ten times faster in memory (~20 ms instead of ~250 ms per database measured on
// ext4); otherwise in os.TempDir(). ACCORD_PGTEST_TMPDIR names another parent directory.
// A test binary that dies without running Main's cleanup (a test panics, -timeout fires)
// leaves its server running; the next Main with the same parent directory stops and
// removes it.
// It needs the PostgreSQL server binaries (Debian: apt-get install postgresql); without
// them Main fails, it does not skip.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sys/unix"

	"github.com/accordchat/accord/persistence/localpg"
)

const dirPrefix = "accord-pgtest-"

// server is set by Main before m.Run and read by tests; m.Run orders the two.
var server *localpg.Server

var seq atomic.Uint64 // numbers databases so their names are unique on the server

// Main starts the throwaway server, runs the tests, stops the server, removes its directory
// and returns the exit code for os.Exit. On SIGINT or SIGTERM it also stops the server and
// removes the directory before exiting, so an interrupted `go test` leaves nothing running.
func Main(m *testing.M) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	parent := tempParent()
	sweepOrphans(log, parent)
	dir, err := os.MkdirTemp(parent, dirPrefix)
	if err != nil {
		log.Error("pgtest: create data directory", "err", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	srv, err := localpg.Start(ctx, localpg.Config{DataDir: dir, Logger: log, Fast: true})
	cancel()
	if err != nil {
		log.Error("pgtest: cannot start the test PostgreSQL", "err", err)
		removeDir(log, dir)
		return 1
	}
	server = srv

	shutdown := func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := srv.Stop(ctx) // idempotent: the signal path and the normal path may both call it
		removeDir(log, dir)
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case sig := <-sigs:
			log.Warn("pgtest: interrupted, stopping the test PostgreSQL", "signal", sig.String())
			_ = shutdown()
			os.Exit(1)
		case <-done:
		}
	}()

	code := m.Run()

	signal.Stop(sigs)
	close(done)
	<-exited
	if err := shutdown(); err != nil {
		log.Error("pgtest: stop the test PostgreSQL", "err", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// tempParent picks the parent directory of the server's data directory.
func tempParent() string {
	if dir := os.Getenv("ACCORD_PGTEST_TMPDIR"); dir != "" {
		return dir
	}
	const shm = "/dev/shm"
	var st unix.Statfs_t
	if unix.Statfs(shm, &st) == nil && st.Type == unix.TMPFS_MAGIC &&
		st.Bavail*uint64(st.Bsize) >= 1<<30 && unix.Access(shm, unix.W_OK|unix.X_OK) == nil {
		return shm
	}
	return os.TempDir()
}

// sweepOrphans stops and removes servers of earlier test binaries that died without
// cleaning up (a panicking test, the -timeout panic, SIGKILL): their directory is unlocked.
// On /dev/shm they would otherwise hold memory until reboot. A directory younger than a few
// seconds is left alone: its binary may be between creating it and locking it.
func sweepOrphans(log *slog.Logger, parent string) {
	dirs, _ := filepath.Glob(filepath.Join(parent, dirPrefix+"*"))
	for _, dir := range dirs {
		fi, err := os.Stat(filepath.Join(dir, "accord.lock"))
		if err != nil {
			fi, err = os.Stat(dir)
		}
		if err != nil || time.Since(fi.ModTime()) < 10*time.Second || !unlocked(dir) {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "pg", "postmaster.pid")); err == nil {
			// Start stops the orphaned server (localpg's leftover handling); then stop ours.
			log.Warn("pgtest: stopping the PostgreSQL of an earlier test binary that died", "dir", dir)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			srv, err := localpg.Start(ctx, localpg.Config{DataDir: dir, Logger: log, Fast: true})
			if err == nil {
				err = srv.Stop(ctx)
			}
			cancel()
			if err != nil {
				if !errors.Is(err, localpg.ErrLocked) {
					log.Warn("pgtest: cannot clean up an earlier test server", "dir", dir, "err", err)
				}
				continue
			}
		}
		removeDir(log, dir)
	}
}

// unlocked reports whether no process holds dir's accord.lock (see localpg), probing with
// the same kind of flock.
func unlocked(dir string) bool {
	f, err := os.Open(filepath.Join(dir, "accord.lock"))
	if errors.Is(err, fs.ErrNotExist) {
		return true
	}
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }()
	if unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB) != nil {
		return false
	}
	_ = unix.Flock(int(f.Fd()), unix.LOCK_UN) // at once, not only at Close: see localpg's lock.go
	return true
}

func removeDir(log *slog.Logger, dir string) {
	if err := os.RemoveAll(dir); err != nil {
		log.Error("pgtest: remove data directory", "dir", dir, "err", err)
	}
}

// NewDatabase creates an empty database on the test server and returns its DSN (libpq
// keyword/value form, for pgx.ParseConfig or pgxpool.ParseConfig). The database is dropped
// when the test ends, closing any connections still open to it. Safe for parallel tests.
func NewDatabase(t testing.TB) string {
	t.Helper()
	if server == nil {
		t.Fatal("pgtest: no test server; call pgtest.Main from TestMain: func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }")
		return ""
	}
	name := databaseName(t.Name(), seq.Add(1))
	ident := pgx.Identifier{name}.Sanitize()
	if err := admin(context.Background(), "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := admin(context.Background(), "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return server.DSNFor(name)
}

// admin runs one statement on the maintenance database. A connection per call keeps
// parallel tests independent; over the unix socket it costs a few milliseconds.
func admin(ctx context.Context, sql string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, server.DSNFor("postgres"))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	_, err = conn.Exec(ctx, sql)
	return err
}

// databaseName makes a unique name that says which test made it (visible in
// pg_stat_activity and server logs): "t<seq>_<test name, sanitized>", at most 63 bytes.
func databaseName(testName string, n uint64) string {
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := fmt.Sprintf("t%d_%s", n, b.String())
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}
