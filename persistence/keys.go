package persistence

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/accordchat/accord/token"
	"github.com/jackc/pgx/v5"
)

// keysLock serialises the creation of the first signing key when several
// nodes start on an empty database.
const keysLock = int64(0x61636b6579730001)

// Keyring caches the JWT signing keys stored in PostgreSQL and implements
// token.KeySet. Every node loads the same keys, so any node verifies any
// other node's tokens with no configuration.
type Keyring struct {
	store  *Store
	logger *slog.Logger

	mu         sync.RWMutex // guards the fields below
	signing    token.Key
	verify     map[string]ed25519.PublicKey
	lastReload time.Time
}

// NewKeyring loads the keys, creating the first one when there is none.
func NewKeyring(ctx context.Context, s *Store, logger *slog.Logger) (*Keyring, error) {
	k := &Keyring{store: s, logger: logger}
	if err := s.ensureSigningKey(ctx); err != nil {
		return nil, err
	}
	if err := k.Reload(ctx); err != nil {
		return nil, err
	}
	return k, nil
}

func (s *Store) ensureSigningKey(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, keysLock); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM signing_keys WHERE retired_at IS NULL`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		return insertKey(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("persistence: ensure signing key: %w", err)
	}
	return nil
}

func insertKey(ctx context.Context, tx pgx.Tx) error {
	key, err := token.NewKey()
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO signing_keys (kid, private_key) VALUES ($1, $2)`, key.ID, []byte(key.Private))
	return err
}

// RotateSigningKey adds a new signing key and retires the others from
// signing; they keep verifying the tokens they signed. Nodes pick the new key
// up at their next reload.
func (s *Store) RotateSigningKey(ctx context.Context) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, keysLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE signing_keys SET retired_at = now() WHERE retired_at IS NULL`); err != nil {
			return err
		}
		// Keys retired long enough ago that no token they signed can still be valid go.
		if _, err := tx.Exec(ctx, `DELETE FROM signing_keys WHERE retired_at < now() - interval '1 day'`); err != nil {
			return err
		}
		return insertKey(ctx, tx)
	})
	if err != nil {
		return fmt.Errorf("persistence: rotate signing key: %w", err)
	}
	return nil
}

// Reload reads every key from the database.
func (k *Keyring) Reload(ctx context.Context) error {
	rows, err := k.store.pool.Query(ctx, `SELECT kid, private_key, created_at, retired_at IS NULL
		FROM signing_keys ORDER BY created_at`)
	if err != nil {
		return fmt.Errorf("persistence: load signing keys: %w", err)
	}
	defer rows.Close()
	verify := make(map[string]ed25519.PublicKey)
	var signing token.Key
	for rows.Next() {
		var (
			kid     string
			raw     []byte
			created time.Time
			active  bool
		)
		if err := rows.Scan(&kid, &raw, &created, &active); err != nil {
			return fmt.Errorf("persistence: load signing keys: %w", err)
		}
		if len(raw) != ed25519.PrivateKeySize {
			k.logger.Warn("skipping malformed signing key", slog.String("kid", kid))
			continue
		}
		priv := ed25519.PrivateKey(raw)
		pub, _ := priv.Public().(ed25519.PublicKey)
		verify[kid] = pub
		if active {
			signing = token.Key{ID: kid, Private: priv, Public: pub, CreatedAt: created}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("persistence: load signing keys: %w", err)
	}
	if signing.ID == "" {
		return fmt.Errorf("persistence: no active signing key")
	}
	k.mu.Lock()
	k.signing, k.verify, k.lastReload = signing, verify, time.Now()
	k.mu.Unlock()
	return nil
}

// Run reloads the keys every interval until ctx ends.
func (k *Keyring) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := k.Reload(ctx); err != nil && ctx.Err() == nil {
				k.logger.Warn("reloading signing keys failed", slog.Any("error", err))
			}
		}
	}
}

// SigningKey returns the key new tokens are signed with.
func (k *Keyring) SigningKey() (token.Key, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.signing, nil
}

// minReloadGap bounds how often an unknown kid can make the keyring re-read
// the database, so forged kids cannot flood it.
const minReloadGap = time.Second

// VerificationKey returns the public key for kid, re-reading the database
// once when kid is unknown (another node may just have rotated).
func (k *Keyring) VerificationKey(kid string) (ed25519.PublicKey, error) {
	k.mu.RLock()
	pub, ok := k.verify[kid]
	stale := time.Since(k.lastReload) > minReloadGap
	k.mu.RUnlock()
	if ok {
		return pub, nil
	}
	if stale {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := k.Reload(ctx); err != nil {
			return nil, err
		}
		k.mu.RLock()
		pub, ok = k.verify[kid]
		k.mu.RUnlock()
		if ok {
			return pub, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", token.ErrUnknownKey, kid)
}
