package actors

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
)

// Ban operations: list, read, ban, unban. Every one needs BAN_MEMBERS, which
// is checked before the ban or user is looked up: the ban list is private to
// moderators, so a member without the permission learns nothing about who is
// banned. Ban events go to the members holding BAN_MEMBERS (Discord's
// GUILD_MODERATION intent).
func init() {
	registerGuildOps(map[string]guildOp{
		"bans.list":  {run: listBans},
		"ban.get":    {run: getBan},
		"ban.put":    {run: putBan},
		"ban.delete": {run: deleteBan},
	})
}

// Discord's limits on bans.
const (
	maxBanPage           = 1000
	maxBanReason         = 512
	maxDeleteMessageSecs = 7 * 24 * 60 * 60
)

func wireBan(b *persistence.Ban) discord.Ban {
	return discord.Ban{Reason: b.Reason, User: wireMemberUser(b.User)}
}

func (c *gcall) banEvent(u persistence.MemberUser) map[string]any {
	return map[string]any{"guild_id": snowflake.ID(c.g.id), "user": wireMemberUser(u)}
}

// listBans pages bans by user id, as Discord: after gives the first limit
// bans above it, before alone the last limit bans below it.
func listBans(c *gcall) (reply, *discord.Error) {
	if e := c.st.requireGuild(c.actor, permissions.BanMembers, c.now); e != nil {
		return reply{}, e
	}
	limit, e := c.limit(maxBanPage, maxBanPage)
	if e != nil {
		return reply{}, e
	}
	before, e := c.cursor("before")
	if e != nil {
		return reply{}, e
	}
	after, e := c.cursor("after")
	if e != nil {
		return reply{}, e
	}
	ids := make([]int64, 0, len(c.st.bans))
	for id := range c.st.bans {
		if (before == 0 || id < before) && id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if before != 0 && after == 0 && len(ids) > limit {
		ids = ids[len(ids)-limit:]
	} else if len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]discord.Ban, 0, len(ids))
	for _, id := range ids {
		out = append(out, wireBan(c.st.bans[id]))
	}
	return reply{status: http.StatusOK, body: out}, nil
}

// ban resolves the user_id parameter to its ban after the permission check.
func (c *gcall) ban() (*persistence.Ban, *discord.Error) {
	if e := c.st.requireGuild(c.actor, permissions.BanMembers, c.now); e != nil {
		return nil, e
	}
	id, _ := c.id("user_id")
	b := c.st.bans[id]
	if b == nil {
		return nil, discord.ErrUnknownBan
	}
	return b, nil
}

func getBan(c *gcall) (reply, *discord.Error) {
	b, e := c.ban()
	if e != nil {
		return reply{}, e
	}
	return reply{status: http.StatusOK, body: wireBan(b)}, nil
}

type banBody struct {
	DeleteMessageSeconds *int    `json:"delete_message_seconds"`
	DeleteMessageDays    *int    `json:"delete_message_days"` // deprecated by Discord, still accepted
	Reason               *string `json:"reason"`              // legacy; X-Audit-Log-Reason is the way
}

// putBan bans a user, member or not. A member is removed in the same
// transaction. delete_message_seconds is validated but deletes nothing yet:
// messages arrive later. Banning a user already banned changes nothing.
func putBan(c *gcall) (reply, *discord.Error) {
	if e := c.st.requireGuild(c.actor, permissions.BanMembers, c.now); e != nil {
		return reply{}, e
	}
	id, ok := c.id("user_id")
	if !ok {
		return reply{}, discord.ErrUnknownUser
	}
	var body banBody
	if e := c.decode(&body); e != nil {
		return reply{}, e
	}
	fe := discord.FieldErrors{}
	if v := body.DeleteMessageSeconds; v != nil && (*v < 0 || *v > maxDeleteMessageSecs) {
		fe.Add("delete_message_seconds", "NUMBER_TYPE_MAX", "Must be between 0 and 604800.")
	}
	if v := body.DeleteMessageDays; v != nil && (*v < 0 || *v > 7) {
		fe.Add("delete_message_days", "NUMBER_TYPE_MAX", "Must be between 0 and 7.")
	}
	reason := c.params["audit_log_reason"]
	if reason == "" && body.Reason != nil {
		reason = *body.Reason
	}
	if reason == "" {
		reason = c.params["reason"]
	}
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > maxBanReason {
		fe.Add("reason", "BASE_TYPE_BAD_LENGTH", "Must be 512 or fewer in length.")
	}
	if e := fe.Err(); e != nil {
		return reply{}, e
	}

	m := c.st.members[id]
	if m == nil && c.st.bans[id] != nil {
		return reply{status: http.StatusNoContent}, nil
	}
	if !c.st.canActOn(c.actor, id) {
		return reply{}, discord.ErrMissingPerms
	}
	b := persistence.Ban{GuildID: c.g.id, CreatedAt: c.now}
	if reason != "" {
		b.Reason = &reason
	}
	if m != nil {
		b.User = m.User
	} else {
		ctx, cancel := c.g.storeCtx()
		u, err := c.g.sys.cfg.Guilds.MemberUserByID(ctx, id)
		cancel()
		if errors.Is(err, persistence.ErrNotFound) {
			return reply{}, discord.ErrUnknownUser
		}
		if err != nil {
			return reply{}, errStore
		}
		b.User = u
	}
	dropRoles, applyDrop, emitDrop := c.dropManagedRoles(id)
	if e := c.write(func(w *persistence.GuildWriter) error {
		if err := w.PutBan(b); err != nil {
			return err
		}
		if m != nil {
			if err := w.DeleteMember(c.g.id, id); err != nil {
				return err
			}
			return dropRoles(w)
		}
		return nil
	}, func() {
		c.st.bans[id] = &b
		if m != nil {
			c.st.removeMember(id)
			applyDrop()
		}
	}); e != nil {
		return reply{}, e
	}
	c.emit("GUILD_BAN_ADD", 0, c.banEvent(b.User), c.st.holders(permissions.BanMembers, c.now))
	if m != nil {
		c.emitRemoved(m.User)
		emitDrop()
	}
	return reply{status: http.StatusNoContent}, nil
}

func deleteBan(c *gcall) (reply, *discord.Error) {
	b, e := c.ban()
	if e != nil {
		return reply{}, e
	}
	id := b.User.ID
	if e := c.write(func(w *persistence.GuildWriter) error { return w.DeleteBan(c.g.id, id) }, func() {
		delete(c.st.bans, id)
	}); e != nil {
		return reply{}, e
	}
	c.emit("GUILD_BAN_REMOVE", 0, c.banEvent(b.User), c.st.holders(permissions.BanMembers, c.now))
	return reply{status: http.StatusNoContent}, nil
}
