package persistence

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Application is a bot application. Its id is also its bot user's id.
type Application struct {
	ID          int64
	OwnerID     int64
	Name        string
	Description string
	Flags       int64
	BotPublic   bool
	CreatedAt   time.Time
}

// NewApplication is what CreateApplication needs: the application (and bot
// user) id, the token family of its first token and that token's hash.
type NewApplication struct {
	ID            int64
	OwnerID       int64
	Name          string
	Flags         int64
	TokenFamilyID int64
	TokenHash     []byte
}

const applicationColumns = `id, owner_id, name, description, flags, bot_public, created_at`

func scanApplication(row pgx.Row) (Application, error) {
	var a Application
	err := row.Scan(&a.ID, &a.OwnerID, &a.Name, &a.Description, &a.Flags, &a.BotPublic, &a.CreatedAt)
	return a, notFound(err)
}

// CreateApplication creates, in one transaction, the bot user (named as the
// application, with a random free discriminator, no usable email or
// password), the application and its first token family. It returns the
// application and the bot user.
func (s *Store) CreateApplication(ctx context.Context, na NewApplication) (Application, User, error) {
	var app Application
	var bot User
	for range tagRetries {
		err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			var err error
			// The email is unique and unusable (".invalid"); the empty
			// password hash matches no password.
			bot, err = scanUser(tx.QueryRow(ctx, `
				INSERT INTO users (id, username, discriminator, email, password_hash, bot, verified)
				SELECT $1, $2, d, $3, '', true, true FROM (
					SELECT d FROM generate_series(1, 9999) AS d
					WHERE NOT EXISTS (SELECT 1 FROM users WHERE lower(username) = lower($2) AND discriminator = d)
					ORDER BY random() LIMIT 1
				) AS free
				RETURNING `+userColumns, na.ID, na.Name, "bot-"+strconv.FormatInt(na.ID, 10)+"@bots.invalid"))
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO token_families (id, user_id) VALUES ($1, $2)`, na.TokenFamilyID, na.ID); err != nil {
				return err
			}
			app, err = scanApplication(tx.QueryRow(ctx, `
				INSERT INTO applications (id, owner_id, name, flags, token_family_id, token_hash)
				VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+applicationColumns,
				na.ID, na.OwnerID, na.Name, na.Flags, na.TokenFamilyID, na.TokenHash))
			return err
		})
		switch {
		case err == nil:
			return app, bot, nil
		case errors.Is(err, ErrNotFound):
			return Application{}, User{}, ErrUsernameTaken
		case isUniqueViolation(err, "users_tag_key"):
			continue
		default:
			return Application{}, User{}, fmt.Errorf("persistence: create application: %w", err)
		}
	}
	return Application{}, User{}, ErrUsernameTaken
}

// ApplicationByID returns the application id, or ErrNotFound.
func (s *Store) ApplicationByID(ctx context.Context, id int64) (Application, error) {
	a, err := scanApplication(s.pool.QueryRow(ctx, `SELECT `+applicationColumns+` FROM applications WHERE id = $1`, id))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Application{}, fmt.Errorf("persistence: application: %w", err)
	}
	return a, err
}

// ApplicationFlags returns the flags of bot botID's application, or
// ErrNotFound when the bot has none.
func (s *Store) ApplicationFlags(ctx context.Context, botID int64) (int64, error) {
	var flags int64
	err := notFound(s.pool.QueryRow(ctx, `SELECT flags FROM applications WHERE id = $1`, botID).Scan(&flags))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return 0, fmt.Errorf("persistence: application flags: %w", err)
	}
	return flags, err
}

// SetApplicationFlags replaces an application's flags and returns it, or
// ErrNotFound.
func (s *Store) SetApplicationFlags(ctx context.Context, id, flags int64) (Application, error) {
	a, err := scanApplication(s.pool.QueryRow(ctx, `UPDATE applications SET flags = $2 WHERE id = $1
		RETURNING `+applicationColumns, id, flags))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return Application{}, fmt.Errorf("persistence: set application flags: %w", err)
	}
	return a, err
}

// ResetBotToken replaces an application's token in one transaction: the old
// token family is revoked (so the old token stops working wherever it is
// cached, as a revoked login does), a new family holds the new hash. It
// returns the old family id, or ErrNotFound.
func (s *Store) ResetBotToken(ctx context.Context, id, familyID int64, hash []byte) (oldFamily int64, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := notFound(tx.QueryRow(ctx, `SELECT token_family_id FROM applications WHERE id = $1 FOR UPDATE`, id).
			Scan(&oldFamily)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE token_families SET revoked_at = now(), revoke_reason = 'bot token reset'
			WHERE id = $1 AND revoked_at IS NULL`, oldFamily); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO token_families (id, user_id) VALUES ($1, $2)`, familyID, id); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE applications SET token_family_id = $2, token_hash = $3 WHERE id = $1`, id, familyID, hash)
		return err
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return 0, fmt.Errorf("persistence: reset bot token: %w", err)
	}
	return oldFamily, err
}

// BotTokenFamily returns the token family of bot botID's current token when
// hash is its secret's hash, or ErrNotFound. The caller still checks that
// the family is active (FamilyActive), as for any access token.
func (s *Store) BotTokenFamily(ctx context.Context, botID int64, hash []byte) (int64, error) {
	var family int64
	err := notFound(s.pool.QueryRow(ctx, `SELECT token_family_id FROM applications WHERE id = $1 AND token_hash = $2`,
		botID, hash).Scan(&family))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return 0, fmt.Errorf("persistence: bot token: %w", err)
	}
	return family, err
}
