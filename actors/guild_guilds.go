package actors

import (
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/persistence"
	"github.com/accordchat/accord/snowflake"
)

// Guild-level operations: create, read, modify, delete, leave.
func init() {
	registerGuildOps(map[string]guildOp{
		"guild.create":  {create: true, run: createGuild},
		"guild.get":     {run: getGuild},
		"guild.partial": {run: partialGuild},
		"guild.update":  {run: updateGuild},
		"guild.delete":  {run: deleteGuild},
		"guild.leave":   {run: leaveGuild},
	})
}

// validName checks a name's length in runes after trimming spaces.
func validName(fe discord.FieldErrors, field string, v *string, lo, hi int) string {
	if v == nil {
		fe.Add(field, "BASE_TYPE_REQUIRED", "This field is required")
		return ""
	}
	name := strings.TrimSpace(*v)
	if n := utf8.RuneCountInString(name); n < lo || n > hi {
		fe.Add(field, "BASE_TYPE_BAD_LENGTH", "Must be between "+strconv.Itoa(lo)+" and "+strconv.Itoa(hi)+" in length.")
	}
	return name
}

type createGuildBody struct {
	Name *string `json:"name"`
	Icon *string `json:"icon"`
}

func createGuild(c *gcall) (reply, *discord.Error) {
	var body createGuildBody
	if e := c.decode(&body); e != nil {
		return reply{}, e
	}
	fe := discord.FieldErrors{}
	name := validName(fe, "name", body.Name, 2, 100)
	if body.Icon != nil {
		fe.Add("icon", "IMAGE_UNSUPPORTED", "Guild icons arrive with file uploads.")
	}
	if e := fe.Err(); e != nil {
		return reply{}, e
	}
	ctx, cancel := c.g.storeCtx()
	defer cancel()
	owner, err := c.g.sys.cfg.Guilds.MemberUserByID(ctx, c.actor)
	if err != nil {
		return reply{}, errStore
	}
	if n, err := c.g.sys.cfg.Guilds.CountGuildsOfUser(ctx, c.actor); err != nil {
		return reply{}, errStore
	} else if n >= maxGuildsPerUser {
		return reply{}, discord.ErrMaxGuilds
	}

	id := c.g.id
	ids := make([]int64, 4)
	for i := range ids {
		var e *discord.Error
		if ids[i], e = c.newID(); e != nil {
			return reply{}, e
		}
	}
	textCat, general, voiceCat, voice := ids[0], ids[1], ids[2], ids[3]
	snap := persistence.GuildSnapshot{
		Guild: persistence.Guild{ID: id, Name: name, OwnerID: c.actor, SystemChannelID: general, CreatedAt: snowflake.ID(id).Time()},
		Roles: []persistence.Role{{ID: id, GuildID: id, Name: "@everyone", Permissions: uint64(permissions.DefaultEveryone)}},
		Channels: []persistence.Channel{
			{ID: textCat, GuildID: id, Type: discord.ChannelCategory, Name: "Text Channels", Position: 0},
			{ID: general, GuildID: id, Type: discord.ChannelText, Name: "general", Position: 0, ParentID: textCat},
			{ID: voiceCat, GuildID: id, Type: discord.ChannelCategory, Name: "Voice Channels", Position: 1},
			{ID: voice, GuildID: id, Type: discord.ChannelVoice, Name: "General", Position: 0, ParentID: voiceCat, Bitrate: 64000},
		},
		Members: []persistence.Member{{GuildID: id, User: owner, Roles: []int64{}, JoinedAt: c.now}},
	}
	for i := range snap.Channels {
		snap.Channels[i].CreatedAt = c.now
		snap.Channels[i].Overwrites = []persistence.Overwrite{}
	}
	e := c.write(func(w *persistence.GuildWriter) error {
		if err := w.InsertGuild(snap.Guild); err != nil {
			return err
		}
		if err := w.PutRole(snap.Roles[0]); err != nil {
			return err
		}
		for _, ch := range snap.Channels {
			if err := w.PutChannel(ch); err != nil {
				return err
			}
		}
		return w.PutMember(snap.Members[0])
	}, func() {
		c.g.st, c.g.missing = newGuildState(snap), false
		c.st = c.g.st
	})
	if e != nil {
		return reply{}, e
	}
	out := c.st.wireGuild()
	c.emit("GUILD_CREATE", 0, c.st.gatewayGuild(c.actor, 0, c.now, c.g.sys.Presence), []int64{c.actor})
	return reply{status: http.StatusCreated, body: out}, nil
}

func getGuild(c *gcall) (reply, *discord.Error) {
	if c.st.members[c.actor] == nil {
		return reply{}, discord.ErrMissingAccess
	}
	out := c.st.wireGuild()
	if c.params["with_counts"] == "true" {
		n := len(c.st.members)
		out.ApproximateMemberCount = &n
	}
	return reply{status: http.StatusOK, body: out}, nil
}

