package persistence

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Discord's session start limit: a bot may identify SessionStartLimit times
// per SessionStartWindow.
const (
	SessionStartLimit  = 1000
	SessionStartWindow = 24 * time.Hour
)

// sessionStartLock is the advisory lock class that serialises one bot's
// session starts (the second key is the bot's id, truncated).
const sessionStartLock = 0x5e55

// StartSession records a gateway session start of bot botID if it made fewer
// than limit in the last SessionStartWindow; ok is false (nothing recorded)
// when it made them all. resetAfter is when the oldest start in the window
// leaves it.
func (s *Store) StartSession(ctx context.Context, botID int64, limit int) (ok bool, resetAfter time.Duration, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2::int)`, sessionStartLock, int32(botID)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM session_starts WHERE user_id = $1 AND started_at < now() - $2::interval`,
			botID, SessionStartWindow.String()); err != nil {
			return err
		}
		used, reset, err := sessionStarts(ctx, tx, botID)
		if err != nil {
			return err
		}
		resetAfter = reset
		if used >= limit {
			return nil
		}
		ok = true
		_, err = tx.Exec(ctx, `INSERT INTO session_starts (user_id) VALUES ($1)`, botID)
		return err
	})
	if err != nil {
		return false, 0, fmt.Errorf("persistence: record a session start: %w", err)
	}
	return ok, resetAfter, nil
}

// SessionStarts counts userID's session starts in the last
// SessionStartWindow and says when the oldest leaves it (the whole window
// when there is none).
func (s *Store) SessionStarts(ctx context.Context, userID int64) (used int, resetAfter time.Duration, err error) {
	used, resetAfter, err = sessionStarts(ctx, s.pool, userID)
	if err != nil {
		return 0, 0, fmt.Errorf("persistence: count session starts: %w", err)
	}
	return used, resetAfter, nil
}

type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func sessionStarts(ctx context.Context, q rowQuerier, userID int64) (int, time.Duration, error) {
	var used int
	var oldest *time.Time
	var now time.Time
	err := q.QueryRow(ctx, `SELECT count(*), min(started_at), now() FROM session_starts
		WHERE user_id = $1 AND started_at >= now() - $2::interval`, userID, SessionStartWindow.String()).Scan(&used, &oldest, &now)
	if err != nil {
		return 0, 0, err
	}
	reset := SessionStartWindow
	if oldest != nil {
		reset = max(oldest.Add(SessionStartWindow).Sub(now), 0)
	}
	return used, reset, nil
}
