package localpg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// dirLock is an exclusive flock on DataDir/accord.lock. The kernel drops it when the file is
// unlocked or closed or the process dies, however it dies. flock belongs to the open file description,
// so a second open of the same file conflicts even inside one process. The file is opened
// close-on-exec, so pg_ctl and the postmaster never inherit it.
type dirLock struct {
	f *os.File
}

// lockedError is what a second Start on a held data directory returns; it wraps ErrLocked.
type lockedError struct {
	dir string
	pid string // "unknown" if the holder had not written its pid yet
}

func (e *lockedError) Error() string {
	return fmt.Sprintf("data directory %s is in use by another accord process (pid %s)", e.dir, e.pid)
}

func (e *lockedError) Unwrap() error { return ErrLocked }

// lockDir takes the lock without blocking and records our pid in it.
func lockDir(dataDir string) (*dirLock, error) {
	path := filepath.Join(dataDir, "accord.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("localpg: open lock file: %w", err)
	}
	if err := flock(f, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, &lockedError{dir: dataDir, pid: readLockPid(path)}
		}
		return nil, fmt.Errorf("localpg: lock %s: %w", path, err)
	}
	if err := writeLockPid(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("localpg: write lock file %s: %w", path, err)
	}
	return &dirLock{f: f}, nil
}

func flock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

func writeLockPid(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

func readLockPid(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return "unknown"
	}
	return strconv.Itoa(pid)
}

// release drops the lock. The file stays: removing it would let a process that opened the
// old file lock a different inode than the next one.
//
// It unlocks explicitly before closing: a child being forked by another goroutine holds a
// copy of the descriptor until it execs, and Close alone would leave the lock with that
// copy for a moment.
func (l *dirLock) release() error {
	errUnlock := flock(l.f, unix.LOCK_UN)
	return errors.Join(errUnlock, l.f.Close())
}
