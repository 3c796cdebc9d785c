package persistence

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
)

// Group DM membership changes made by a DM channel's grain. They are fenced
// by the channel's owner epoch like every other channel write, so a stale
// activation of the grain (whose cached recipient list may be out of date)
// cannot change who is in the channel.

// ErrGroupDMFull is returned when a group DM already has the maximum number
// of recipients. Nothing was written.
var ErrGroupDMFull = errors.New("persistence: group dm is full")

// DMChannel returns one DM or group DM channel; ErrNotFound when channelID
// is not a DM channel.
func (s *Store) DMChannel(ctx context.Context, channelID int64) (DMChannel, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.id, c.type, coalesce(c.owner_id, 0), c.name,
			array(SELECT x.user_id FROM dm_recipients x WHERE x.channel_id = c.id ORDER BY x.user_id),
			coalesce(c.last_message_id, 0)
		FROM channels c WHERE c.id = $1 AND c.type IN (1, 3)`, channelID)
	if err != nil {
		return DMChannel{}, fmt.Errorf("persistence: dm channel: %w", err)
	}
	ch, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[DMChannel])
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return DMChannel{}, ErrNotFound
		}
		return DMChannel{}, fmt.Errorf("persistence: dm channel: %w", err)
	}
	ch.Recipients = nonNil(ch.Recipients)
	return ch, nil
}

// AddGroupDMRecipient adds userID to the group DM channelID unless the
// channel already has max recipients (ErrGroupDMFull). added is false when
// userID was already a recipient. Fenced by the channel's owner epoch;
// ErrNotFound when channelID is not a group DM.
func (s *Store) AddGroupDMRecipient(ctx context.Context, epoch, channelID, userID int64, max int) (added bool, err error) {
	err = s.fenced(ctx, "add group dm recipient", channelID, epoch, func(tx pgx.Tx) error {
		// No row lock on the channel: the epoch already serializes
		// membership changes (one grain activation, one mailbox), and the
		// message writer updates the channel row while holding the epoch.
		var n int
		var in bool
		err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM dm_recipients WHERE channel_id = c.id),
				EXISTS (SELECT 1 FROM dm_recipients WHERE channel_id = c.id AND user_id = $2)
			FROM channels c WHERE c.id = $1 AND c.type = 3`, channelID, userID).Scan(&n, &in)
		switch {
		case err != nil:
			return notFound(err)
		case in:
			return nil
		case n >= max:
			return ErrGroupDMFull
		}
		_, err = tx.Exec(ctx, `INSERT INTO dm_recipients (channel_id, user_id) VALUES ($1, $2)`, channelID, userID)
		added = err == nil
		return err
	})
	if errors.Is(err, ErrGroupDMFull) {
		return false, ErrGroupDMFull
	}
	return added, err
}

// GroupDMRemoval is what RemoveGroupDMRecipient did.
type GroupDMRemoval struct {
	// Removed is false when the user was not a recipient (nothing changed).
	Removed bool
	// OwnerID is the channel's owner afterwards: when the owner left, the
	// remaining recipient with the lowest id. 0 when the channel is gone.
	OwnerID int64
	// Deleted: the last recipient left, so the channel, its messages and
	// its owner epoch are gone.
	Deleted bool
}

// RemoveGroupDMRecipient removes userID from the group DM channelID. When
// the owner leaves, ownership passes to the remaining recipient with the
// lowest id; when the last recipient leaves, the channel is deleted with its
// messages. Fenced by the channel's owner epoch; ErrNotFound when channelID
// is not a group DM.
func (s *Store) RemoveGroupDMRecipient(ctx context.Context, epoch, channelID, userID int64) (GroupDMRemoval, error) {
	var out GroupDMRemoval
	err := s.fenced(ctx, "remove group dm recipient", channelID, epoch, func(tx pgx.Tx) error {
		out = GroupDMRemoval{}
		var owner int64
		err := tx.QueryRow(ctx, `SELECT coalesce(owner_id, 0) FROM channels WHERE id = $1 AND type = 3`, channelID).Scan(&owner)
		if err != nil {
			return notFound(err)
		}
		out.OwnerID = owner
		tag, err := tx.Exec(ctx, `DELETE FROM dm_recipients WHERE channel_id = $1 AND user_id = $2`, channelID, userID)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		out.Removed = true
		var next int64
		err = tx.QueryRow(ctx, `SELECT coalesce(min(user_id), 0) FROM dm_recipients WHERE channel_id = $1`, channelID).Scan(&next)
		switch {
		case err != nil:
			return err
		case next == 0:
			return deleteDMChannel(ctx, tx, channelID, &out)
		case owner == userID:
			out.OwnerID = next
			_, err = tx.Exec(ctx, `UPDATE channels SET owner_id = $2 WHERE id = $1`, channelID, next)
		}
		return err
	})
	return out, err
}

// deleteDMChannel deletes an emptied group DM. The owner epoch goes first:
// deleting its row waits for message batches that hold it and fences out
// later ones, so the message delete that follows sees every committed row.
func deleteDMChannel(ctx context.Context, tx pgx.Tx, channelID int64, out *GroupDMRemoval) error {
	if err := purgeChannels(ctx, tx, []int64{channelID}); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM channels WHERE id = $1`, channelID); err != nil {
		return err
	}
	out.OwnerID, out.Deleted = 0, true
	return nil
}

// SetGroupDMName renames a group DM (nil clears the name). Fenced by the
// channel's owner epoch; ErrNotFound when channelID is not a group DM.
func (s *Store) SetGroupDMName(ctx context.Context, epoch, channelID int64, name *string) error {
	return s.fenced(ctx, "rename group dm", channelID, epoch, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE channels SET name = $2 WHERE id = $1 AND type = 3`, channelID, name)
		if err == nil && tag.RowsAffected() == 0 {
			err = ErrNotFound
		}
		return err
	})
}

// CreateNamedGroupDM is CreateGroupDM with the channel's name (nil: none),
// in one transaction.
func (s *Store) CreateNamedGroupDM(ctx context.Context, id, ownerID int64, recipients []int64, name *string) error {
	users := append(slices.Clone(recipients), ownerID)
	slices.Sort(users)
	users = slices.Compact(users)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO channels (id, type, owner_id, name) VALUES ($1, $2, $3, $4)`, id, ChannelTypeGroupDM, ownerID, name)
		b.Queue(`INSERT INTO dm_recipients (channel_id, user_id) SELECT $1, u FROM unnest($2::bigint[]) u`, id, users)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("persistence: create group dm: %w", err)
	}
	return nil
}

// UsersSharingGuild returns those of others who are members of a guild
// userID is also a member of.
func (s *Store) UsersSharingGuild(ctx context.Context, userID int64, others []int64) (map[int64]bool, error) {
	out := make(map[int64]bool, len(others))
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT y.user_id FROM guild_members x
		JOIN guild_members y ON y.guild_id = x.guild_id
		WHERE x.user_id = $1 AND y.user_id = ANY ($2)`, userID, others)
	if err != nil {
		return nil, fmt.Errorf("persistence: users sharing a guild: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("persistence: users sharing a guild: %w", err)
	}
	for _, id := range ids {
		out[id] = true
	}
	return out, nil
}
