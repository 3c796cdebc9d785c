package persistence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Guild is a guild's own row.
type Guild struct {
	ID              int64
	Name            string
	Icon            *string
	OwnerID         int64
	SystemChannelID int64 // 0: none
	CreatedAt       time.Time
}

// Role is a guild role. Permissions is a Discord permission bitfield.
type Role struct {
	ID          int64
	GuildID     int64
	Name        string
	Color       int
	Hoist       bool
	Position    int
	Permissions uint64
	Mentionable bool
	// BotID is the bot whose managed role this is (Discord's
	// tags.bot_id); 0 for a role members manage.
	BotID int64
}

// Overwrite is a channel permission overwrite for a role (type 0) or a
// member (type 1).
type Overwrite struct {
	TargetID int64
	Type     int
	Allow    uint64
	Deny     uint64
}

// Channel is a guild channel (text 0, voice 2, category 4) with its
// overwrites.
type Channel struct {
	ID               int64
	GuildID          int64
	Type             int
	Name             string
	Topic            *string
	Position         int
	ParentID         int64 // 0: none
	NSFW             bool
	RateLimitPerUser int
	Bitrate          int
	UserLimit        int
	Overwrites       []Overwrite
	CreatedAt        time.Time
}

// MemberUser is the part of a user a member list shows.
type MemberUser struct {
	ID            int64
	Username      string
	Discriminator int16
	GlobalName    *string
	Avatar        *string
	Bot           bool
}

// Member is a user's membership of a guild.
type Member struct {
	GuildID                    int64
	User                       MemberUser
	Nick                       *string
	Roles                      []int64
	JoinedAt                   time.Time
	CommunicationDisabledUntil *time.Time
}

// Ban is a guild ban.
type Ban struct {
	GuildID   int64
	User      MemberUser
	Reason    *string
	CreatedAt time.Time
}

// Invite is a guild invite.
type Invite struct {
	Code      string
	GuildID   int64
	ChannelID int64
	InviterID int64 // 0: unknown
	MaxAge    int   // seconds, 0 = never expires
	MaxUses   int   // 0 = unlimited
	Uses      int
	Temporary bool
	CreatedAt time.Time
}

// GuildSnapshot is everything a guild grain loads when it activates.
type GuildSnapshot struct {
	Guild    Guild
	Roles    []Role
	Channels []Channel
	Members  []Member
	Bans     []Ban
	Invites  []Invite
}

// LoadGuild reads a guild and everything it owns, in one repeatable-read
// transaction so the parts agree. ErrNotFound when there is no such guild.
func (s *Store) LoadGuild(ctx context.Context, id int64) (GuildSnapshot, error) {
	var snap GuildSnapshot
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var sys *int64
		err := tx.QueryRow(ctx, `SELECT id, name, icon, owner_id, system_channel_id, created_at FROM guilds WHERE id = $1`, id).
			Scan(&snap.Guild.ID, &snap.Guild.Name, &snap.Guild.Icon, &snap.Guild.OwnerID, &sys, &snap.Guild.CreatedAt)
		if err != nil {
			return notFound(err)
		}
		if sys != nil {
			snap.Guild.SystemChannelID = *sys
		}
		if snap.Roles, err = collect(ctx, tx, `SELECT id, guild_id, name, color, hoist, position, permissions, mentionable,
			coalesce(bot_id, 0) FROM roles WHERE guild_id = $1`, id, scanRole); err != nil {
			return err
		}
		if snap.Channels, err = collect(ctx, tx, `SELECT id, guild_id, type, coalesce(name, ''), topic, position,
			coalesce(parent_id, 0), nsfw, rate_limit_per_user, coalesce(bitrate, 0), coalesce(user_limit, 0), created_at
			FROM channels WHERE guild_id = $1`, id, scanChannel); err != nil {
			return err
		}
		byID := make(map[int64]*Channel, len(snap.Channels))
		for i := range snap.Channels {
			byID[snap.Channels[i].ID] = &snap.Channels[i]
		}
		type ow struct {
			channel int64
			Overwrite
		}
		ows, err := collect(ctx, tx, `SELECT o.channel_id, o.target_id, o.type, o.allow, o.deny
			FROM channel_overwrites o JOIN channels c ON c.id = o.channel_id WHERE c.guild_id = $1`, id,
			func(r pgx.Row) (ow, error) {
				var o ow
				var allow, deny int64
				err := r.Scan(&o.channel, &o.TargetID, &o.Type, &allow, &deny)
				o.Allow, o.Deny = uint64(allow), uint64(deny)
				return o, err
			})
		if err != nil {
			return err
		}
		for _, o := range ows {
			if c := byID[o.channel]; c != nil {
				c.Overwrites = append(c.Overwrites, o.Overwrite)
			}
		}
		if snap.Members, err = collect(ctx, tx, `SELECT m.guild_id, `+memberUserColumns+`, m.nick, m.roles, m.joined_at,
			m.communication_disabled_until FROM guild_members m JOIN users u ON u.id = m.user_id WHERE m.guild_id = $1`, id, scanMember); err != nil {
			return err
		}
		if snap.Bans, err = collect(ctx, tx, `SELECT b.guild_id, `+memberUserColumns+`, b.reason, b.created_at
			FROM guild_bans b JOIN users u ON u.id = b.user_id WHERE b.guild_id = $1`, id, scanBan); err != nil {
			return err
		}
		snap.Invites, err = collect(ctx, tx, `SELECT `+inviteColumns+` FROM invites WHERE guild_id = $1`, id, scanInvite)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return GuildSnapshot{}, err
		}
		return GuildSnapshot{}, fmt.Errorf("persistence: load guild %d: %w", id, err)
	}
	return snap, nil
}