// partialGuild is an entry of GET /users/@me/guilds for the actor.
func partialGuild(c *gcall) (reply, *discord.Error) {
	m := c.st.members[c.actor]
	if m == nil {
		return reply{}, discord.ErrMissingAccess
	}
	pm := permMember(m)
	g := c.st.guild
	out := discord.PartialGuild{ID: snowflake.ID(g.ID), Name: g.Name, Icon: g.Icon, Owner: g.OwnerID == c.actor,
		Permissions: c.st.perms().Base(&pm), Features: []string{}}
	if c.params["with_counts"] == "true" {
		n := len(c.st.members)
		out.ApproximateMemberCount = &n
	}
	return reply{status: http.StatusOK, body: out}, nil
}

type updateGuildBody struct {
	Name            *string              `json:"name"`
	Icon            nullableJSON[string] `json:"icon"`
	SystemChannelID nullableJSON[string] `json:"system_channel_id"`
	OwnerID         *string              `json:"owner_id"`
}

func updateGuild(c *gcall) (reply, *discord.Error) {
	if e := c.st.requireGuild(c.actor, permissions.ManageGuild, c.now); e != nil {
		return reply{}, e
	}
	var body updateGuildBody
	if e := c.decode(&body); e != nil {
		return reply{}, e
	}
	next := c.st.guild
	fe := discord.FieldErrors{}
	if body.Name != nil {
		next.Name = validName(fe, "name", body.Name, 2, 100)
	}
	switch {
	case body.Icon.Null:
		next.Icon = nil
	case body.Icon.Set:
		fe.Add("icon", "IMAGE_UNSUPPORTED", "Guild icons arrive with file uploads.")
	}
	switch {
	case body.SystemChannelID.Null:
		next.SystemChannelID = 0
	case body.SystemChannelID.Set:
		id, err := snowflake.Parse(body.SystemChannelID.Value)
		ch := c.st.channels[int64(id)]
		if err != nil || ch == nil || ch.Type != discord.ChannelText {
			fe.Add("system_channel_id", "CHANNEL_INVALID", "Must be a text channel of this guild.")
		} else {
			next.SystemChannelID = int64(id)
		}
	}
	if body.OwnerID != nil {
		id, err := snowflake.Parse(*body.OwnerID)
		switch {
		case c.actor != c.st.guild.OwnerID:
			return reply{}, discord.ErrMissingPerms
		case err != nil || c.st.members[int64(id)] == nil:
			fe.Add("owner_id", "GUILD_OWNER_INVALID", "The new owner must be a member of this guild.")
		default:
			next.OwnerID = int64(id)
		}
	}
	if e := fe.Err(); e != nil {
		return reply{}, e
	}
	if e := c.write(func(w *persistence.GuildWriter) error { return w.UpdateGuild(next) }, func() {
		if next.OwnerID != c.st.guild.OwnerID {
			c.st.rolesChanged()
		}
		c.st.guild = next
	}); e != nil {
		return reply{}, e
	}
	out := c.st.wireGuild()
	c.emit("GUILD_UPDATE", 0, out, c.st.memberIDs())
	return reply{status: http.StatusOK, body: out}, nil
}

func deleteGuild(c *gcall) (reply, *discord.Error) {
	if c.st.members[c.actor] == nil {
		return reply{}, discord.ErrMissingAccess
	}
	if c.actor != c.st.guild.OwnerID {
		return reply{}, discord.ErrMissingPerms
	}
	members := c.st.memberIDs()
	if e := c.write(func(w *persistence.GuildWriter) error { return w.DeleteGuild(c.g.id) }, func() {
		c.g.st, c.g.missing = nil, true
	}); e != nil {
		return reply{}, e
	}
	c.emit("GUILD_DELETE", 0, map[string]any{"id": snowflake.ID(c.g.id)}, members)
	return reply{status: http.StatusNoContent}, nil
}

func leaveGuild(c *gcall) (reply, *discord.Error) {
	m := c.st.members[c.actor]
	if m == nil {
		return reply{}, discord.ErrUnknownGuild
	}
	if c.actor == c.st.guild.OwnerID {
		return reply{}, discord.ErrOwnerCannotLeave
	}
	dropRoles, applyDrop, emitDrop := c.dropManagedRoles(c.actor)
	if e := c.write(func(w *persistence.GuildWriter) error {
		if err := w.DeleteMember(c.g.id, c.actor); err != nil {
			return err
		}
		return dropRoles(w)
	}, func() {
		c.st.removeMember(c.actor)
		applyDrop()
	}); e != nil {
		return reply{}, e
	}
	c.emit("GUILD_DELETE", 0, map[string]any{"id": snowflake.ID(c.g.id)}, []int64{c.actor})
	c.emit("GUILD_MEMBER_REMOVE", 0, map[string]any{"guild_id": snowflake.ID(c.g.id), "user": wireMemberUser(m.User)}, c.st.memberIDs())
	emitDrop()
	return reply{status: http.StatusNoContent}, nil
}

// removeMember drops a member and its member overwrites from memory,
// mirroring GuildWriter.DeleteMember.
func (st *guildState) removeMember(userID int64) {
	delete(st.members, userID)
	for _, ch := range st.channels {
		kept := ch.Overwrites[:0]
		for _, o := range ch.Overwrites {
			if !(o.Type == 1 && o.TargetID == userID) {
				kept = append(kept, o)
			}
		}
		ch.Overwrites = kept
	}
}
