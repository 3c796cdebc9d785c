package persistence

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ErrFenced is returned for a channel or guild write made under an owner
// epoch that is no longer current: another activation of the grain has taken
// the channel or guild over since. The write did not happen; the grain that
// gets it should stop itself so the caller retries on the new owner.
var ErrFenced = errors.New("persistence: owner epoch is no longer current")

// AcquireChannelEpoch makes the caller the channel's owner: it increments the
// channel's owner epoch (starting at 1) and returns the new value. A channel
// grain calls it when it activates and passes the epoch to every write; writes
// under an older epoch then fail with ErrFenced.
//
// Fenced writes read the epoch FOR SHARE in their own transaction, and the
// increment waits for those locks, so a write that saw its epoch current
// commits before the new owner gets its epoch: the new owner's load sees it.
func (s *Store) AcquireChannelEpoch(ctx context.Context, channelID int64) (int64, error) {
	return channelOwners.acquire(ctx, s, channelID)
}

// checkEpoch fails with ErrFenced unless epoch is channelID's current owner
// epoch, and holds a share lock on it until tx ends.
func checkEpoch(ctx context.Context, tx pgx.Tx, channelID, epoch int64) error {
	return channelOwners.check(ctx, tx, channelID, epoch)
}

// ownerTable is one kind of owner epoch: a table of (key, epoch).
type ownerTable struct {
	what                 string // "channel", "guild"
	acquireSQL, checkSQL string
}

func newOwnerTable(what, table, key string) ownerTable {
	return ownerTable{what: what,
		acquireSQL: `INSERT INTO ` + table + ` (` + key + `, epoch) VALUES ($1, 1)
			ON CONFLICT (` + key + `) DO UPDATE SET epoch = ` + table + `.epoch + 1 RETURNING epoch`,
		checkSQL: `SELECT epoch FROM ` + table + ` WHERE ` + key + ` = $1 FOR SHARE`}
}

var (
	channelOwners = newOwnerTable("channel", "channel_owners", "channel_id")
	guildOwners   = newOwnerTable("guild", "guild_owners", "guild_id")
)

// acquire increments id's epoch (starting at 1) and returns it.
func (o ownerTable) acquire(ctx context.Context, s *Store, id int64) (int64, error) {
	var epoch int64
	if err := s.pool.QueryRow(ctx, o.acquireSQL, id).Scan(&epoch); err != nil {
		return 0, fmt.Errorf("persistence: acquire %s epoch: %w", o.what, err)
	}
	return epoch, nil
}

// check fails with ErrFenced unless epoch is id's current one, and holds a
// share lock on it until tx ends.
func (o ownerTable) check(ctx context.Context, tx pgx.Tx, id, epoch int64) error {
	var current int64
	err := tx.QueryRow(ctx, o.checkSQL, id).Scan(&current)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%w: %s %d has no owner", ErrFenced, o.what, id)
	case err != nil:
		return err
	case current != epoch:
		return fmt.Errorf("%w: %s %d epoch %d, current %d", ErrFenced, o.what, id, epoch, current)
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

// AcquireGuildEpoch makes the caller the guild's owner: it increments the
// guild's owner epoch (starting at 1) and returns the new value. A guild
// grain calls it when it activates, before it loads the guild, and passes the
// epoch to every WriteGuild; writes under an older epoch then fail with
// ErrFenced. The guild need not exist (the grain that creates it holds an
// epoch first), and the epoch outlives the guild's deletion.
//
// The ordering is the channels' (see AcquireChannelEpoch): WriteGuild reads
// the epoch FOR SHARE first thing in its transaction and the increment waits
// for those locks, so a write of the previous owner either commits before the
// new epoch is granted, and the new owner's load (which starts after) sees it,
// or checks the epoch after the increment and is fenced out. A write that
// checks while the increment is in flight waits for it and re-reads the row
// (READ COMMITTED), so it sees the new epoch too.
func (s *Store) AcquireGuildEpoch(ctx context.Context, guildID int64) (int64, error) {
	return guildOwners.acquire(ctx, s, guildID)
}

// acquireExistingGuildSQL is guildOwners' acquireSQL for a guild that
// exists: it takes no epoch, and writes nothing, for an id no guild has.
// (An existing owner row waits for the writes that hold it FOR SHARE, as
// the unconditional increment does.)
const acquireExistingGuildSQL = `INSERT INTO guild_owners (guild_id, epoch)
	SELECT $1, 1 WHERE EXISTS (SELECT 1 FROM guilds WHERE id = $1)
	ON CONFLICT (guild_id) DO UPDATE SET epoch = guild_owners.epoch + 1 RETURNING epoch`

// AcquireExistingGuildEpoch is AcquireGuildEpoch for a guild that exists:
// ok is false, and nothing is written, when no guild has the id. A guild
// grain takes its epoch this way for every call but a guild's creation, so
// that requests naming made-up guild ids leave no rows behind.
//
// A guild being created while this runs is not seen (its row is not
// committed yet): the caller answers that it does not exist, as it would
// have a moment earlier, and asks again at its next call.
func (s *Store) AcquireExistingGuildEpoch(ctx context.Context, guildID int64) (epoch int64, ok bool, err error) {
	err = s.pool.QueryRow(ctx, acquireExistingGuildSQL, guildID).Scan(&epoch)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("persistence: acquire guild epoch: %w", err)
	}
	return epoch, true, nil
}

// checkGuildEpoch fails with ErrFenced unless epoch is guildID's current
// owner epoch, and holds a share lock on it until tx ends.
func checkGuildEpoch(ctx context.Context, tx pgx.Tx, guildID, epoch int64) error {
	return guildOwners.check(ctx, tx, guildID, epoch)
}
