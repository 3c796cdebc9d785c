package actors

import (
	"net/http"
	"sort"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
)

// Adding a bot to a guild (OAuth2's bot scope). The authorizing member needs
// MANAGE_GUILD and may grant the bot only permissions they hold. The bot
// joins as anyone joins through an invite (GUILD_MEMBER_ADD to the members,
// GUILD_CREATE to the bot) and, when permissions were asked for, gets a
// managed role named after it carrying them (tags.bot_id). A managed role
// cannot be given to or taken from anyone, nor deleted, by members; it goes
// when its bot leaves the guild, as on Discord.
func init() {
	registerGuildOps(map[string]guildOp{
		"bot.add": {run: addBot},
	})
}

// errManagedRole answers a grant or revocation of a managed role.
var errManagedRole = discord.ErrMissingPerms

func addBot(c *gcall) (reply, *discord.Error) {
	if e := c.st.requireGuild(c.actor, permissions.ManageGuild, c.now); e != nil {
		return reply{}, e
	}
	botID, ok := c.id("bot_id")
	if !ok {
		return reply{}, discord.ErrUnknownUser
	}
	var perms permissions.Permission
	if raw := c.params["permissions"]; raw != "" {
		p, err := permissions.Parse(raw)
		if err != nil {
			return reply{}, discord.Invalid("permissions", "PERMISSIONS_INVALID", "Must be a permission bit set, as a decimal string.")
		}
		perms = p & permissions.All
	}
	if !c.st.guildPerms(c.actor, c.now).Has(perms) {
		return reply{}, discord.ErrMissingPerms
	}
	if c.st.members[botID] != nil {
		return reply{status: http.StatusNoContent}, nil
	}
	if c.st.bans[botID] != nil {
		return reply{}, discord.ErrBanned
	}
	ctx, cancel := c.g.storeCtx()
	defer cancel()
	user, err := c.g.sys.cfg.Guilds.MemberUserByID(ctx, botID)
	if err != nil || !user.Bot {
		return reply{}, discord.ErrUnknownUser
	}
	if n, err := c.g.sys.cfg.Guilds.CountGuildsOfUser(ctx, botID); err != nil {
		return reply{}, errStore
	} else if n >= maxGuildsPerUser {
		return reply{}, discord.ErrMaxGuilds
	}

	m := persistence.Member{GuildID: c.g.id, User: user, Roles: []int64{}, JoinedAt: c.now}
	var role *persistence.Role
	var shifted []persistence.Role
	if perms != 0 {
		if len(c.st.roles) >= maxRolesPerGuild {
			return reply{}, discord.ErrMaxRoles
		}
		id, e := c.newID()
		if e != nil {
			return reply{}, e
		}
		role = &persistence.Role{ID: id, GuildID: c.g.id, Name: user.Username, Position: 1,
			Permissions: uint64(perms), BotID: botID}
		// Every role above @everyone moves up one, as for a created role.
		for _, old := range c.st.roles {
			if old.ID != c.g.id && old.Position >= 1 {
				next := *old
				next.Position++
				shifted = append(shifted, next)
			}
		}
		sort.Slice(shifted, func(i, j int) bool { return shifted[i].ID < shifted[j].ID })
		m.Roles = []int64{id}
	}
	if e := c.write(func(w *persistence.GuildWriter) error {
		if role != nil {
			if err := w.PutRoles(append(shifted, *role)); err != nil {
				return err
			}
		}
		return w.PutMember(m)
	}, func() {
		if role != nil {
			for _, s := range shifted {
				*c.st.roles[s.ID] = s
			}
			c.st.roles[role.ID] = role
			c.st.rolesChanged()
		}
		c.st.members[botID] = &m
	}); e != nil {
		return reply{}, e
	}
	others := make([]int64, 0, len(c.st.members))
	for _, id := range c.st.memberIDs() {
		if id != botID {
			others = append(others, id)
		}
	}
	if role != nil {
		c.emit("GUILD_ROLE_CREATE", 0, c.roleEvent(role), others)
		for i := range shifted {
			c.emit("GUILD_ROLE_UPDATE", 0, c.roleEvent(&shifted[i]), others)
		}
	}
	wm := wireMember(&m)
	gid := snowflake.ID(c.g.id)
	wm.GuildID = &gid
	c.emit("GUILD_MEMBER_ADD", 0, wm, others)
	c.emit("GUILD_CREATE", 0, c.st.gatewayGuild(botID, 0, c.now, c.g.sys.Presence), []int64{botID})
	return reply{status: http.StatusNoContent}, nil
}

// managedRolesOf lists the managed roles of bot userID (normally one).
func (st *guildState) managedRolesOf(userID int64) []int64 {
	var out []int64
	for _, r := range st.roles {
		if r.BotID == userID {
			out = append(out, r.ID)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// dropManagedRoles deletes, inside a write that removes member userID, the
// managed roles of that member if it is a bot; apply removes them from
// memory and emit announces them once the write committed.
func (c *gcall) dropManagedRoles(userID int64) (write func(w *persistence.GuildWriter) error, apply func(), emit func()) {
	ids := c.st.managedRolesOf(userID)
	write = func(w *persistence.GuildWriter) error {
		for _, id := range ids {
			if err := w.DeleteRole(c.g.id, id); err != nil {
				return err
			}
		}
		return nil
	}
	apply = func() {
		for _, id := range ids {
			c.st.removeRole(id)
		}
	}
	emit = func() {
		for _, id := range ids {
			c.emit("GUILD_ROLE_DELETE", 0, map[string]any{"guild_id": snowflake.ID(c.g.id), "role_id": snowflake.ID(id)},
				c.st.memberIDs())
		}
	}
	return write, apply, emit
}
