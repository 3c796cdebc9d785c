package persistence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Errors of the refresh-token flow.
var (
	// ErrRefreshInvalid is returned for an unknown, expired or revoked refresh token.
	ErrRefreshInvalid = errors.New("persistence: refresh token invalid")
	// ErrRefreshReused is returned when an already-rotated refresh token is
	// presented again; its whole family has been revoked.
	ErrRefreshReused = errors.New("persistence: refresh token reused; family revoked")
)

// CreateFamily starts a token family (one login) for userID with its first
// refresh token.
func (s *Store) CreateFamily(ctx context.Context, familyID, userID int64, refreshHash []byte, expires time.Time) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO token_families (id, user_id) VALUES ($1, $2)`, familyID, userID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, family_id, expires_at) VALUES ($1, $2, $3)`,
			refreshHash, familyID, expires)
		return err
	})
	if err != nil {
		return fmt.Errorf("persistence: create token family: %w", err)
	}
	return nil
}

// RotateRefresh consumes the refresh token with oldHash and stores newHash in
// its family. It returns the family's user and id. Presenting a token that was
// already consumed revokes the family and returns ErrRefreshReused.
func (s *Store) RotateRefresh(ctx context.Context, oldHash, newHash []byte, expires time.Time) (userID, familyID int64, err error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("persistence: rotate refresh: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()

	var (
		usedAt, revokedAt *time.Time
		expiresAt         time.Time
	)
	err = tx.QueryRow(ctx, `
		SELECT f.user_id, f.id, rt.used_at, rt.expires_at, f.revoked_at
		FROM refresh_tokens rt JOIN token_families f ON f.id = rt.family_id
		WHERE rt.token_hash = $1
		FOR UPDATE OF rt, f`, oldHash).Scan(&userID, &familyID, &usedAt, &expiresAt, &revokedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, ErrRefreshInvalid
	}
	if err != nil {
		return 0, 0, fmt.Errorf("persistence: rotate refresh: %w", err)
	}
	switch {
	case revokedAt != nil:
		return 0, 0, ErrRefreshInvalid
	case usedAt != nil:
		if _, err := tx.Exec(ctx, `UPDATE token_families SET revoked_at = now(), revoke_reason = 'refresh token reused'
			WHERE id = $1`, familyID); err != nil {
			return 0, 0, fmt.Errorf("persistence: revoke reused family: %w", err)
		}
		if err := tx.Commit(ctx); err != nil {
			return 0, 0, fmt.Errorf("persistence: revoke reused family: %w", err)
		}
		return userID, familyID, ErrRefreshReused
	case !expiresAt.After(time.Now()):
		return 0, 0, ErrRefreshInvalid
	}
	if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1`, oldHash); err != nil {
		return 0, 0, fmt.Errorf("persistence: rotate refresh: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, family_id, expires_at) VALUES ($1, $2, $3)`,
		newHash, familyID, expires); err != nil {
		return 0, 0, fmt.Errorf("persistence: rotate refresh: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, 0, fmt.Errorf("persistence: rotate refresh: %w", err)
	}
	return userID, familyID, nil
}

// RevokeFamily ends one login.
func (s *Store) RevokeFamily(ctx context.Context, familyID int64, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE token_families SET revoked_at = now(), revoke_reason = $2
		WHERE id = $1 AND revoked_at IS NULL`, familyID, reason)
	if err != nil {
		return fmt.Errorf("persistence: revoke family: %w", err)
	}
	return nil
}

// RevokeUserFamilies ends every login of userID.
func (s *Store) RevokeUserFamilies(ctx context.Context, userID int64, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE token_families SET revoked_at = now(), revoke_reason = $2
		WHERE user_id = $1 AND revoked_at IS NULL`, userID, reason)
	if err != nil {
		return fmt.Errorf("persistence: revoke user families: %w", err)
	}
	return nil
}

// FamilyActive reports whether the family exists, belongs to userID and is
// not revoked.
func (s *Store) FamilyActive(ctx context.Context, familyID, userID int64) (bool, error) {
	var active bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM token_families
		WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL)`, familyID, userID).Scan(&active)
	if err != nil {
		return false, fmt.Errorf("persistence: family state: %w", err)
	}
	return active, nil
}
