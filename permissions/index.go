package permissions

import (
	"cmp"
	"slices"
	"time"
)

// Index is a guild's roles prepared for repeated checks: a copy sorted by id,
// searched in O(log n), and the @everyone role looked up once. Build one per
// guild state version (after any change to the owner or to the roles' ids,
// positions or permissions) and use it for every check against that version;
// it is immutable and safe for concurrent use.
//
// Its methods return exactly what the functions of the same name return for
// the Guild it was built from.
type Index struct {
	v view
}

// NewIndex builds the Index of g. It copies what it needs; g may change
// afterwards without affecting the Index. Should g hold several roles with
// one id, the first counts, as in the plain functions.
func NewIndex(g *Guild) *Index {
	roles := slices.Clone(g.Roles)
	slices.SortStableFunc(roles, func(a, b Role) int { return cmp.Compare(a.ID, b.ID) })
	roles = slices.CompactFunc(roles, func(a, b Role) bool { return a.ID == b.ID })
	x := &Index{v: view{guildID: g.ID, ownerID: g.OwnerID, roles: slices.Clip(roles), sorted: true}}
	x.v.everyone = x.v.everyoneRole()
	return x
}

// GuildID returns the id of the indexed guild.
func (x *Index) GuildID() int64 { return x.v.guildID }

// OwnerID returns the owner of the indexed guild.
func (x *Index) OwnerID() int64 { return x.v.ownerID }

// Role returns the role with the given id, if the guild defines it.
func (x *Index) Role(id int64) (Role, bool) { return x.v.find(id) }

// Base is [Base] for the indexed guild.
func (x *Index) Base(m *Member) Permission { return x.v.base(m) }

// GuildLevel is [GuildLevel] for the indexed guild.
func (x *Index) GuildLevel(m *Member, now time.Time) Permission { return x.v.guild(m, now) }

// Channel is [Channel] for the indexed guild.
func (x *Index) Channel(m *Member, overwrites []Overwrite, now time.Time) Permission {
	return x.v.channel(m, overwrites, now)
}

// HighestRole is [HighestRole] for the indexed guild.
func (x *Index) HighestRole(m *Member) Role { return x.v.highest(m) }

// HighestPosition is [HighestPosition] for the indexed guild.
func (x *Index) HighestPosition(m *Member) int { return x.v.highestPosition(m) }

// CanManageRole is [CanManageRole] for the indexed guild.
func (x *Index) CanManageRole(actor *Member, roleID int64) bool {
	return x.v.canManageRole(actor, roleID)
}

// CanActOnMember is [CanActOnMember] for the indexed guild.
func (x *Index) CanActOnMember(actor, target *Member) bool {
	return x.v.canActOnMember(actor, target)
}
