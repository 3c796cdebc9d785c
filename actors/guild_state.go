package actors

import (
	"math/rand/v2"
	"sort"
	"time"

	"github.com/accordchat/accord/discord"
	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/persistence"
)

// Discord's limits on a guild.
const (
	maxGuildsPerUser    = 100
	maxRolesPerGuild    = 250
	maxChannelsPerGuild = 500
)

// guildState is a guild grain's memory of its guild. It is owned by the
// grain's mailbox: no locks.
type guildState struct {
	guild    persistence.Guild
	roles    map[int64]*persistence.Role
	channels map[int64]*persistence.Channel
	members  map[int64]*persistence.Member
	bans     map[int64]*persistence.Ban
	invites  map[string]*persistence.Invite

	// index is the permission index of the current roles and owner; nil
	// when they changed since it was built.
	index *permissions.Index

	// version identifies this state for the viewer lists handed to channel
	// grains: random per activation, changed by changed().
	version uint64
	// viewerCache holds viewers() per channel id as of version.
	viewerCache map[int64][]int64
	// viewersSent records, per channel id, the version whose viewer list
	// channel.authorize last included.
	viewersSent map[int64]uint64
	// authzCache holds channel.authorize answers that do not depend on the
	// message body or the time, as of version.
	authzCache map[authzKey][]byte
}

// authzKey identifies a cached channel.authorize answer.
type authzKey struct {
	actor, channel int64
	viewers        bool // the answer includes the viewer list
}

// authzCacheMax bounds guildState.authzCache; past it the cache starts
// over.
const authzCacheMax = 4096

func newGuildState(snap persistence.GuildSnapshot) *guildState {
	st := &guildState{
		guild:    snap.Guild,
		roles:    make(map[int64]*persistence.Role, len(snap.Roles)),
		channels: make(map[int64]*persistence.Channel, len(snap.Channels)),
		members:  make(map[int64]*persistence.Member, len(snap.Members)),
		bans:     make(map[int64]*persistence.Ban, len(snap.Bans)),
		invites:  make(map[string]*persistence.Invite, len(snap.Invites)),
		version:  rand.Uint64(),
	}
	for i := range snap.Roles {
		st.roles[snap.Roles[i].ID] = &snap.Roles[i]
	}
	for i := range snap.Channels {
		st.channels[snap.Channels[i].ID] = &snap.Channels[i]
	}
	for i := range snap.Members {
		st.members[snap.Members[i].User.ID] = &snap.Members[i]
	}
	for i := range snap.Bans {
		st.bans[snap.Bans[i].User.ID] = &snap.Bans[i]
	}
	for i := range snap.Invites {
		st.invites[snap.Invites[i].Code] = &snap.Invites[i]
	}
	return st
}

// changed forgets what was derived from the state for channel grains: call
// it after anything that may have changed the state. The grain calls it
// after every operation but channel.authorize (see guildOp.pure), which is
// coarser than needed and cannot miss a change.
func (st *guildState) changed() {
	st.version++
	st.viewerCache, st.viewersSent, st.authzCache = nil, nil, nil
}

// viewersSentAt records that channel's viewer list of this version went out.
func (st *guildState) viewersSentAt(channel int64) {
	if st.viewersSent == nil {
		st.viewersSent = map[int64]uint64{}
	}
	st.viewersSent[channel] = st.version
}

// cacheAuthz keeps an encoded channel.authorize answer of this version.
func (st *guildState) cacheAuthz(k authzKey, b []byte) {
	if st.authzCache == nil || len(st.authzCache) >= authzCacheMax {
		st.authzCache = map[authzKey][]byte{}
	}
	st.authzCache[k] = b
}

// cachedViewers is viewers(c), computed once per channel and state version.
// Viewing does not depend on time (a timeout keeps VIEW_CHANNEL), so the
// list holds until the state changes. The slice is shared: never modify it.
func (st *guildState) cachedViewers(c *persistence.Channel, now time.Time) []int64 {
	if v, ok := st.viewerCache[c.ID]; ok {
		return v
	}
	v := st.viewers(c, now)
	if st.viewerCache == nil {
		st.viewerCache = map[int64][]int64{}
	}
	st.viewerCache[c.ID] = v
	return v
}

// rolesChanged drops the permission index; call it after any change to
// roles, their positions or permissions, or the owner.
func (st *guildState) rolesChanged() { st.index = nil }

