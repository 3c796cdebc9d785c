// Package persistence owns Accord's PostgreSQL: the connection pool, the
// embedded migrations and the repositories every other layer reads and writes
// through. It returns concrete types; consumers declare the small interfaces
// they need.
package persistence

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
)

// Errors returned by the repositories.
var (
	// ErrNotFound is returned when the requested row does not exist.
	ErrNotFound = errors.New("persistence: not found")
	// ErrEmailTaken is returned when an email address is already registered.
	ErrEmailTaken = errors.New("persistence: email already registered")
	// ErrUsernameTaken is returned when every discriminator of a username is in use.
	ErrUsernameTaken = errors.New("persistence: too many users have this username")
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the handle on Accord's database. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to the database named by dsn (a URL or libpq keyword string),
// waits until it answers, and applies the embedded migrations.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("persistence: parse database url: %w", err)
	}
	if cfg.MaxConns < 8 {
		cfg.MaxConns = 8
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("persistence: connect: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("persistence: connect: %w", err)
	}
	s := &Store{pool: pool}
	if err := s.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// Migrate applies every embedded migration not yet applied. tern holds a
// PostgreSQL advisory lock while it works, so nodes starting together migrate
// once.
func (s *Store) Migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("persistence: migrate: %w", err)
	}
	defer conn.Release()
	m, err := migrate.NewMigrator(ctx, conn.Conn(), "public.schema_version")
	if err != nil {
		return fmt.Errorf("persistence: migrate: %w", err)
	}
	if err := m.LoadMigrations(mustSub(migrations, "migrations")); err != nil {
		return fmt.Errorf("persistence: load migrations: %w", err)
	}
	if err := m.Migrate(ctx); err != nil {
		return fmt.Errorf("persistence: migrate: %w", err)
	}
	return nil
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Pool exposes the pool to the message writer and to tests.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes every connection.
func (s *Store) Close() { s.pool.Close() }

func isUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505" && (constraint == "" || pgErr.ConstraintName == constraint)
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}
