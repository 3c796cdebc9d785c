package permissions

import "math"

// RoleLess reports whether role a ranks below role b in the role hierarchy:
// a has the lower position, or the same position and the higher id. Discord
// documents only that roles of equal position are sorted by id; like
// discord.js (Role.comparePositions), Accord ranks the lower (older) id
// higher (Discord.Net ranks the higher id higher). The order is total, and
// @everyone, whose id is the guild's and therefore the oldest, ranks above
// any other role at position 0.
func RoleLess(a, b Role) bool {
	if a.Position != b.Position {
		return a.Position < b.Position
	}
	return a.ID > b.ID
}

// HighestRole returns m's highest role by [RoleLess] among the roles the
// guild defines, or the @everyone role when m has none. Ownership is not a
// role: for the owner it is still their highest role.
func HighestRole(g *Guild, m *Member) Role {
	v := guildView(g)
	return v.highest(m)
}

// HighestPosition returns the position of m's highest role: 0 (the
// @everyone role's position) for a member without roles, and math.MaxInt for
// the owner, who outranks everyone. Two members with equal positions may
// still rank differently through the id tie-break; decide who may act on whom
// with CanActOnMember and CanManageRole, not by comparing positions.
func HighestPosition(g *Guild, m *Member) int {
	v := guildView(g)
	return v.highestPosition(m)
}

// CanManageRole reports whether the role hierarchy lets actor manage (edit,
// delete, reorder, grant or revoke) the role roleID: the owner may manage
// every role; anyone else only roles ranking strictly below their own highest
// role. A role the guild does not define cannot be managed. This is the
// hierarchy only: the caller also checks [ManageRoles] with [GuildLevel], and that
// an edit grants no permission the actor lacks.
func CanManageRole(g *Guild, actor *Member, roleID int64) bool {
	v := guildView(g)
	return v.canManageRole(actor, roleID)
}

// CanActOnMember reports whether the role hierarchy lets actor kick, ban,
// time out or rename target: nobody acts on the owner; the owner acts on
// everyone else; anyone else only on members whose highest role ranks
// strictly below the actor's, so members with the same highest role (or none)
// cannot act on each other. This is the hierarchy only: the caller also
// checks the action's permission with [GuildLevel].
func CanActOnMember(g *Guild, actor, target *Member) bool {
	v := guildView(g)
	return v.canActOnMember(actor, target)
}

func (v *view) highest(m *Member) Role {
	best := v.everyone
	for _, id := range m.Roles {
		if id == v.guildID {
			continue
		}
		if r, ok := v.find(id); ok && RoleLess(best, r) {
			best = r
		}
	}
	return best
}

func (v *view) highestPosition(m *Member) int {
	if m.UserID == v.ownerID {
		return math.MaxInt
	}
	return v.highest(m).Position
}

func (v *view) canManageRole(actor *Member, roleID int64) bool {
	r, ok := v.find(roleID)
	if !ok {
		if roleID != v.guildID {
			return false
		}
		r = v.everyone
	}
	if actor.UserID == v.ownerID {
		return true
	}
	return RoleLess(r, v.highest(actor))
}

func (v *view) canActOnMember(actor, target *Member) bool {
	if target.UserID == v.ownerID {
		return false
	}
	if actor.UserID == v.ownerID {
		return true
	}
	return RoleLess(v.highest(target), v.highest(actor))
}