func (st *guildState) perms() *permissions.Index {
	if st.index == nil {
		g := permissions.Guild{ID: st.guild.ID, OwnerID: st.guild.OwnerID, Roles: make([]permissions.Role, 0, len(st.roles))}
		for _, r := range st.roles {
			g.Roles = append(g.Roles, permissions.Role{ID: r.ID, Position: r.Position, Permissions: permissions.Permission(r.Permissions)})
		}
		st.index = permissions.NewIndex(&g)
	}
	return st.index
}

func permMember(m *persistence.Member) permissions.Member {
	pm := permissions.Member{UserID: m.User.ID, Roles: m.Roles}
	if m.CommunicationDisabledUntil != nil {
		pm.TimedOutUntil = *m.CommunicationDisabledUntil
	}
	return pm
}

func permOverwrites(c *persistence.Channel) []permissions.Overwrite {
	out := make([]permissions.Overwrite, len(c.Overwrites))
	for i, o := range c.Overwrites {
		out[i] = permissions.Overwrite{ID: o.TargetID, Type: permissions.OverwriteType(o.Type),
			Allow: permissions.Permission(o.Allow), Deny: permissions.Permission(o.Deny)}
	}
	return out
}

// guildPerms is the member's guild-level permissions (timeouts applied); 0
// for a non-member.
func (st *guildState) guildPerms(userID int64, now time.Time) permissions.Permission {
	m := st.members[userID]
	if m == nil {
		return 0
	}
	pm := permMember(m)
	return st.perms().GuildLevel(&pm, now)
}

// channelPerms is the member's permissions in channel c; 0 for a non-member.
func (st *guildState) channelPerms(userID int64, c *persistence.Channel, now time.Time) permissions.Permission {
	m := st.members[userID]
	if m == nil {
		return 0
	}
	pm := permMember(m)
	return st.perms().Channel(&pm, permOverwrites(c), now)
}

// requireGuild checks that userID is a member holding every bit of need at
// guild level: 403 Missing Access for a non-member, 403 Missing Permissions
// otherwise.
func (st *guildState) requireGuild(userID int64, need permissions.Permission, now time.Time) *discord.Error {
	if st.members[userID] == nil {
		return discord.ErrMissingAccess
	}
	if !st.guildPerms(userID, now).Has(need) {
		return discord.ErrMissingPerms
	}
	return nil
}

// channel returns the channel id names in this guild, with 404 Unknown
// Channel when there is none and 403 Missing Access when userID cannot view
// it (or is not a member).
func (st *guildState) viewChannel(userID, id int64, now time.Time) (*persistence.Channel, *discord.Error) {
	c := st.channels[id]
	if c == nil {
		return nil, discord.ErrUnknownChannel
	}
	if !st.channelPerms(userID, c, now).Has(permissions.ViewChannel) {
		return nil, discord.ErrMissingAccess
	}
	return c, nil
}

// memberIDs lists every member.
func (st *guildState) memberIDs() []int64 {
	out := make([]int64, 0, len(st.members))
	for id := range st.members {
		out = append(out, id)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// viewers lists the members who can view channel c.
func (st *guildState) viewers(c *persistence.Channel, now time.Time) []int64 {
	out := make([]int64, 0, len(st.members))
	ows := permOverwrites(c)
	idx := st.perms()
	for id, m := range st.members {
		pm := permMember(m)
		if idx.Channel(&pm, ows, now).Has(permissions.ViewChannel) {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// holders lists the members holding need at guild level.
func (st *guildState) holders(need permissions.Permission, now time.Time) []int64 {
	out := []int64{}
	for id := range st.members {
		if st.guildPerms(id, now).Has(need) {
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// canActOn reports whether actor may act on target by role hierarchy.
func (st *guildState) canActOn(actor, target int64) bool {
	a, t := st.members[actor], st.members[target]
	if a == nil {
		return false
	}
	pa := permMember(a)
	if t == nil {
		// Not a member (for example a ban of a non-member): only the owner
		// rule applies.
		return target != st.guild.OwnerID
	}
	pt := permMember(t)
	return st.perms().CanActOnMember(&pa, &pt)
}

// canManageRole reports whether actor's highest role is above roleID.
func (st *guildState) canManageRole(actor, roleID int64) bool {
	a := st.members[actor]
	if a == nil {
		return false
	}
	pa := permMember(a)
	return st.perms().CanManageRole(&pa, roleID)
}

// sortedChannels lists the channels by position, then id.
func (st *guildState) sortedChannels() []*persistence.Channel {
	out := make([]*persistence.Channel, 0, len(st.channels))
	for _, ch := range st.channels {
		out = append(out, ch)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Position != out[j].Position {
			return out[i].Position < out[j].Position
		}
		return out[i].ID < out[j].ID
	})
	return out
}
