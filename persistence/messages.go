package persistence

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// Message is a stored message. Zero ids stand for NULL: GuildID is 0 in DM
// channels, the Ref ids are 0 when the message references nothing.
type Message struct {
	ID              int64
	ChannelID       int64
	GuildID         int64
	AuthorID        int64
	Content         string
	Nonce           *string
	TTS             bool
	MentionEveryone bool
	Mentions        []int64 // user ids; never nil when read
	MentionRoles    []int64 // role ids; never nil when read
	RefMessageID    int64
	RefChannelID    int64
	RefGuildID      int64
	Type            int
	Flags           int
	EditedAt        *time.Time
	PinnedAt        *time.Time // nil: not pinned
}

// Edit is an earlier version of a message: Content is the text that was
// replaced at EditedAt.
type Edit struct {
	Content  string
	EditedAt time.Time
}

// Page sizes of MessagesPage, as on Discord.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 100
)

// PageQuery selects a page of a channel's history. At most one of Before,
// After and Around is meant to be set (0 = unset); if several are, Around wins,
// then Before, then After. Without any, the page is the newest messages.
type PageQuery struct {
	Before int64 // messages with a smaller id (exclusive)
	After  int64 // messages with a larger id (exclusive)
	// Around: the message with this id (when it exists) and the messages
	// around it: Limit/2 (rounded down) older ones, and newer ones for the
	// rest. With the default 50 that is 25 older, the message and 24 newer;
	// with 1 it is the message alone. Where one side runs out the page is
	// simply shorter, as on Discord.
	Around int64
	// Limit is the page size, 1..MaxPageLimit; 0 means DefaultPageLimit and
	// larger values mean MaxPageLimit.
	Limit int
}

// messageColumns reads a Message in the order scanMessage expects.
const messageColumns = `id, channel_id, coalesce(guild_id, 0), author_id, content, nonce, tts, mention_everyone,
	mentions, mention_roles, coalesce(ref_message_id, 0), coalesce(ref_channel_id, 0), coalesce(ref_guild_id, 0),
	type, flags, edited_at, pinned_at`

func scanMessage(r pgx.Row) (Message, error) {
	var m Message
	err := r.Scan(&m.ID, &m.ChannelID, &m.GuildID, &m.AuthorID, &m.Content, &m.Nonce, &m.TTS, &m.MentionEveryone,
		&m.Mentions, &m.MentionRoles, &m.RefMessageID, &m.RefChannelID, &m.RefGuildID, &m.Type, &m.Flags,
		&m.EditedAt, &m.PinnedAt)
	m.Mentions, m.MentionRoles = nonNil(m.Mentions), nonNil(m.MentionRoles)
	return m, err
}

func nonNil(ids []int64) []int64 {
	if ids == nil {
		return []int64{}
	}
	return ids
}

func (s *Store) queryMessages(ctx context.Context, what, sql string, args ...any) ([]Message, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("persistence: %s: %w", what, err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Message, error) { return scanMessage(r) })
	if err != nil {
		return nil, fmt.Errorf("persistence: %s: %w", what, err)
	}
	return msgs, nil
}

