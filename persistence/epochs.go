package persistence

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ErrFenced is returned for a channel write made under an owner epoch that is
// no longer current: another activation of the channel grain has taken the
// channel over since. The write did not happen; the grain that gets it should
// stop itself so the caller retries on the new owner.
var ErrFenced = errors.New("persistence: channel owner epoch is no longer current")

// AcquireChannelEpoch makes the caller the channel's owner: it increments the
// channel's owner epoch (starting at 1) and returns the new value. A channel
// grain calls it when it activates and passes the epoch to every write; writes
// under an older epoch then fail with ErrFenced.
//
// Fenced writes read the epoch FOR SHARE in their own transaction, and the
// increment waits for those locks, so a write that saw its epoch current
// commits before the new owner gets its epoch: the new owner's load sees it.
func (s *Store) AcquireChannelEpoch(ctx context.Context, channelID int64) (int64, error) {
	var epoch int64
	err := s.pool.QueryRow(ctx, `INSERT INTO channel_owners (channel_id, epoch) VALUES ($1, 1)
		ON CONFLICT (channel_id) DO UPDATE SET epoch = channel_owners.epoch + 1
		RETURNING epoch`, channelID).Scan(&epoch)
	if err != nil {
		return 0, fmt.Errorf("persistence: acquire channel epoch: %w", err)
	}
	return epoch, nil
}

// checkEpoch fails with ErrFenced unless epoch is channelID's current owner
// epoch, and holds a share lock on it until tx ends.
func checkEpoch(ctx context.Context, tx pgx.Tx, channelID, epoch int64) error {
	var current int64
	err := tx.QueryRow(ctx, `SELECT epoch FROM channel_owners WHERE channel_id = $1 FOR SHARE`, channelID).Scan(&current)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: channel %d has no owner", ErrFenced, channelID)
	case err != nil:
		return err
	case current != epoch:
		return fmt.Errorf("%w: channel %d epoch %d, current %d", ErrFenced, channelID, epoch, current)
	}
	return nil
}

// fenced runs fn in a transaction that holds channelID's owner epoch, which
// must be epoch (else ErrFenced). Errors other than ErrFenced and ErrNotFound
// are wrapped with what.
func (s *Store) fenced(ctx context.Context, what string, channelID, epoch int64, fn func(tx pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := checkEpoch(ctx, tx, channelID, epoch); err != nil {
			return err
		}
		return fn(tx)
	})
	if err != nil && !errors.Is(err, ErrFenced) && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("persistence: %s: %w", what, err)
	}
	return err
}
