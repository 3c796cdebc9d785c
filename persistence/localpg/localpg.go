// Package localpg runs a private PostgreSQL server owned by one accord process.
//
// `accord serve` without DATABASE_URL, `make run` and the test harness (package pgtest) use
// it: the cluster lives in the accord data directory, is created with initdb on first use,
// and is started and stopped with pg_ctl from the installed PostgreSQL server binaries.
//
// Layout of the data directory:
//
//	DataDir/accord.lock  flock held by the owning accord process; holds its pid
//	DataDir/pg/          the PostgreSQL cluster (initdb'd into DataDir/pg.initdb, then renamed)
//	DataDir/run/         the server's unix socket (0700, so only its owner and root can connect)
//	DataDir/pg.log       the server log (pg_ctl -l)
//
// The server listens on its unix socket only, never on TCP, and trusts every connection on
// that socket: the socket directory is 0700, so only the user running PostgreSQL (and root)
// can reach it. The superuser role is "accord".
//
// PostgreSQL refuses to run as root. When accord runs as root, initdb, pg_ctl and the server
// run as the "postgres" system user if it exists, otherwise as a system user "accord" that
// Start creates with useradd. The commands get that user's uid and gid through
// SysProcAttr.Credential (no su or sudo). DataDir (unless it is world-writable like /tmp),
// DataDir/run and DataDir/pg.log are chowned to that user, and DataDir/pg as a whole if it
// belongs to someone else (the cluster was made by an unprivileged accord before). Every
// parent of DataDir must be searchable by that user, so DataDir cannot live under /root
// (0700); Start says so clearly rather than loosening permissions.
//
// A leftover server (its accord was SIGKILLed and the flock went with it) is stopped and
// started again under the new owner's control.
package localpg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrLocked means another live accord process holds the data directory. Start wraps it in an
// error that names the directory and the holder's pid.
var ErrLocked = errors.New("localpg: data directory is in use by another accord process")

// ErrNoBinaries means the PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found.
var ErrNoBinaries = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or in /usr/lib/postgresql/*/bin: install the postgresql package (apt-get install postgresql)")

const (
	// port only names the socket file (DataDir/run/.s.PGSQL.5432): no TCP port is opened.
	port = 5432
	// role is the superuser initdb creates; DSN connects as it.
	role = "accord"
	// defaultDatabase is the database Start ensures when Config.Database is empty.
	defaultDatabase = "accord"

	maxConnections = 200

	startTimeout    = 60 * time.Second // pg_ctl start -t
	stopFastTimeout = 10 * time.Second // pg_ctl stop -m fast -t
	stopImmTimeout  = 5 * time.Second  // pg_ctl stop -m immediate -t
)

// Config says where the private server lives and how to run it.
type Config struct {
	// DataDir is accord's data directory, created (0700) if absent. Required.
	// The cluster lives in DataDir/pg and the unix socket in DataDir/run; the socket path
	// must fit the 107-byte limit of unix sockets, so keep DataDir short.
	DataDir string
	// Logger receives structured progress and warnings; nil means slog.Default().
	Logger *slog.Logger
	// BinDir holds initdb, pg_ctl and postgres. Empty means: the directory of pg_ctl found on
	// PATH, then /usr/lib/postgresql/*/bin, newest version first; an existing cluster uses
	// the binaries of its own major version. When set, only BinDir is used.
	BinDir string
	// Database is created if missing once the server runs; empty means "accord".
	Database string
	// Fast trades crash safety for speed: initdb --no-sync and the server runs with
	// fsync=off, synchronous_commit=off and full_page_writes=off. An OS crash or power
	// loss can then corrupt the cluster. For throwaway test servers only (package pgtest).
	Fast bool
}

// Server is a running private PostgreSQL owned by this process. Stop it with Stop.
type Server struct {
	log      *slog.Logger
	dataDir  string // absolute
	pgDir    string // DataDir/pg
	sockDir  string // DataDir/run
	logFile  string // DataDir/pg.log
	database string
	run      *runner

	mu      sync.Mutex // guards lock, stopped, stopErr
	lock    *dirLock   // nil once released
	stopped bool
	stopErr error
}

// Start takes the data directory's lock, initializes the cluster on first use, starts the
// server (stopping a leftover one first) and ensures cfg.Database exists. On error nothing
// keeps running and the lock is released.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	if cfg.DataDir == "" {
		return nil, errors.New("localpg: Config.DataDir is required")
	}
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("localpg: data directory: %w", err)
	}
	if err := checkPath(dataDir); err != nil {
		return nil, err
	}
	database := cfg.Database
	if database == "" {
		database = defaultDatabase
	}
	s := &Server{
		log:      log.With("data_dir", dataDir),
		dataDir:  dataDir,
		pgDir:    filepath.Join(dataDir, "pg"),
		sockDir:  filepath.Join(dataDir, "run"),
		logFile:  filepath.Join(dataDir, "pg.log"),
		database: database,
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("localpg: create data directory: %w", err)
	}
	lock, err := lockDir(dataDir)
	if err != nil {
		return nil, err
	}
	s.lock = lock
	if err := s.start(ctx, cfg); err != nil {
		s.releaseLock()
		return nil, err
	}
	return s, nil
}