// MessageByID returns message id of channelID; ErrNotFound when there is no
// such message in that channel.
func (s *Store) MessageByID(ctx context.Context, channelID, id int64) (Message, error) {
	m, err := scanMessage(s.pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM messages WHERE id = $1 AND channel_id = $2`, id, channelID))
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return Message{}, ErrNotFound
		}
		return Message{}, fmt.Errorf("persistence: message by id: %w", err)
	}
	return m, nil
}

// MessagesPage returns a page of channelID's history, newest first in every
// mode, as Discord does. Every query is a keyset range scan of the
// (channel_id, id) index.
func (s *Store) MessagesPage(ctx context.Context, channelID int64, q PageQuery) ([]Message, error) {
	limit := q.Limit
	switch {
	case limit <= 0:
		limit = DefaultPageLimit
	case limit > MaxPageLimit:
		limit = MaxPageLimit
	}
	const what = "messages page"
	const sel = `SELECT ` + messageColumns + ` FROM messages WHERE channel_id = $1`
	switch {
	case q.Around > 0:
		older := limit / 2
		msgs, err := s.queryMessages(ctx, what, `(`+sel+` AND id < $2 ORDER BY id DESC LIMIT $3)
			UNION ALL (`+sel+` AND id >= $2 ORDER BY id LIMIT $4)`, channelID, q.Around, older, limit-older)
		slices.SortFunc(msgs, func(a, b Message) int { return cmp.Compare(b.ID, a.ID) })
		return msgs, err
	case q.Before > 0:
		return s.queryMessages(ctx, what, sel+` AND id < $2 ORDER BY id DESC LIMIT $3`, channelID, q.Before, limit)
	case q.After > 0:
		msgs, err := s.queryMessages(ctx, what, sel+` AND id > $2 ORDER BY id LIMIT $3`, channelID, q.After, limit)
		slices.Reverse(msgs)
		return msgs, err
	default:
		return s.queryMessages(ctx, what, sel+` ORDER BY id DESC LIMIT $2`, channelID, limit)
	}
}

// EditMessage replaces a message's content and mentions and sets its
// edited_at, keeping the replaced content in its edit history (not when the
// content is unchanged: an edit of flags or mentions only adds no version).
// Fenced by the channel's owner epoch; ErrNotFound when there is no such
// message in channelID.
func (s *Store) EditMessage(ctx context.Context, epoch, channelID, id int64, content string, editedAt time.Time,
	mentions, mentionRoles []int64, mentionEveryone bool) (Message, error) {
	var m Message
	err := s.fenced(ctx, "edit message", channelID, epoch, func(tx pgx.Tx) error {
		var old string
		err := tx.QueryRow(ctx, `SELECT content FROM messages WHERE id = $1 AND channel_id = $2 FOR UPDATE`, id, channelID).Scan(&old)
		if err != nil {
			return notFound(err)
		}
		if old != content {
			if _, err := tx.Exec(ctx, `INSERT INTO message_edits (message_id, channel_id, content, edited_at) VALUES ($1, $2, $3, $4)`,
				id, channelID, old, editedAt); err != nil {
				return err
			}
		}
		m, err = scanMessage(tx.QueryRow(ctx, `UPDATE messages SET content = $3, edited_at = $4, mentions = $5,
			mention_roles = $6, mention_everyone = $7 WHERE id = $1 AND channel_id = $2 RETURNING `+messageColumns,
			id, channelID, content, editedAt, nonNil(mentions), nonNil(mentionRoles), mentionEveryone))
		return err
	})
	return m, err
}

// MessageEdits returns a message's earlier versions, oldest first (empty for
// a message never edited); ErrNotFound when there is no such message.
func (s *Store) MessageEdits(ctx context.Context, channelID, id int64) ([]Edit, error) {
	rows, err := s.pool.Query(ctx, `SELECT content, edited_at FROM message_edits
		WHERE message_id = $1 AND channel_id = $2 ORDER BY edited_at`, id, channelID)
	if err != nil {
		return nil, fmt.Errorf("persistence: message edits: %w", err)
	}
	edits, err := pgx.CollectRows(rows, pgx.RowToStructByPos[Edit])
	if err != nil {
		return nil, fmt.Errorf("persistence: message edits: %w", err)
	}
	if len(edits) == 0 {
		if _, err := s.MessageByID(ctx, channelID, id); err != nil {
			return nil, err
		}
		return []Edit{}, nil
	}
	return edits, nil
}

// DeleteMessages deletes those of ids that are messages of channelID, with
// their reactions and edit history, and returns the ids it deleted in
// ascending order. Fenced by the channel's owner epoch.
func (s *Store) DeleteMessages(ctx context.Context, epoch, channelID int64, ids []int64) ([]int64, error) {
	var deleted []int64
	err := s.fenced(ctx, "delete messages", channelID, epoch, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `DELETE FROM messages WHERE channel_id = $1 AND id = ANY ($2) RETURNING id`, channelID, ids)
		if err != nil {
			return err
		}
		if deleted, err = pgx.CollectRows(rows, pgx.RowTo[int64]); err != nil || len(deleted) == 0 {
			return err
		}
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM reactions WHERE message_id = ANY ($1)`, deleted)
		b.Queue(`DELETE FROM message_edits WHERE message_id = ANY ($1)`, deleted)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(deleted)
	return nonNil(deleted), nil
}

// DeleteChannelMessages deletes every message of a channel with its reactions
// and edits, for a channel being deleted. It also fences out the channel's
// current owner (its epoch moves on), so no write of a grain that has not yet
// heard of the deletion lands afterwards.
func (s *Store) DeleteChannelMessages(ctx context.Context, channelID int64) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return purgeChannels(ctx, tx, []int64{channelID})
	})
	if err != nil {
		return fmt.Errorf("persistence: delete channel messages: %w", err)
	}
	return nil
}

