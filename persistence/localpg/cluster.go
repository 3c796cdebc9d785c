package localpg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// runner runs the PostgreSQL binaries: as serverAccount when we are root, in DataDir, in
// their own process group (a Ctrl-C meant for accord does not hit pg_ctl half-way; accord
// stops the server itself), without the caller's PG* environment.
type runner struct {
	bins binaries
	user *serverAccount // nil: run as ourselves
	dir  string
}

// run runs a binary from bins and returns its combined output. The postmaster that pg_ctl
// starts writes to the log file, not to our pipe, so Wait does not wait for it; WaitDelay
// bounds Wait even if something keeps the pipe open.
func (r *runner) run(ctx context.Context, timeout time.Duration, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bins.path(name), args...)
	cmd.Dir = r.dir
	cmd.Env = childEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if r.user != nil {
		// No supplementary groups: root's must not leak into PostgreSQL.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: r.user.uid, Gid: r.user.gid}
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) {
		err = nil // exited successfully; only a stray descriptor held the pipe
	}
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%w)", err, ctxErr) // killed on timeout: say so
		}
		err = fmt.Errorf("localpg: %s %s: %w", name, args[0], err)
		if o := trimOutput(out.Bytes()); o != "" {
			err = fmt.Errorf("%w: %s", err, o)
		}
		return out.String(), err
	}
	return out.String(), nil
}

// childEnv is our environment without PG* variables (PGDATA, PGPORT, PGOPTIONS, ...), which
// initdb, pg_ctl and postgres would otherwise honour.
func childEnv() []string {
	env := os.Environ()
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PG") {
			out = append(out, kv)
		}
	}
	return out
}

func trimOutput(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return s
}

// clusterVersion is the major version in DataDir/pg/PG_VERSION, or 0 when DataDir/pg is
// missing or empty (no cluster yet).
func (s *Server) clusterVersion() (int, error) {
	b, err := os.ReadFile(filepath.Join(s.pgDir, "PG_VERSION"))
	if err == nil {
		v := strings.TrimSpace(string(b))
		major, err := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
		if err != nil {
			return 0, fmt.Errorf("localpg: %s/PG_VERSION holds %q, not a version", s.pgDir, v)
		}
		return major, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("localpg: %w", err)
	}
	entries, err := os.ReadDir(s.pgDir)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("localpg: %w", err)
	}
	return 0, fmt.Errorf("localpg: %s is not empty but holds no PostgreSQL cluster (no PG_VERSION); move it away to start afresh", s.pgDir)
}

// initdb creates the cluster in DataDir/pg.initdb and renames it to DataDir/pg once
// complete, so an interrupted first run leaves no half-made cluster behind.
func (s *Server) initdb(ctx context.Context, fast bool) error {
	tmp := filepath.Join(s.dataDir, "pg.initdb")
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("localpg: remove leftover %s: %w", tmp, err)
	}
	if err := os.Remove(s.pgDir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("localpg: %w", err) // clusterVersion made sure it is empty
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	if s.run.user != nil {
		if err := chownTo(tmp, s.run.user); err != nil {
			return err
		}
	}
	args := []string{"-D", tmp, "-U", role, "--auth-local=trust", "--auth-host=reject",
		"-E", "UTF8", "--locale=C"}
	if fast {
		args = append(args, "--no-sync")
	}
	s.log.Info("localpg: creating PostgreSQL cluster (initdb)", "bin_dir", s.run.bins.dir)
	start := time.Now()
	out, err := s.run.run(ctx, 2*time.Minute, "initdb", args...)
	if err != nil {
		return err
	}
	s.log.Debug("localpg: initdb done", "output", out)
	if err := os.Rename(tmp, s.pgDir); err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	if !fast {
		if err := syncDir(s.dataDir); err != nil {
			return err
		}
	}
	s.log.Info("localpg: cluster created", "took", time.Since(start).Round(time.Millisecond))
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("localpg: %w", err)
	}
	defer func() { _ = d.Close() }()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("localpg: sync %s: %w", dir, err)
	}
	return nil
}

