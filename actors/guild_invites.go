package actors

import (
	"crypto/rand"
	"net/http"
	"time"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
)

// Invite operations: create and join. (Listing, reading and deleting
// invites live in guild_invites_manage.go.)
func init() {
	registerGuildOps(map[string]guildOp{
		"invites.create": {run: createInvite},
		"invite.join":    {run: joinInvite},
	})
}

const inviteAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func newInviteCode() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = inviteAlphabet[int(b[i])%len(inviteAlphabet)]
	}
	return string(b)
}

// expired reports whether inv can no longer be used at now.
func inviteExpired(inv *persistence.Invite, now time.Time) bool {
	if inv.MaxAge > 0 && !now.Before(inv.CreatedAt.Add(time.Duration(inv.MaxAge)*time.Second)) {
		return true
	}
	return inv.MaxUses > 0 && inv.Uses >= inv.MaxUses
}

// liveInvite returns the usable invite named by the code parameter: one
// that has not expired, has uses left and whose channel still exists.
func (c *gcall) liveInvite() (*persistence.Invite, *discord.Error) {
	inv := c.st.invites[c.params["code"]]
	if inv == nil || inviteExpired(inv, c.now) || c.st.channels[inv.ChannelID] == nil {
		return nil, discord.ErrUnknownInvite
	}
	return inv, nil
}

// wireInvite renders an invite; meta adds uses, limits and creation time.
func (st *guildState) wireInvite(inv *persistence.Invite, meta bool) discord.Invite {
	out := discord.Invite{Code: inv.Code,
		Guild: &discord.InviteGuild{ID: snowflake.ID(st.guild.ID), Name: st.guild.Name, Icon: st.guild.Icon, Features: []string{}}}
	if ch := st.channels[inv.ChannelID]; ch != nil {
		out.Channel = &discord.InviteChannel{ID: snowflake.ID(ch.ID), Name: ch.Name, Type: ch.Type}
	}
	if m := st.members[inv.InviterID]; m != nil {
		u := wireMemberUser(m.User)
		out.Inviter = &u
	}
	if inv.MaxAge > 0 {
		t := inv.CreatedAt.Add(time.Duration(inv.MaxAge) * time.Second).UTC()
		out.ExpiresAt = &t
	}
	if meta {
		uses, maxUses, maxAge, temp, created := inv.Uses, inv.MaxUses, inv.MaxAge, inv.Temporary, inv.CreatedAt.UTC()
		out.Uses, out.MaxUses, out.MaxAge, out.Temporary, out.CreatedAt = &uses, &maxUses, &maxAge, &temp, &created
	}
	return out
}

type createInviteBody struct {
	MaxAge    *int  `json:"max_age"`
	MaxUses   *int  `json:"max_uses"`
	Temporary *bool `json:"temporary"`
	Unique    *bool `json:"unique"`
}

func createInvite(c *gcall) (reply, *discord.Error) {
	chID, _ := c.id("channel_id")
	ch, e := c.st.viewChannel(c.actor, chID, c.now)
	if e != nil {
		return reply{}, e
	}
	if !c.st.channelPerms(c.actor, ch, c.now).Has(permissions.CreateInstantInvite) {
		return reply{}, discord.ErrMissingPerms
	}
	if ch.Type == discord.ChannelCategory {
		return reply{}, discord.Invalid("channel_id", "CHANNEL_TYPE_INVALID", "Invites cannot point at a category.")
	}
	var body createInviteBody
	if e := c.decode(&body); e != nil {
		return reply{}, e
	}
	inv := persistence.Invite{GuildID: c.g.id, ChannelID: ch.ID, InviterID: c.actor, MaxAge: 86400, CreatedAt: c.now}
	fe := discord.FieldErrors{}
	if body.MaxAge != nil {
		if *body.MaxAge < 0 || *body.MaxAge > 604800 {
			fe.Add("max_age", "NUMBER_TYPE_MAX", "Must be between 0 and 604800.")
		}
		inv.MaxAge = *body.MaxAge
	}
	if body.MaxUses != nil {
		if *body.MaxUses < 0 || *body.MaxUses > 100 {
			fe.Add("max_uses", "NUMBER_TYPE_MAX", "Must be between 0 and 100.")
		}
		inv.MaxUses = *body.MaxUses
	}
	if body.Temporary != nil {
		inv.Temporary = *body.Temporary
	}
	if e := fe.Err(); e != nil {
		return reply{}, e
	}
	// Without unique, an equivalent live invite of the same inviter is
	// handed out again, as Discord does.
	if body.Unique == nil || !*body.Unique {
		for _, old := range c.st.invites {
			if old.ChannelID == inv.ChannelID && old.InviterID == inv.InviterID && old.MaxAge == inv.MaxAge &&
				old.MaxUses == inv.MaxUses && old.Temporary == inv.Temporary && old.Uses == 0 && !inviteExpired(old, c.now) {
				return reply{status: http.StatusOK, body: c.st.wireInvite(old, true)}, nil
			}
		}
	}
	for {
		inv.Code = newInviteCode()
		if c.st.invites[inv.Code] == nil {
			break
		}
	}
	// Dead invites go with this write, so they do not pile up.
	dead := c.st.deadInvites(c.now)
	if e := c.write(func(w *persistence.GuildWriter) error {
		for _, old := range dead {
			if err := w.DeleteInvite(old.Code); err != nil {
				return err
			}
		}
		return w.PutInvite(inv)
	}, func() {
		for _, old := range dead {
			delete(c.st.invites, old.Code)
		}
		c.st.invites[inv.Code] = &inv
	}); e != nil {
		return reply{}, e
	}
	out := c.st.wireInvite(&inv, true)
	c.emit("INVITE_CREATE", ch.ID, inviteEvent(c.g.id, out), c.st.channelHolders(ch, permissions.ManageChannels, c.now))
	return reply{status: http.StatusOK, body: out}, nil
}

