package actors

import (
	"sort"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
)

// Conversions from the grain's state to Discord's JSON objects.

func sfPtr(id int64) *snowflake.ID {
	if id == 0 {
		return nil
	}
	v := snowflake.ID(id)
	return &v
}

func wireRole(r *persistence.Role) discord.Role {
	out := discord.Role{ID: snowflake.ID(r.ID), Name: r.Name, Color: r.Color, Hoist: r.Hoist, Position: r.Position,
		Permissions: permissions.Permission(r.Permissions), Mentionable: r.Mentionable}
	if r.BotID != 0 {
		out.Managed = true
		out.Tags = &discord.RoleTags{BotID: snowflake.ID(r.BotID)}
	}
	return out
}

// sortedRoles lists roles by position, then id, as clients show them.
func (st *guildState) sortedRoles() []discord.Role {
	out := make([]discord.Role, 0, len(st.roles))
	for _, r := range st.roles {
		out = append(out, wireRole(r))
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Position != out[j].Position {
			return out[i].Position < out[j].Position
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func wireChannel(c *persistence.Channel) discord.Channel {
	gid := snowflake.ID(c.GuildID)
	out := discord.Channel{ID: snowflake.ID(c.ID), Type: c.Type, GuildID: &gid, Position: c.Position, Name: c.Name,
		Topic: c.Topic, NSFW: c.NSFW, RateLimitPerUser: c.RateLimitPerUser, ParentID: sfPtr(c.ParentID),
		PermissionOverwrites: make([]discord.Overwrite, 0, len(c.Overwrites))}
	for _, o := range c.Overwrites {
		out.PermissionOverwrites = append(out.PermissionOverwrites, discord.Overwrite{ID: snowflake.ID(o.TargetID),
			Type: o.Type, Allow: permissions.Permission(o.Allow), Deny: permissions.Permission(o.Deny)})
	}
	if c.Type == discord.ChannelVoice {
		b, u := c.Bitrate, c.UserLimit
		out.Bitrate, out.UserLimit = &b, &u
	}
	return out
}

func wireMemberUser(u persistence.MemberUser) discord.User {
	return discord.User{ID: snowflake.ID(u.ID), Username: u.Username, Discriminator: discriminator(u.Discriminator),
		GlobalName: u.GlobalName, Avatar: u.Avatar, Bot: u.Bot}
}

func discriminator(d int16) string {
	const digits = "0123456789"
	return string([]byte{digits[d/1000%10], digits[d/100%10], digits[d/10%10], digits[d%10]})
}

func wireMember(m *persistence.Member) discord.Member {
	u := wireMemberUser(m.User)
	roles := make([]snowflake.ID, len(m.Roles))
	for i, r := range m.Roles {
		roles[i] = snowflake.ID(r)
	}
	return discord.Member{User: &u, Nick: m.Nick, Roles: roles, JoinedAt: m.JoinedAt,
		CommunicationDisabledUntil: m.CommunicationDisabledUntil}
}

func (st *guildState) wireGuild() discord.Guild {
	g := st.guild
	return discord.Guild{ID: snowflake.ID(g.ID), Name: g.Name, Icon: g.Icon, OwnerID: snowflake.ID(g.OwnerID),
		SystemChannelID: sfPtr(g.SystemChannelID), Roles: st.sortedRoles(), Emojis: []any{}, Stickers: []any{},
		Features: []string{}, PreferredLocale: "en-US"}
}