// pgCtlStart starts the server on its unix socket only and waits until it accepts
// connections.
func (s *Server) pgCtlStart(ctx context.Context, fast bool) error {
	opts := []string{
		"-p", strconv.Itoa(port), // names the socket file only
		"-c", "listen_addresses=", // no TCP
		"-c", "unix_socket_directories=" + `"` + s.sockDir + `"`,
		"-c", "max_connections=" + strconv.Itoa(maxConnections),
	}
	if fast {
		opts = append(opts, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	quoted := make([]string, len(opts))
	for i, o := range opts {
		quoted[i] = shellQuote(o) // pg_ctl hands -o to /bin/sh
	}
	out, err := s.run.run(ctx, startTimeout+10*time.Second, "pg_ctl", "start",
		"-D", s.pgDir, "-w", "-t", strconv.Itoa(int(startTimeout/time.Second)),
		"-l", s.logFile, "-o", strings.Join(quoted, " "))
	if err != nil {
		return fmt.Errorf("%w\n%s (last lines):\n%s", err, s.logFile, tailFile(s.logFile, 20))
	}
	s.log.Debug("localpg: pg_ctl start", "output", out)
	return nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func tailFile(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

// stopServer stops the server in DataDir/pg: fast shutdown (sessions are terminated,
// a shutdown checkpoint is written), then immediate shutdown if that fails or ctx ends.
// A server that is not running is not an error.
func (s *Server) stopServer(ctx context.Context) error {
	if _, state := s.postmaster(); state != postmasterOurs {
		return nil
	}
	_, err := s.run.run(ctx, stopFastTimeout+2*time.Second, "pg_ctl", "stop", "-D", s.pgDir,
		"-m", "fast", "-w", "-t", strconv.Itoa(int(stopFastTimeout/time.Second)))
	if err == nil {
		return nil
	}
	if _, state := s.postmaster(); state != postmasterOurs {
		return nil
	}
	s.log.Warn("localpg: fast shutdown failed, trying immediate shutdown", "err", err)
	_, err = s.run.run(context.WithoutCancel(ctx), stopImmTimeout+2*time.Second, "pg_ctl", "stop",
		"-D", s.pgDir, "-m", "immediate", "-w", "-t", strconv.Itoa(int(stopImmTimeout/time.Second)))
	if err == nil {
		return nil
	}
	if _, state := s.postmaster(); state != postmasterOurs {
		return nil
	}
	return err
}

// stopLeftover stops a server still running in DataDir/pg although its accord is gone
// (accord was SIGKILLed; PostgreSQL runs in its own session and survives), so that it
// restarts with our settings under our control. A postmaster.pid whose pid now belongs to
// an unrelated process (pids are reused quickly in containers) is removed, since
// PostgreSQL would otherwise refuse to start when that process runs as the same user.
// A postmaster.pid whose process is gone is left to PostgreSQL, which replaces it.
func (s *Server) stopLeftover(ctx context.Context) error {
	pid, state := s.postmaster()
	switch state {
	case postmasterNone:
		return nil
	case postmasterStale:
		s.log.Info("localpg: stale postmaster.pid (server not running)", "pid", pid)
		return nil
	case postmasterForeign:
		s.log.Warn("localpg: postmaster.pid names a process that is not our PostgreSQL, removing it", "pid", pid)
		if err := os.Remove(filepath.Join(s.pgDir, "postmaster.pid")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("localpg: %w", err)
		}
		return nil
	}
	s.log.Warn("localpg: stopping PostgreSQL left running by a previous accord process", "pid", pid)
	if err := s.stopServer(ctx); err != nil {
		return fmt.Errorf("localpg: stop leftover PostgreSQL (pid %d): %w", pid, err)
	}
	return nil
}

type postmasterState int

const (
	postmasterNone    postmasterState = iota // no postmaster.pid
	postmasterStale                          // its process is gone
	postmasterForeign                        // its pid belongs to another process
	postmasterOurs                           // a process running in DataDir/pg: our server
)

// postmaster reads DataDir/pg/postmaster.pid and says whether that process is a server of
// this cluster: a live process whose working directory is the cluster (the postmaster
// changes into its data directory first thing).
func (s *Server) postmaster() (int, postmasterState) {
	b, err := os.ReadFile(filepath.Join(s.pgDir, "postmaster.pid"))
	if err != nil {
		return 0, postmasterNone
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 { // never signal 0 or -1: those mean process groups
		return 0, postmasterStale
	}
	if err := unix.Kill(pid, 0); errors.Is(err, unix.ESRCH) {
		return pid, postmasterStale
	}
	cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrNotExist):
		if _, err := os.Stat("/proc/self"); err != nil {
			return pid, postmasterOurs // no /proc to tell: trust the pid file, as pg_ctl does
		}
		return pid, postmasterStale // exited meanwhile
	default:
		// EACCES: another user's process. Ours runs as us (or as the server account, which
		// root can inspect), so it is not our server.
		return pid, postmasterForeign
	}
	if cwd == s.pgDir {
		return pid, postmasterOurs
	}
	if real, err := filepath.EvalSymlinks(s.pgDir); err == nil && cwd == real {
		return pid, postmasterOurs
	}
	return pid, postmasterForeign
}
