package persistence

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrNoWorkerID is returned when all 1024 snowflake worker ids are leased.
var ErrNoWorkerID = errors.New("persistence: every snowflake worker id is leased")

// ErrLeaseLost is returned when a node's worker lease expired or was taken.
var ErrLeaseLost = errors.New("persistence: worker lease lost")

const workersLock = int64(0x61636b6579730002)

// LeaseWorker leases a free snowflake worker id for node for ttl. Leases are
// timed by the database clock.
func (s *Store) LeaseWorker(ctx context.Context, node string, ttl time.Duration) (int, error) {
	var worker int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, workersLock); err != nil {
			return err
		}
		err := tx.QueryRow(ctx, `
			SELECT g FROM generate_series(0, 1023) AS g
			WHERE NOT EXISTS (SELECT 1 FROM worker_leases l WHERE l.worker_id = g AND l.expires_at > now())
			ORDER BY g LIMIT 1`).Scan(&worker)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoWorkerID
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO worker_leases (worker_id, node, expires_at) VALUES ($1, $2, now() + $3::interval)
			ON CONFLICT (worker_id) DO UPDATE SET node = excluded.node, expires_at = excluded.expires_at`,
			worker, node, ttl.String())
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNoWorkerID) {
			return 0, err
		}
		return 0, fmt.Errorf("persistence: lease worker id: %w", err)
	}
	return worker, nil
}

// RenewWorker extends node's lease on worker; ErrLeaseLost when it is no
// longer node's.
func (s *Store) RenewWorker(ctx context.Context, worker int, node string, ttl time.Duration) error {
	tag, err := s.pool.Exec(ctx, `UPDATE worker_leases SET expires_at = now() + $3::interval
		WHERE worker_id = $1 AND node = $2 AND expires_at > now()`, worker, node, ttl.String())
	if err != nil {
		return fmt.Errorf("persistence: renew worker lease: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrLeaseLost
	}
	return nil
}

// ReleaseWorker gives the lease back on shutdown.
func (s *Store) ReleaseWorker(ctx context.Context, worker int, node string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM worker_leases WHERE worker_id = $1 AND node = $2`, worker, node)
	if err != nil {
		return fmt.Errorf("persistence: release worker lease: %w", err)
	}
	return nil
}

// WorkerLease keeps a snowflake worker id leased for one node.
type WorkerLease struct {
	Store  *Store
	Node   string
	TTL    time.Duration // default 30s
	Logger *slog.Logger
	// OnLease is called with the worker id and the local time until which it
	// may be used, after every acquisition and renewal.
	OnLease func(worker int, validUntil time.Time)

	worker int
}

// Acquire takes the first lease. Call it before Run.
func (w *WorkerLease) Acquire(ctx context.Context) error {
	if w.TTL == 0 {
		w.TTL = 30 * time.Second
	}
	start := time.Now()
	worker, err := w.Store.LeaseWorker(ctx, w.Node, w.TTL)
	if err != nil {
		return err
	}
	w.worker = worker
	w.OnLease(worker, w.validUntil(start))
	return nil
}

// validUntil is the local deadline for a lease requested at start: the TTL
// less a margin for clock rate differences and the request's own latency.
func (w *WorkerLease) validUntil(start time.Time) time.Time {
	return start.Add(w.TTL - w.TTL/6)
}

// Worker returns the leased worker id.
func (w *WorkerLease) Worker() int { return w.worker }

// Run renews the lease every TTL/3 until ctx ends, re-acquiring a new id if
// the old one was lost; then releases it.
func (w *WorkerLease) Run(ctx context.Context) {
	t := time.NewTicker(w.TTL / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_ = w.Store.ReleaseWorker(rctx, w.worker, w.Node)
			cancel()
			return
		case <-t.C:
		}
		start := time.Now()
		rctx, cancel := context.WithTimeout(ctx, w.TTL/3)
		err := w.Store.RenewWorker(rctx, w.worker, w.Node, w.TTL)
		if errors.Is(err, ErrLeaseLost) {
			w.Logger.Warn("snowflake worker lease lost; leasing a new one", slog.Int("worker", w.worker))
			var worker int
			worker, err = w.Store.LeaseWorker(rctx, w.Node, w.TTL)
			if err == nil {
				w.worker = worker
			}
		}
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				w.Logger.Error("renewing snowflake worker lease failed; ids stop when it expires", slog.Any("error", err))
			}
			continue
		}
		w.OnLease(w.worker, w.validUntil(start))
	}
}
