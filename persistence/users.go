package persistence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is one account row.
type User struct {
	ID            int64
	Username      string
	Discriminator int16
	GlobalName    *string
	Avatar        *string
	Email         string
	Verified      bool
	Bot           bool
	PasswordHash  string
	CreatedAt     time.Time
}

// NewUser is what CreateUser needs; the discriminator is chosen by the store.
type NewUser struct {
	ID           int64
	Username     string
	Email        string
	PasswordHash string
}

const userColumns = `id, username, discriminator, global_name, avatar, email, verified, bot, password_hash, created_at`

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Username, &u.Discriminator, &u.GlobalName, &u.Avatar, &u.Email,
		&u.Verified, &u.Bot, &u.PasswordHash, &u.CreatedAt)
	return u, notFound(err)
}

// tagRetries bounds the retries when two writers pick the same free
// discriminator for one username at the same moment.
const tagRetries = 5

// CreateUser inserts a user with a random discriminator that is free for its
// username. It returns ErrEmailTaken or ErrUsernameTaken.
func (s *Store) CreateUser(ctx context.Context, nu NewUser) (User, error) {
	for range tagRetries {
		u, err := scanUser(s.pool.QueryRow(ctx, `
			INSERT INTO users (id, username, discriminator, email, password_hash)
			SELECT $1, $2, d, $3, $4 FROM (
				SELECT d FROM generate_series(1, 9999) AS d
				WHERE NOT EXISTS (SELECT 1 FROM users WHERE lower(username) = lower($2) AND discriminator = d)
				ORDER BY random() LIMIT 1
			) AS free
			RETURNING `+userColumns, nu.ID, nu.Username, nu.Email, nu.PasswordHash))
		switch {
		case err == nil:
			return u, nil
		case errors.Is(err, ErrNotFound):
			return User{}, ErrUsernameTaken
		case isUniqueViolation(err, "users_email_key"):
			return User{}, ErrEmailTaken
		case isUniqueViolation(err, "users_tag_key"):
			continue
		default:
			return User{}, fmt.Errorf("persistence: create user: %w", err)
		}
	}
	return User{}, ErrUsernameTaken
}

// UserByID returns the user with id, or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (User, error) {
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

// UserByEmail returns the user with this email (case-insensitive), or ErrNotFound.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE lower(email) = lower($1)`, email))
}

// UserByTag returns the user username#discriminator (username case-insensitive), or ErrNotFound.
func (s *Store) UserByTag(ctx context.Context, username string, discriminator int16) (User, error) {
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users
		WHERE lower(username) = lower($1) AND discriminator = $2`, username, discriminator))
}

// UsersByUsername returns up to limit users bearing username (case-insensitive).
func (s *Store) UsersByUsername(ctx context.Context, username string, limit int) ([]User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE lower(username) = lower($1)
		ORDER BY id LIMIT $2`, username, limit)
	if err != nil {
		return nil, fmt.Errorf("persistence: users by username: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
	if err != nil {
		return nil, fmt.Errorf("persistence: users by username: %w", err)
	}
	return users, nil
}

// UserUpdate names the fields to change; nil leaves a field as it is.
type UserUpdate struct {
	Username *string
	// GlobalName set to a pointer to nil clears the display name.
	GlobalName **string
	// PasswordHash replaces the password and revokes every token family of
	// the user except KeepFamily.
	PasswordHash *string
	KeepFamily   int64
}

// UpdateUser applies u in one transaction. A new username keeps the current
// discriminator when it is free for that name, else takes a random free one.
func (s *Store) UpdateUser(ctx context.Context, id int64, u UserUpdate) (User, error) {
	for range tagRetries {
		user, err := s.updateUser(ctx, id, u)
		if isUniqueViolation(err, "users_tag_key") {
			continue
		}
		return user, err
	}
	return User{}, ErrUsernameTaken
}

func (s *Store) updateUser(ctx context.Context, id int64, u UserUpdate) (User, error) {
	var out User
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		cur, err := scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return err
		}
		if u.Username != nil && *u.Username != cur.Username {
			var disc int16
			err := tx.QueryRow(ctx, `
				SELECT d FROM (SELECT $2::smallint AS d, 0 AS pref UNION ALL
				               SELECT d::smallint, 1 FROM (SELECT d FROM generate_series(1, 9999) AS d ORDER BY random()) r) c
				WHERE NOT EXISTS (SELECT 1 FROM users WHERE lower(username) = lower($1) AND discriminator = c.d AND id <> $3)
				LIMIT 1`, *u.Username, cur.Discriminator, id).Scan(&disc)
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrUsernameTaken
			}
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE users SET username = $2, discriminator = $3, updated_at = now() WHERE id = $1`,
				id, *u.Username, disc); err != nil {
				return err
			}
		}
		if u.GlobalName != nil {
			if _, err := tx.Exec(ctx, `UPDATE users SET global_name = $2, updated_at = now() WHERE id = $1`, id, *u.GlobalName); err != nil {
				return err
			}
		}
		if u.PasswordHash != nil {
			if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1`, id, *u.PasswordHash); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE token_families SET revoked_at = now(), revoke_reason = 'password changed'
				WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL`, id, u.KeepFamily); err != nil {
				return err
			}
		}
		out, err = scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrUsernameTaken) && !isUniqueViolation(err, "") {
		return User{}, fmt.Errorf("persistence: update user: %w", err)
	}
	return out, err
}

// SetPasswordHash replaces a user's hash without touching sessions (used to
// rehash on login when the hashing parameters grow).
func (s *Store) SetPasswordHash(ctx context.Context, id int64, oldHash, newHash string) error {
	_, err := s.pool.Exec(ctx, `UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2`, id, oldHash, newHash)
	if err != nil {
		return fmt.Errorf("persistence: rehash: %w", err)
	}
	return nil
}

// UsersByIDs returns the users among ids that exist, by id.
func (s *Store) UsersByIDs(ctx context.Context, ids []int64) (map[int64]User, error) {
	out := make(map[int64]User, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT `+userColumns+` FROM users WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("persistence: users by ids: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
	if err != nil {
		return nil, fmt.Errorf("persistence: users by ids: %w", err)
	}
	for _, u := range users {
		out[u.ID] = u
	}
	return out, nil
}