// start does everything after the lock is held; on error the server is not running.
func (s *Server) start(ctx context.Context, cfg Config) error {
	clusterVersion, err := s.clusterVersion()
	if err != nil {
		return err
	}
	bins, err := findBinaries(ctx, cfg.BinDir, clusterVersion)
	if err != nil {
		return err
	}
	user, err := serverUser(ctx, s.log)
	if err != nil {
		return err
	}
	s.run = &runner{bins: bins, user: user, dir: s.dataDir}
	s.log.Debug("localpg: using PostgreSQL", "bin_dir", bins.dir, "major", bins.major, "user", user.String())

	if err := s.prepareDirs(user); err != nil {
		return err
	}
	if clusterVersion == 0 {
		if err := s.initdb(ctx, cfg.Fast); err != nil {
			return err
		}
	}
	if err := s.stopLeftover(ctx); err != nil {
		return err
	}
	if err := s.pgCtlStart(ctx, cfg.Fast); err != nil {
		// pg_ctl may have given up (or been killed by ctx) after the postmaster began.
		s.stopAfterFailure(ctx)
		return err
	}
	if err := s.ensureDatabase(ctx); err != nil {
		s.stopAfterFailure(ctx)
		return err
	}
	s.log.Info("localpg: PostgreSQL started", "socket_dir", s.sockDir, "database", s.database,
		"major", bins.major, "user", user.String(), "fast", cfg.Fast)
	return nil
}

func (s *Server) stopAfterFailure(ctx context.Context) {
	if err := s.stopServer(context.WithoutCancel(ctx)); err != nil {
		s.log.Error("localpg: cannot stop PostgreSQL after a failed start", "err", err)
	}
}

// DSN is a libpq keyword/value connection string for the server's database, usable by
// pgx.ParseConfig and pgxpool.ParseConfig.
func (s *Server) DSN() string {
	return s.DSNFor(s.database)
}

// DSNFor is like DSN for another database on the same server.
func (s *Server) DSNFor(database string) string {
	return keywordDSN(
		"host", s.sockDir,
		"port", strconv.Itoa(port),
		"user", role,
		"dbname", database,
		"sslmode", "disable",
	)
}

// Stop shuts the server down (pg_ctl stop -m fast, then -m immediate if that fails) and
// releases the data directory's lock. It is idempotent: later calls return the first
// result. It finishes within about 20 s even if ctx has no deadline; when ctx ends first,
// the immediate shutdown is still attempted, so the server is not left running.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return s.stopErr
	}
	s.stopped = true
	s.stopErr = s.stopServer(ctx)
	s.releaseLockLocked()
	if s.stopErr == nil {
		s.log.Info("localpg: PostgreSQL stopped")
	}
	return s.stopErr
}

func (s *Server) releaseLock() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.releaseLockLocked()
}

// releaseLockLocked releases the flock. s.mu held on entry.
func (s *Server) releaseLockLocked() {
	if s.lock == nil {
		return
	}
	if err := s.lock.release(); err != nil {
		s.log.Warn("localpg: release data directory lock", "err", err)
	}
	s.lock = nil
}

// checkPath rejects data directories that pg_ctl (which builds a shell command with the path
// in double quotes) or unix_socket_directories cannot carry, and socket paths that are too
// long for a unix socket.
func checkPath(dataDir string) error {
	if i := strings.IndexAny(dataDir, "\"$`\\\n"); i >= 0 {
		return fmt.Errorf("localpg: data directory %q contains %q, which pg_ctl cannot handle; choose another path", dataDir, dataDir[i])
	}
	sock := filepath.Join(dataDir, "run", ".s.PGSQL."+strconv.Itoa(port))
	if len(sock) > maxSocketPath {
		return fmt.Errorf("localpg: socket path %s is %d bytes, over the %d-byte limit of unix sockets: use a shorter data directory", sock, len(sock), maxSocketPath)
	}
	return nil
}

// maxSocketPath is PostgreSQL's limit on a unix socket path (sizeof sun_path - 1).
const maxSocketPath = 107

// keywordDSN renders key/value pairs as a libpq keyword/value string, quoting values that
// need it.
func keywordDSN(kv ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(kv[i])
		b.WriteByte('=')
		v := kv[i+1]
		if v != "" && !strings.ContainsAny(v, " \t\n\r\v\f'\\") {
			b.WriteString(v)
			continue
		}
		b.WriteByte('\'')
		b.WriteString(strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v))
		b.WriteByte('\'')
	}
	return b.String()
}

// AttachDSN returns the DSN of the PostgreSQL that a running accord owns in
// dataDir, for commands (migrate, admin) that run beside it while Start
// reports ErrLocked. It does not check that the server answers.
func AttachDSN(dataDir, database string) (string, error) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", fmt.Errorf("localpg: %w", err)
	}
	if database == "" {
		database = defaultDatabase
	}
	return keywordDSN("host", filepath.Join(abs, "run"), "port", strconv.Itoa(port), "user", role,
		"dbname", database, "sslmode", "disable"), nil
}