// SetPinned pins a message at the given time, or unpins it when at is nil.
// Fenced by the channel's owner epoch; ErrNotFound when there is no such
// message in channelID.
func (s *Store) SetPinned(ctx context.Context, epoch, channelID, id int64, at *time.Time) error {
	return s.fenced(ctx, "set pinned", channelID, epoch, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE messages SET pinned_at = $3 WHERE id = $1 AND channel_id = $2`, id, channelID, at)
		if err == nil && tag.RowsAffected() == 0 {
			err = ErrNotFound
		}
		return err
	})
}

// PinnedMessages returns a channel's pinned messages, most recently pinned
// first.
func (s *Store) PinnedMessages(ctx context.Context, channelID int64) ([]Message, error) {
	return s.queryMessages(ctx, "pinned messages", `SELECT `+messageColumns+` FROM messages
		WHERE channel_id = $1 AND pinned_at IS NOT NULL ORDER BY pinned_at DESC, id DESC`, channelID)
}

// CountPins counts a channel's pinned messages.
func (s *Store) CountPins(ctx context.Context, channelID int64) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM messages WHERE channel_id = $1 AND pinned_at IS NOT NULL`, channelID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("persistence: count pins: %w", err)
	}
	return n, nil
}

// messageExists fails with ErrNotFound unless id is a message of channelID.
// Reaction writes check it inside their fenced transaction: all writes to a
// channel's messages come from its one owner, so the message cannot vanish
// before the transaction commits.
func messageExists(ctx context.Context, tx pgx.Tx, channelID, id int64) error {
	var one int
	return notFound(tx.QueryRow(ctx, `SELECT 1 FROM messages WHERE id = $1 AND channel_id = $2`, id, channelID).Scan(&one))
}

// AddReaction records userID's emoji reaction (a unicode emoji or
// "name:id") on a message; added is false when it was already there. Fenced
// by the channel's owner epoch; ErrNotFound when there is no such message in
// channelID.
func (s *Store) AddReaction(ctx context.Context, epoch, channelID, messageID int64, emoji string, userID int64) (added bool, err error) {
	err = s.fenced(ctx, "add reaction", channelID, epoch, func(tx pgx.Tx) error {
		if err := messageExists(ctx, tx, channelID, messageID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO reactions (channel_id, message_id, emoji, user_id) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, channelID, messageID, emoji, userID)
		added = tag.RowsAffected() == 1
		return err
	})
	return added, err
}

// RemoveReaction removes userID's emoji reaction from a message; removed is
// false when there was none. Fenced; ErrNotFound when there is no such
// message in channelID.
func (s *Store) RemoveReaction(ctx context.Context, epoch, channelID, messageID int64, emoji string, userID int64) (removed bool, err error) {
	err = s.fenced(ctx, "remove reaction", channelID, epoch, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3 AND channel_id = $4`,
			messageID, emoji, userID, channelID)
		if err != nil {
			return err
		}
		if removed = tag.RowsAffected() > 0; !removed {
			return messageExists(ctx, tx, channelID, messageID)
		}
		return nil
	})
	return removed, err
}

// RemoveAllReactions removes every reaction from a message. Fenced;
// ErrNotFound when there is no such message in channelID.
func (s *Store) RemoveAllReactions(ctx context.Context, epoch, channelID, messageID int64) error {
	return s.fenced(ctx, "remove reactions", channelID, epoch, func(tx pgx.Tx) error {
		if err := messageExists(ctx, tx, channelID, messageID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM reactions WHERE message_id = $1 AND channel_id = $2`, messageID, channelID)
		return err
	})
}

