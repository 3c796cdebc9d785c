package localpg

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// serverAccount is the unprivileged user PostgreSQL runs as when accord runs as root.
type serverAccount struct {
	name     string
	uid, gid uint32
}

func (a *serverAccount) String() string {
	if a == nil {
		return "self"
	}
	return a.name
}

// serverUserNames are the accounts PostgreSQL may run as when we are root, in order of
// preference; the last one is created if none exists. A variable for tests.
var serverUserNames = []string{"postgres", "accord"}

// serverUser returns nil when we are not root (PostgreSQL then runs as us). As root it
// returns the "postgres" system user, or the "accord" system user, creating it if needed.
func serverUser(ctx context.Context, log *slog.Logger) (*serverAccount, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range serverUserNames {
		a, err := lookupAccount(name)
		if err == nil {
			return a, nil
		}
		var unknown user.UnknownUserError
		if !errors.As(err, &unknown) {
			return nil, fmt.Errorf("localpg: look up user %s: %w", name, err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	name := serverUserNames[len(serverUserNames)-1]
	out, err := exec.CommandContext(ctx, "useradd", "--system", "--no-create-home",
		"--shell", "/usr/sbin/nologin", name).CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("localpg: PostgreSQL cannot run as root and there is no postgres user; creating system user %s with useradd failed: %w: %s", name, err, trimOutput(out))
	}
	log.Info("localpg: created system user to run PostgreSQL", "user", name)
	a, err := lookupAccount(name)
	if err != nil {
		return nil, fmt.Errorf("localpg: look up user %s after useradd: %w", name, err)
	}
	return a, nil
}

func lookupAccount(name string) (*serverAccount, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(u.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.ParseUint(u.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", name, u.Gid, err)
	}
	if uid == 0 {
		return nil, fmt.Errorf("user %s is root, PostgreSQL refuses to run as root", name)
	}
	return &serverAccount{name: name, uid: uint32(uid), gid: uint32(gid)}, nil
}

// prepareDirs creates DataDir/run and DataDir/pg.log and, when PostgreSQL runs as another
// user, hands them and DataDir to that user and checks it can reach DataDir at all.
func (s *Server) prepareDirs(a *serverAccount) error {
	if a != nil {
		if err := checkReachable(s.dataDir, a); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(s.sockDir, 0o700); err != nil {
		return fmt.Errorf("localpg: create socket directory: %w", err)
	}
	if err := os.Chmod(s.sockDir, 0o700); err != nil {
		return fmt.Errorf("localpg: socket directory: %w", err)
	}
	f, err := os.OpenFile(s.logFile, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("localpg: create log file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("localpg: create log file: %w", err)
	}
	if a == nil {
		return nil
	}
	fi, err := os.Stat(s.dataDir)
	if err != nil {
		return fmt.Errorf("localpg: data directory: %w", err)
	}
	// A world-writable directory such as /tmp is usable as is and must not change owner.
	if fi.Mode().Perm()&0o002 == 0 {
		if err := chownTo(s.dataDir, a); err != nil {
			return err
		}
	} else {
		s.log.Warn("localpg: data directory is world-writable, leaving its owner alone")
	}
	for _, p := range []string{s.sockDir, s.logFile} {
		if err := chownTo(p, a); err != nil {
			return err
		}
	}
	// A cluster created by another user (accord ran unprivileged before) changes owner as
	// a whole; PostgreSQL requires its files to belong to the user running it.
	if fi, err := os.Stat(s.pgDir); err == nil && ownerOf(fi) != a.uid {
		s.log.Info("localpg: changing owner of the cluster", "user", a.name)
		err := filepath.WalkDir(s.pgDir, func(path string, _ fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(path, int(a.uid), int(a.gid))
		})
		if err != nil {
			return fmt.Errorf("localpg: chown cluster to %s: %w", a.name, err)
		}
	}
	return nil
}

func chownTo(path string, a *serverAccount) error {
	if err := os.Chown(path, int(a.uid), int(a.gid)); err != nil {
		return fmt.Errorf("localpg: chown %s to %s: %w", path, a.name, err)
	}
	return nil
}

func ownerOf(fi fs.FileInfo) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid
	}
	return 0
}

// checkReachable fails with a clear message when a parent of dataDir is not searchable by
// a (for example DataDir under /root, which is 0700). Only the primary group counts: the
// commands run with no supplementary groups.
func checkReachable(dataDir string, a *serverAccount) error {
	for dir := filepath.Dir(dataDir); ; dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("localpg: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if ok && !searchable(fi.Mode().Perm(), st.Uid, st.Gid, a) {
			return fmt.Errorf("localpg: PostgreSQL runs as user %s (uid %d), which cannot reach the data directory %s: %s is not searchable by it (mode %04o, owner uid %d); choose a data directory elsewhere (e.g. under /var/lib or /tmp) or allow access with chmod o+x %s",
				a.name, a.uid, dataDir, dir, fi.Mode().Perm(), st.Uid, dir)
		}
		if dir == filepath.Dir(dir) {
			return nil
		}
	}
}

func searchable(perm fs.FileMode, uid, gid uint32, a *serverAccount) bool {
	switch {
	case uid == a.uid:
		return perm&0o100 != 0
	case gid == a.gid:
		return perm&0o010 != 0
	default:
		return perm&0o001 != 0
	}
}