const (
	memberUserColumns = `u.id, u.username, u.discriminator, u.global_name, u.avatar, u.bot`
	inviteColumns     = `code, guild_id, channel_id, coalesce(inviter_id, 0), max_age, max_uses, uses, temporary, created_at`
)

func collect[T any](ctx context.Context, tx pgx.Tx, sql string, arg any, scan func(pgx.Row) (T, error)) ([]T, error) {
	rows, err := tx.Query(ctx, sql, arg)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
}

func scanRole(r pgx.Row) (Role, error) {
	var ro Role
	var perms int64
	err := r.Scan(&ro.ID, &ro.GuildID, &ro.Name, &ro.Color, &ro.Hoist, &ro.Position, &perms, &ro.Mentionable, &ro.BotID)
	ro.Permissions = uint64(perms)
	return ro, err
}

func scanChannel(r pgx.Row) (Channel, error) {
	var c Channel
	err := r.Scan(&c.ID, &c.GuildID, &c.Type, &c.Name, &c.Topic, &c.Position, &c.ParentID, &c.NSFW,
		&c.RateLimitPerUser, &c.Bitrate, &c.UserLimit, &c.CreatedAt)
	return c, err
}

func scanMember(r pgx.Row) (Member, error) {
	var m Member
	err := r.Scan(&m.GuildID, &m.User.ID, &m.User.Username, &m.User.Discriminator, &m.User.GlobalName, &m.User.Avatar,
		&m.User.Bot, &m.Nick, &m.Roles, &m.JoinedAt, &m.CommunicationDisabledUntil)
	if m.Roles == nil {
		m.Roles = []int64{}
	}
	return m, err
}

func scanBan(r pgx.Row) (Ban, error) {
	var b Ban
	err := r.Scan(&b.GuildID, &b.User.ID, &b.User.Username, &b.User.Discriminator, &b.User.GlobalName, &b.User.Avatar,
		&b.User.Bot, &b.Reason, &b.CreatedAt)
	return b, err
}

func scanInvite(r pgx.Row) (Invite, error) {
	var i Invite
	err := r.Scan(&i.Code, &i.GuildID, &i.ChannelID, &i.InviterID, &i.MaxAge, &i.MaxUses, &i.Uses, &i.Temporary, &i.CreatedAt)
	return i, err
}

// MemberUserByID returns the member view of a user, for a guild grain adding
// a member. ErrNotFound when there is no such user.
func (s *Store) MemberUserByID(ctx context.Context, id int64) (MemberUser, error) {
	var u MemberUser
	err := s.pool.QueryRow(ctx, `SELECT `+memberUserColumns+` FROM users u WHERE u.id = $1`, id).
		Scan(&u.ID, &u.Username, &u.Discriminator, &u.GlobalName, &u.Avatar, &u.Bot)
	return u, notFound(err)
}

// GuildIDsOfUser lists the guilds userID is a member of, oldest first.
func (s *Store) GuildIDsOfUser(ctx context.Context, userID int64) ([]int64, error) {
	rows, err := s.pool.Query(ctx, `SELECT guild_id FROM guild_members WHERE user_id = $1 ORDER BY guild_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("persistence: guilds of user: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("persistence: guilds of user: %w", err)
	}
	return ids, nil
}

// CountGuildsOfUser counts userID's memberships.
func (s *Store) CountGuildsOfUser(ctx context.Context, userID int64) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM guild_members WHERE user_id = $1`, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("persistence: count guilds of user: %w", err)
	}
	return n, nil
}

// ChannelGuild returns the guild of a channel (0 for a DM channel), or
// ErrNotFound. Channels never change guild, so callers may cache it.
func (s *Store) ChannelGuild(ctx context.Context, channelID int64) (int64, error) {
	var g *int64
	if err := s.pool.QueryRow(ctx, `SELECT guild_id FROM channels WHERE id = $1`, channelID).Scan(&g); err != nil {
		return 0, notFound(err)
	}
	if g == nil {
		return 0, nil
	}
	return *g, nil
}

// InviteGuild returns the guild an invite code belongs to, or ErrNotFound.
func (s *Store) InviteGuild(ctx context.Context, code string) (int64, error) {
	var g int64
	if err := s.pool.QueryRow(ctx, `SELECT guild_id FROM invites WHERE code = $1`, code).Scan(&g); err != nil {
		return 0, notFound(err)
	}
	return g, nil
}