// RemoveEmojiReactions removes every reaction with one emoji from a message.
// Fenced; ErrNotFound when there is no such message in channelID.
func (s *Store) RemoveEmojiReactions(ctx context.Context, epoch, channelID, messageID int64, emoji string) error {
	return s.fenced(ctx, "remove emoji reactions", channelID, epoch, func(tx pgx.Tx) error {
		if err := messageExists(ctx, tx, channelID, messageID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND channel_id = $3`,
			messageID, emoji, channelID)
		return err
	})
}

// ReactionUsers lists the users who reacted to a message with emoji, by
// ascending user id greater than after; limit 0 means 25 and is at most 100,
// as on Discord.
func (s *Store) ReactionUsers(ctx context.Context, channelID, messageID int64, emoji string, after int64, limit int) ([]int64, error) {
	switch {
	case limit <= 0:
		limit = 25
	case limit > 100:
		limit = 100
	}
	rows, err := s.pool.Query(ctx, `SELECT user_id FROM reactions
		WHERE message_id = $1 AND emoji = $2 AND user_id > $3 AND channel_id = $4 ORDER BY user_id LIMIT $5`,
		messageID, emoji, after, channelID, limit)
	if err != nil {
		return nil, fmt.Errorf("persistence: reaction users: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("persistence: reaction users: %w", err)
	}
	return nonNil(ids), nil
}

// Reaction is one emoji's reactions on a message as a viewer sees them.
type Reaction struct {
	Emoji string
	Count int
	Me    bool // the viewer is among the reacting users
}

// ReactionsFor returns the reactions of messageIDs (messages of channelID) as
// viewer sees them, in one query: for each message that has any, its emoji in
// the order they were first used. Made for a page of messages.
func (s *Store) ReactionsFor(ctx context.Context, channelID int64, messageIDs []int64, viewer int64) (map[int64][]Reaction, error) {
	out := map[int64][]Reaction{}
	if len(messageIDs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT message_id, emoji, count(*), bool_or(user_id = $3)
		FROM reactions WHERE message_id = ANY ($1) AND channel_id = $2
		GROUP BY message_id, emoji ORDER BY message_id, min(created_at), emoji`, messageIDs, channelID, viewer)
	if err != nil {
		return nil, fmt.Errorf("persistence: reactions: %w", err)
	}
	var (
		msg int64
		r   Reaction
	)
	_, err = pgx.ForEachRow(rows, []any{&msg, &r.Emoji, &r.Count, &r.Me}, func() error {
		out[msg] = append(out[msg], r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("persistence: reactions: %w", err)
	}
	return out, nil
}

// Channel types of DM channels.
const (
	ChannelTypeDM      = 1
	ChannelTypeGroupDM = 3
)

// DMChannel is a DM or group DM channel.
type DMChannel struct {
	ID            int64
	Type          int // ChannelTypeDM or ChannelTypeGroupDM
	OwnerID       int64
	Name          *string
	Recipients    []int64 // every recipient, ascending, the asking user included
	LastMessageID int64   // 0: none
}

// errPairTaken rolls back DMChannelFor's insert when another transaction
// created the pair's channel first.
var errPairTaken = errors.New("dm pair taken")

// DMChannelFor returns the 1:1 DM channel of users a and b, creating it with
// id newID if they have none (created reports which). Concurrent calls for
// the same pair agree on one channel.
func (s *Store) DMChannelFor(ctx context.Context, a, b, newID int64) (channelID int64, created bool, err error) {
	lo, hi := min(a, b), max(a, b)
	existing := func() (int64, error) {
		var id int64
		return id, s.pool.QueryRow(ctx, `SELECT channel_id FROM dm_pairs WHERE user_low = $1 AND user_high = $2`, lo, hi).Scan(&id)
	}
	id, err := existing()
	if err == nil {
		return id, false, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, false, fmt.Errorf("persistence: dm channel: %w", err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO channels (id, type) VALUES ($1, $2)`, newID, ChannelTypeDM); err != nil {
			return err
		}
		// Waits for a concurrent creator of the same pair, then yields to it.
		tag, err := tx.Exec(ctx, `INSERT INTO dm_pairs (user_low, user_high, channel_id) VALUES ($1, $2, $3)
			ON CONFLICT DO NOTHING`, lo, hi, newID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return errPairTaken
		}
		_, err = tx.Exec(ctx, `INSERT INTO dm_recipients (channel_id, user_id) SELECT $1, u FROM unnest($2::bigint[]) u`,
			newID, slices.Compact([]int64{lo, hi}))
		return err
	})
	switch {
	case err == nil:
		return newID, true, nil
	case errors.Is(err, errPairTaken):
		if id, err = existing(); err == nil {
			return id, false, nil
		}
	}
	return 0, false, fmt.Errorf("persistence: dm channel: %w", err)
}

// CreateGroupDM creates a group DM channel owned by ownerID. The owner is
// always a recipient, whether or not recipients lists them.
func (s *Store) CreateGroupDM(ctx context.Context, id, ownerID int64, recipients []int64) error {
	users := append(slices.Clone(recipients), ownerID)
	slices.Sort(users)
	users = slices.Compact(users)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO channels (id, type, owner_id) VALUES ($1, $2, $3)`, id, ChannelTypeGroupDM, ownerID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO dm_recipients (channel_id, user_id) SELECT $1, u FROM unnest($2::bigint[]) u`, id, users)
		return err
	})
	if err != nil {
		return fmt.Errorf("persistence: create group dm: %w", err)
	}
	return nil
}

// DMRecipients returns the recipients of a DM or group DM channel in
// ascending order; ErrNotFound when channelID is not a DM channel.
func (s *Store) DMRecipients(ctx context.Context, channelID int64) ([]int64, error) {
	var ids []int64
	err := s.pool.QueryRow(ctx, `SELECT array(SELECT user_id FROM dm_recipients WHERE channel_id = c.id ORDER BY user_id)
		FROM channels c WHERE c.id = $1 AND c.type IN (1, 3)`, channelID).Scan(&ids)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("persistence: dm recipients: %w", err)
	}
	return nonNil(ids), nil
}

// groupDMExists fails with ErrNotFound unless channelID is a group DM.
func (s *Store) groupDMExists(ctx context.Context, channelID int64) error {
	var one int
	return notFound(s.pool.QueryRow(ctx, `SELECT 1 FROM channels WHERE id = $1 AND type = 3`, channelID).Scan(&one))
}

// AddDMRecipient adds userID to a group DM; added is false when they were
// already in it. ErrNotFound when channelID is not a group DM.
func (s *Store) AddDMRecipient(ctx context.Context, channelID, userID int64) (added bool, err error) {
	tag, err := s.pool.Exec(ctx, `INSERT INTO dm_recipients (channel_id, user_id)
		SELECT id, $2 FROM channels WHERE id = $1 AND type = 3 ON CONFLICT DO NOTHING`, channelID, userID)
	if err != nil {
		return false, fmt.Errorf("persistence: add dm recipient: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	return false, s.groupDMExists(ctx, channelID)
}

// RemoveDMRecipient removes userID from a group DM; removed is false when
// they were not in it. ErrNotFound when channelID is not a group DM.
func (s *Store) RemoveDMRecipient(ctx context.Context, channelID, userID int64) (removed bool, err error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM dm_recipients r USING channels c
		WHERE r.channel_id = $1 AND r.user_id = $2 AND c.id = r.channel_id AND c.type = 3`, channelID, userID)
	if err != nil {
		return false, fmt.Errorf("persistence: remove dm recipient: %w", err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	return false, s.groupDMExists(ctx, channelID)
}

// DMChannelsOf lists the DM and group DM channels userID is a recipient of,
// most recently active first.
func (s *Store) DMChannelsOf(ctx context.Context, userID int64) ([]DMChannel, error) {
	rows, err := s.pool.Query(ctx, `SELECT c.id, c.type, coalesce(c.owner_id, 0), c.name,
			array(SELECT x.user_id FROM dm_recipients x WHERE x.channel_id = c.id ORDER BY x.user_id),
			coalesce(c.last_message_id, 0)
		FROM dm_recipients r JOIN channels c ON c.id = r.channel_id
		WHERE r.user_id = $1 ORDER BY coalesce(c.last_message_id, c.id) DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("persistence: dm channels: %w", err)
	}
	chs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[DMChannel])
	if err != nil {
		return nil, fmt.Errorf("persistence: dm channels: %w", err)
	}
	return chs, nil
}

// SharesGuild reports whether users a and b are members of a common guild.
func (s *Store) SharesGuild(ctx context.Context, a, b int64) (bool, error) {
	var shared bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM guild_members x JOIN guild_members y ON y.guild_id = x.guild_id
		WHERE x.user_id = $1 AND y.user_id = $2)`, a, b).Scan(&shared)
	if err != nil {
		return false, fmt.Errorf("persistence: shares guild: %w", err)
	}
	return shared, nil
}

// purgeChannels deletes the messages of channels (with their reactions and
// edits) and bumps their owner epochs, so any activation still holding the
// old epoch is fenced out; epochs are never reused.
func purgeChannels(ctx context.Context, tx pgx.Tx, channelIDs []int64) error {
	if len(channelIDs) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO channel_owners (channel_id, epoch) SELECT unnest($1::bigint[]), 1
		ON CONFLICT (channel_id) DO UPDATE SET epoch = channel_owners.epoch + 1`, channelIDs)
	// By message id, which reactions and message_edits are indexed on.
	b.Queue(`WITH d AS (DELETE FROM messages WHERE channel_id = ANY($1) RETURNING id),
		r AS (DELETE FROM reactions WHERE message_id IN (SELECT id FROM d))
		DELETE FROM message_edits WHERE message_id IN (SELECT id FROM d)`, channelIDs)
	return tx.SendBatch(ctx, b).Close()
}