// inviteEvent is INVITE_CREATE's payload: the invite with its channel and
// guild ids.
func inviteEvent(guildID int64, inv discord.Invite) map[string]any {
	ev := map[string]any{"code": inv.Code, "guild_id": snowflake.ID(guildID), "created_at": inv.CreatedAt,
		"max_age": inv.MaxAge, "max_uses": inv.MaxUses, "temporary": inv.Temporary, "uses": inv.Uses}
	if inv.Channel != nil {
		ev["channel_id"] = inv.Channel.ID
	}
	if inv.Inviter != nil {
		ev["inviter"] = inv.Inviter
	}
	return ev
}

// channelHolders lists the members holding need in channel c.
func (st *guildState) channelHolders(c *persistence.Channel, need permissions.Permission, now time.Time) []int64 {
	out := []int64{}
	for _, id := range st.memberIDs() {
		if st.channelPerms(id, c, now).Has(need | permissions.ViewChannel) {
			out = append(out, id)
		}
	}
	return out
}

func joinInvite(c *gcall) (reply, *discord.Error) {
	inv, e := c.liveInvite()
	if e != nil {
		return reply{}, e
	}
	if c.st.members[c.actor] != nil {
		return reply{status: http.StatusOK, body: c.st.wireInvite(inv, false)}, nil
	}
	if c.st.bans[c.actor] != nil {
		return reply{}, discord.ErrBanned
	}
	ctx, cancel := c.g.storeCtx()
	defer cancel()
	user, err := c.g.sys.cfg.Guilds.MemberUserByID(ctx, c.actor)
	if err != nil {
		return reply{}, errStore
	}
	if n, err := c.g.sys.cfg.Guilds.CountGuildsOfUser(ctx, c.actor); err != nil {
		return reply{}, errStore
	} else if n >= maxGuildsPerUser {
		return reply{}, discord.ErrMaxGuilds
	}
	m := persistence.Member{GuildID: c.g.id, User: user, Roles: []int64{}, JoinedAt: c.now}
	used := *inv
	used.Uses++
	// Its last use deletes the invite, as on Discord.
	spent := used.MaxUses > 0 && used.Uses >= used.MaxUses
	managers := c.st.channelHolders(c.st.channels[inv.ChannelID], permissions.ManageChannels, c.now)
	if e := c.write(func(w *persistence.GuildWriter) error {
		if err := w.PutMember(m); err != nil {
			return err
		}
		if spent {
			return w.DeleteInvite(used.Code)
		}
		return w.PutInvite(used)
	}, func() {
		c.st.members[m.User.ID] = &m
		*inv = used
		if spent {
			delete(c.st.invites, used.Code)
		}
	}); e != nil {
		return reply{}, e
	}
	if spent {
		c.emit("INVITE_DELETE", inv.ChannelID, inviteDeleteEvent(c.g.id, inv), managers)
	}
	wm := wireMember(&m)
	gid := snowflake.ID(c.g.id)
	wm.GuildID = &gid
	others := make([]int64, 0, len(c.st.members))
	for _, id := range c.st.memberIDs() {
		if id != c.actor {
			others = append(others, id)
		}
	}
	c.emit("GUILD_MEMBER_ADD", 0, wm, others)
	c.emit("GUILD_CREATE", 0, c.st.gatewayGuild(c.actor, 0, c.now, c.g.sys.Presence), []int64{c.actor})
	return reply{status: http.StatusOK, body: c.st.wireInvite(inv, false)}, nil
}
