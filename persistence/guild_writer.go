package persistence

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// GuildWriter writes a guild's changes inside one transaction; see
// Store.WriteGuild. Each method writes one entity.
type GuildWriter struct {
	ctx context.Context
	tx  pgx.Tx
}

// WriteGuild runs fn in a transaction fenced by the guild's owner epoch: a
// guild grain's change commits whole or not at all, before the grain
// acknowledges it, and only while epoch (from AcquireGuildEpoch) is still the
// guild's current one; otherwise nothing is written and the error is
// ErrFenced.
func (s *Store) WriteGuild(ctx context.Context, guildID, epoch int64, fn func(w *GuildWriter) error) error {
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := checkGuildEpoch(ctx, tx, guildID, epoch); err != nil {
			return err
		}
		return fn(&GuildWriter{ctx: ctx, tx: tx})
	})
	if err != nil {
		return fmt.Errorf("persistence: write guild: %w", err)
	}
	return nil
}

func (w *GuildWriter) exec(sql string, args ...any) error {
	_, err := w.tx.Exec(w.ctx, sql, args...)
	return err
}

func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// InsertGuild creates the guild row.
func (w *GuildWriter) InsertGuild(g Guild) error {
	return w.exec(`INSERT INTO guilds (id, name, icon, owner_id, system_channel_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		g.ID, g.Name, g.Icon, g.OwnerID, nullID(g.SystemChannelID), g.CreatedAt)
}

// UpdateGuild rewrites the guild row's mutable fields.
func (w *GuildWriter) UpdateGuild(g Guild) error {
	return w.exec(`UPDATE guilds SET name = $2, icon = $3, owner_id = $4, system_channel_id = $5 WHERE id = $1`,
		g.ID, g.Name, g.Icon, g.OwnerID, nullID(g.SystemChannelID))
}

// DeleteGuild deletes the guild and, by cascade, everything it owns. Its
// owner epoch stays, bumped past the deleting grain's: epochs are never
// reused, and no activation, the deleting one included, writes to the guild
// again without taking a new epoch (and loading the deletion).
func (w *GuildWriter) DeleteGuild(id int64) error {
	if err := w.exec(`UPDATE guild_owners SET epoch = epoch + 1 WHERE guild_id = $1`, id); err != nil {
		return err
	}
	rows, err := w.tx.Query(w.ctx, `SELECT id FROM channels WHERE guild_id = $1`, id)
	if err != nil {
		return err
	}
	channels, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	if err := purgeChannels(w.ctx, w.tx, channels); err != nil {
		return err
	}
	return w.exec(`DELETE FROM guilds WHERE id = $1`, id)
}

const putRoleSQL = `INSERT INTO roles (id, guild_id, name, color, hoist, position, permissions, mentionable, bot_id)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
	ON CONFLICT (id) DO UPDATE SET name = $3, color = $4, hoist = $5, position = $6, permissions = $7, mentionable = $8`

// PutRole inserts or rewrites a role.
func (w *GuildWriter) PutRole(r Role) error {
	return w.exec(putRoleSQL, r.ID, r.GuildID, r.Name, r.Color, r.Hoist, r.Position, int64(r.Permissions), r.Mentionable, nullID(r.BotID))
}

// PutRoles writes several roles in one round trip (a reorder or a shift).
func (w *GuildWriter) PutRoles(roles []Role) error {
	if len(roles) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, r := range roles {
		b.Queue(putRoleSQL, r.ID, r.GuildID, r.Name, r.Color, r.Hoist, r.Position, int64(r.Permissions), r.Mentionable, nullID(r.BotID))
	}
	return w.tx.SendBatch(w.ctx, b).Close()
}

// DeleteRole deletes a role, takes it from every member and drops its
// overwrites.
func (w *GuildWriter) DeleteRole(guildID, roleID int64) error {
	if err := w.exec(`DELETE FROM roles WHERE id = $1 AND guild_id = $2`, roleID, guildID); err != nil {
		return err
	}
	if err := w.exec(`UPDATE guild_members SET roles = array_remove(roles, $2) WHERE guild_id = $1 AND $2 = ANY (roles)`, guildID, roleID); err != nil {
		return err
	}
	return w.exec(`DELETE FROM channel_overwrites o USING channels c
		WHERE c.id = o.channel_id AND c.guild_id = $1 AND o.target_id = $2 AND o.type = 0`, guildID, roleID)
}

// PutChannel inserts or rewrites a channel (not its overwrites).
func (w *GuildWriter) PutChannel(c Channel) error {
	var bitrate, userLimit *int
	if c.Type == 2 {
		bitrate, userLimit = &c.Bitrate, &c.UserLimit
	}
	return w.exec(`INSERT INTO channels (id, guild_id, type, name, topic, position, parent_id, nsfw, rate_limit_per_user, bitrate, user_limit, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		ON CONFLICT (id) DO UPDATE SET type = $3, name = $4, topic = $5, position = $6, parent_id = $7, nsfw = $8,
			rate_limit_per_user = $9, bitrate = $10, user_limit = $11`,
		c.ID, c.GuildID, c.Type, c.Name, c.Topic, c.Position, nullID(c.ParentID), c.NSFW, c.RateLimitPerUser, bitrate, userLimit, c.CreatedAt)
}

// DeleteChannel deletes a channel with its overwrites, invites and
// messages, fencing out its channel grain.
func (w *GuildWriter) DeleteChannel(id int64) error {
	if err := purgeChannels(w.ctx, w.tx, []int64{id}); err != nil {
		return err
	}
	return w.exec(`DELETE FROM channels WHERE id = $1`, id)
}

// PutOverwrite inserts or rewrites one overwrite of a channel.
func (w *GuildWriter) PutOverwrite(channelID int64, o Overwrite) error {
	return w.exec(`INSERT INTO channel_overwrites (channel_id, target_id, type, allow, deny) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (channel_id, target_id) DO UPDATE SET type = $3, allow = $4, deny = $5`,
		channelID, o.TargetID, o.Type, int64(o.Allow), int64(o.Deny))
}

// DeleteOverwrite deletes one overwrite of a channel.
func (w *GuildWriter) DeleteOverwrite(channelID, targetID int64) error {
	return w.exec(`DELETE FROM channel_overwrites WHERE channel_id = $1 AND target_id = $2`, channelID, targetID)
}

// PutMember inserts or rewrites a membership.
func (w *GuildWriter) PutMember(m Member) error {
	roles := m.Roles
	if roles == nil {
		roles = []int64{}
	}
	return w.exec(`INSERT INTO guild_members (guild_id, user_id, nick, roles, joined_at, communication_disabled_until)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (guild_id, user_id) DO UPDATE SET nick = $3, roles = $4, communication_disabled_until = $6`,
		m.GuildID, m.User.ID, m.Nick, roles, m.JoinedAt, m.CommunicationDisabledUntil)
}

// DeleteMember removes a membership and the member's overwrites.
func (w *GuildWriter) DeleteMember(guildID, userID int64) error {
	if err := w.exec(`DELETE FROM guild_members WHERE guild_id = $1 AND user_id = $2`, guildID, userID); err != nil {
		return err
	}
	return w.exec(`DELETE FROM channel_overwrites o USING channels c
		WHERE c.id = o.channel_id AND c.guild_id = $1 AND o.target_id = $2 AND o.type = 1`, guildID, userID)
}

// PutBan inserts or rewrites a ban.
func (w *GuildWriter) PutBan(b Ban) error {
	return w.exec(`INSERT INTO guild_bans (guild_id, user_id, reason, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (guild_id, user_id) DO UPDATE SET reason = $3`, b.GuildID, b.User.ID, b.Reason, b.CreatedAt)
}

// DeleteBan lifts a ban.
func (w *GuildWriter) DeleteBan(guildID, userID int64) error {
	return w.exec(`DELETE FROM guild_bans WHERE guild_id = $1 AND user_id = $2`, guildID, userID)
}

// ErrInviteCodeTaken is PutInvite's error for a code that another guild's
// invite holds (codes are global).
var ErrInviteCodeTaken = errors.New("persistence: invite code taken by another guild")

// PutInvite inserts or rewrites an invite (its use count included). It never
// touches another guild's invite: a code taken there is ErrInviteCodeTaken.
func (w *GuildWriter) PutInvite(i Invite) error {
	tag, err := w.tx.Exec(w.ctx, `INSERT INTO invites (code, guild_id, channel_id, inviter_id, max_age, max_uses, uses, temporary, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (code) DO UPDATE SET uses = $7 WHERE invites.guild_id = $2`,
		i.Code, i.GuildID, i.ChannelID, nullID(i.InviterID), i.MaxAge, i.MaxUses, i.Uses, i.Temporary, i.CreatedAt)
	if err == nil && tag.RowsAffected() == 0 {
		err = ErrInviteCodeTaken
	}
	return err
}

// DeleteInvite deletes an invite.
func (w *GuildWriter) DeleteInvite(code string) error {
	return w.exec(`DELETE FROM invites WHERE code = $1`, code)
}
