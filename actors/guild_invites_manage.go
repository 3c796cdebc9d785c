package actors

import (
	"net/http"
	"sort"
	"time"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
)

// Invite operations beside create and join: list a channel's or the guild's
// invites, read one, delete one.
//
// Only live invites exist for clients: an invite past its max_age or out of
// uses is answered as Unknown Invite and left out of lists, and the grain
// deletes such rows at its next invite write (see pruneInvites).
func init() {
	registerGuildOps(map[string]guildOp{
		"invites.channel_list": {run: listChannelInvites},
		"invites.guild_list":   {run: listGuildInvites},
		"invite.get":           {run: getInvite},
		"invite.delete":        {run: deleteInvite},
	})
}

// liveInvites lists the usable invites that keep reports true for, oldest
// first (then by code), as Discord lists them.
func (st *guildState) liveInvites(now time.Time, keep func(*persistence.Invite) bool) []*persistence.Invite {
	out := []*persistence.Invite{}
	for _, inv := range st.invites {
		if st.channels[inv.ChannelID] != nil && !inviteExpired(inv, now) && keep(inv) {
			out = append(out, inv)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].Code < out[j].Code
	})
	return out
}

func (st *guildState) wireInvites(invs []*persistence.Invite) []discord.Invite {
	out := make([]discord.Invite, len(invs))
	for i, inv := range invs {
		out[i] = st.wireInvite(inv, true)
	}
	return out
}

// listChannelInvites is GET /channels/{id}/invites: MANAGE_CHANNELS in a
// channel the actor can view.
func listChannelInvites(c *gcall) (reply, *discord.Error) {
	chID, _ := c.id("channel_id")
	ch, e := c.st.viewChannel(c.actor, chID, c.now)
	if e != nil {
		return reply{}, e
	}
	if !c.st.channelPerms(c.actor, ch, c.now).Has(permissions.ManageChannels) {
		return reply{}, discord.ErrMissingPerms
	}
	invs := c.st.liveInvites(c.now, func(inv *persistence.Invite) bool { return inv.ChannelID == ch.ID })
	return reply{status: http.StatusOK, body: c.st.wireInvites(invs)}, nil
}

// listGuildInvites is GET /guilds/{id}/invites: MANAGE_GUILD; every live
// invite of every channel.
func listGuildInvites(c *gcall) (reply, *discord.Error) {
	if e := c.st.requireGuild(c.actor, permissions.ManageGuild, c.now); e != nil {
		return reply{}, e
	}
	invs := c.st.liveInvites(c.now, func(*persistence.Invite) bool { return true })
	return reply{status: http.StatusOK, body: c.st.wireInvites(invs)}, nil
}

// getInvite is GET /invites/{code}: anyone may read a live invite, members
// or not, even without a token (actor 0), as on Discord. with_counts=true
// adds approximate_member_count; approximate_presence_count is left out
// until the guild tracks presences.
func getInvite(c *gcall) (reply, *discord.Error) {
	inv, e := c.liveInvite()
	if e != nil {
		return reply{}, e
	}
	out := c.st.wireInvite(inv, false)
	if c.params["with_counts"] == "true" {
		n := len(c.st.members)
		out.ApproximateMemberCount = &n
	}
	return reply{status: http.StatusOK, body: out}, nil
}

// deleteInvite is DELETE /invites/{code}: MANAGE_CHANNELS in the invite's
// channel, or MANAGE_GUILD for any invite of the guild. It answers the
// deleted invite and sends INVITE_DELETE to the members who manage that
// channel (the ones who received its INVITE_CREATE).
func deleteInvite(c *gcall) (reply, *discord.Error) {
	if c.st.members[c.actor] == nil {
		return reply{}, discord.ErrMissingAccess
	}
	inv, e := c.liveInvite()
	if e != nil {
		return reply{}, e
	}
	ch := c.st.channels[inv.ChannelID] // present: liveInvite checked it
	if !c.st.guildPerms(c.actor, c.now).Has(permissions.ManageGuild) &&
		!c.st.channelPerms(c.actor, ch, c.now).Has(permissions.ManageChannels) {
		return reply{}, discord.ErrMissingPerms
	}
	out := c.st.wireInvite(inv, false)
	recipients := c.st.channelHolders(ch, permissions.ManageChannels, c.now)
	if e := c.write(func(w *persistence.GuildWriter) error { return w.DeleteInvite(inv.Code) }, func() {
		delete(c.st.invites, inv.Code)
	}); e != nil {
		return reply{}, e
	}
	c.emit("INVITE_DELETE", ch.ID, inviteDeleteEvent(c.g.id, inv), recipients)
	return reply{status: http.StatusOK, body: out}, nil
}

// inviteDeleteEvent is INVITE_DELETE's payload.
func inviteDeleteEvent(guildID int64, inv *persistence.Invite) map[string]any {
	return map[string]any{"channel_id": snowflake.ID(inv.ChannelID), "guild_id": snowflake.ID(guildID), "code": inv.Code}
}

// deadInvites lists the invites that can no longer be used (expired, out of
// uses, or of a channel that is gone), for the next write to delete.
func (st *guildState) deadInvites(now time.Time) []*persistence.Invite {
	var out []*persistence.Invite
	for _, inv := range st.invites {
		if inviteExpired(inv, now) || st.channels[inv.ChannelID] == nil {
			out = append(out, inv)
		}
	}
	return out
}
