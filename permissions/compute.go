package permissions

import "time"

// Role is what the computation needs of a guild role.
type Role struct {
	ID          int64
	Position    int
	Permissions Permission
}

// OverwriteType says whom an Overwrite applies to; the values are Discord's.
type OverwriteType uint8

const (
	// OverwriteRole applies to the members of the role Overwrite.ID, or to
	// everyone when the id is the guild id (@everyone).
	OverwriteRole OverwriteType = 0
	// OverwriteMember applies to the member whose user id is Overwrite.ID.
	OverwriteMember OverwriteType = 1
)

// Overwrite is a channel permission overwrite.
type Overwrite struct {
	ID    int64
	Type  OverwriteType
	Allow Permission
	Deny  Permission
}

// Member is what the computation needs of a guild member.
type Member struct {
	UserID int64
	// Roles are the member's role ids, without @everyone.
	Roles []int64
	// TimedOutUntil is the end of the member's timeout (Discord's
	// communication_disabled_until); the zero time means not timed out.
	TimedOutUntil time.Time
}

// TimedOut reports whether m is timed out at now: TimedOutUntil lies after
// now. Whether the timeout restricts m also depends on m not being the owner
// or an administrator, which GuildLevel and Channel check.
func (m *Member) TimedOut(now time.Time) bool {
	return !m.TimedOutUntil.IsZero() && m.TimedOutUntil.After(now)
}

// Guild is what the computation needs of a guild.
type Guild struct {
	// ID is the guild id, which is also the id of its @everyone role.
	ID      int64
	OwnerID int64
	// Roles are the guild's roles, @everyone included, in any order, with
	// unique ids.
	Roles []Role
}

// Base returns m's guild-level permissions, Discord's
// compute_base_permissions: [All] for the owner; otherwise the @everyone
// role's permissions OR those of each of m's roles, and [All] if that
// includes [Administrator]. Base ignores timeouts; checks of guild-wide
// actions use [GuildLevel].
func Base(g *Guild, m *Member) Permission {
	v := guildView(g)
	return v.base(m)
}

// GuildLevel returns m's guild-level permissions at now: Base, reduced to
// [TimedOutAllowed] while m is timed out unless Base is [All] (the owner and
// administrators are exempt from timeouts). This is what guild-wide actions
// (kick, ban, manage roles, manage guild, ...) check.
func GuildLevel(g *Guild, m *Member, now time.Time) Permission {
	v := guildView(g)
	return v.guild(m, now)
}

// Channel returns m's permissions in a channel with the given overwrites at
// now:
//
//  1. Base; the owner and administrators get [All] and nothing below applies;
//  2. the @everyone overwrite (type role, id = guild id): deny, then allow;
//  3. the overwrites of all of m's roles together: the OR of their denies is
//     removed, then the OR of their allows added, so an allow on any of m's
//     roles beats a deny on another, whatever the positions;
//  4. m's own member overwrite: deny, then allow;
//  5. without [ViewChannel] the result is 0 (implicit denial);
//  6. while m is timed out, only [TimedOutAllowed] remains.
func Channel(g *Guild, m *Member, overwrites []Overwrite, now time.Time) Permission {
	v := guildView(g)
	return v.channel(m, overwrites, now)
}

// view is the read-only state every computation runs on: a guild as given by
// the caller (roles scanned linearly) or as held by an Index (roles sorted by
// id). Sharing it is what makes the plain functions and the Index agree.
type view struct {
	guildID  int64
	ownerID  int64
	everyone Role // the @everyone role, or {ID: guildID} when the guild lacks one
	roles    []Role
	sorted   bool // roles are sorted by id without duplicates
}

func guildView(g *Guild) view {
	v := view{guildID: g.ID, ownerID: g.OwnerID, roles: g.Roles}
	v.everyone = v.everyoneRole()
	return v
}

func (v *view) everyoneRole() Role {
	if r, ok := v.find(v.guildID); ok {
		return r
	}
	return Role{ID: v.guildID}
}

// find returns the role with the given id. With duplicate ids in an unsorted
// slice it returns the first, as the Index does after its stable sort.
func (v *view) find(id int64) (Role, bool) {
	rs := v.roles
	if !v.sorted {
		for i := range rs {
			if rs[i].ID == id {
				return rs[i], true
			}
		}
		return Role{}, false
	}
	lo, hi := 0, len(rs)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if rs[mid].ID < id {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(rs) && rs[lo].ID == id {
		return rs[lo], true
	}
	return Role{}, false
}

// hasRole reports whether m holds the role id and the guild defines it;
// @everyone is never one of m's roles.
func (v *view) hasRole(m *Member, id int64) bool {
	if id == v.guildID {
		return false
	}
	for _, r := range m.Roles {
		if r == id {
			_, ok := v.find(id)
			return ok
		}
	}
	return false
}

func (v *view) base(m *Member) Permission {
	if m.UserID == v.ownerID {
		return All
	}
	p := v.everyone.Permissions
	for _, id := range m.Roles {
		if id == v.guildID {
			continue
		}
		if r, ok := v.find(id); ok {
			p |= r.Permissions
		}
	}
	if p&Administrator != 0 {
		return All
	}
	return p
}

func (v *view) guild(m *Member, now time.Time) Permission {
	p := v.base(m)
	if p&Administrator == 0 && m.TimedOut(now) {
		p &= TimedOutAllowed
	}
	return p
}

func (v *view) channel(m *Member, overwrites []Overwrite, now time.Time) Permission {
	p := v.base(m)
	if p&Administrator != 0 {
		return All // owner or administrator: overwrites and timeouts do not apply
	}
	var everyoneAllow, everyoneDeny, roleAllow, roleDeny, memberAllow, memberDeny Permission
	for i := range overwrites {
		o := &overwrites[i]
		switch o.Type {
		case OverwriteRole:
			if o.ID == v.guildID {
				everyoneAllow, everyoneDeny = o.Allow, o.Deny
			} else if v.hasRole(m, o.ID) {
				roleAllow |= o.Allow
				roleDeny |= o.Deny
			}
		case OverwriteMember:
			if o.ID == m.UserID {
				memberAllow, memberDeny = o.Allow, o.Deny
			}
		}
	}
	p = (p &^ everyoneDeny) | everyoneAllow
	p = (p &^ roleDeny) | roleAllow
	p = (p &^ memberDeny) | memberAllow
	if p&ViewChannel == 0 {
		return 0
	}
	if m.TimedOut(now) {
		p &= TimedOutAllowed
	}
	return p
}
