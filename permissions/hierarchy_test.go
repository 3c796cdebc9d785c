package permissions

import (
	"math"
	"testing"
)

func TestRoleLess(t *testing.T) {
	low := Role{ID: 10, Position: 1}
	high := Role{ID: 11, Position: 2}
	older := Role{ID: 5, Position: 1}
	if !RoleLess(low, high) || RoleLess(high, low) {
		t.Error("position does not decide")
	}
	if !RoleLess(low, older) || RoleLess(older, low) {
		t.Error("equal positions: the lower id must rank higher")
	}
	if RoleLess(low, low) {
		t.Error("a role ranks below itself")
	}
}

func TestHighest(t *testing.T) {
	g := fixture()
	// Two roles tied at position 2: roleB (1003) and a newer roleTie (1005).
	const roleTie int64 = 1005
	g.Roles = append(g.Roles, Role{ID: roleTie, Position: 2})
	x := NewIndex(g)
	cases := []struct {
		name     string
		m        Member
		wantRole int64
		wantPos  int
	}{
		{"no roles: @everyone", Member{UserID: aliceID}, guildID, 0},
		{"highest position wins", Member{UserID: aliceID, Roles: []int64{roleA, roleMod, roleB}}, roleMod, 3},
		{"tie: lower id wins", Member{UserID: aliceID, Roles: []int64{roleTie, roleB}}, roleB, 2},
		{"unknown role ignored", Member{UserID: aliceID, Roles: []int64{roleGhost, roleA}}, roleA, 1},
		{"owner: MaxInt, role unchanged", Member{UserID: ownerID, Roles: []int64{roleA}}, roleA, math.MaxInt},
	}
	for _, c := range cases {
		if r := HighestRole(g, &c.m); r.ID != c.wantRole {
			t.Errorf("%s: HighestRole = %d, want %d", c.name, r.ID, c.wantRole)
		}
		if r := x.HighestRole(&c.m); r.ID != c.wantRole {
			t.Errorf("%s: Index.HighestRole = %d, want %d", c.name, r.ID, c.wantRole)
		}
		if p := HighestPosition(g, &c.m); p != c.wantPos {
			t.Errorf("%s: HighestPosition = %d, want %d", c.name, p, c.wantPos)
		}
		if p := x.HighestPosition(&c.m); p != c.wantPos {
			t.Errorf("%s: Index.HighestPosition = %d, want %d", c.name, p, c.wantPos)
		}
	}
}

func TestCanActOnMember(t *testing.T) {
	g := fixture()
	const roleTie int64 = 1005 // same position as roleB, newer
	g.Roles = append(g.Roles, Role{ID: roleTie, Position: 2})
	owner := &Member{UserID: ownerID}
	mod := &Member{UserID: aliceID, Roles: []int64{roleMod}}
	mod2 := &Member{UserID: bobID, Roles: []int64{roleMod, roleA}}
	plain := &Member{UserID: bobID}
	plain2 := &Member{UserID: 2003}
	b := &Member{UserID: 2004, Roles: []int64{roleB}}
	tie := &Member{UserID: 2005, Roles: []int64{roleTie}}
	admin := &Member{UserID: 2006, Roles: []int64{roleAdmin}}
	ghost := &Member{UserID: 2007, Roles: []int64{roleGhost}}
	cases := []struct {
		name          string
		actor, target *Member
		want          bool
	}{
		{"owner on moderator", owner, mod, true},
		{"owner on administrator", owner, admin, true},
		{"nobody acts on the owner: administrator", admin, owner, false},
		{"nobody acts on the owner: owner itself", owner, owner, false},
		{"higher on lower", mod, plain, true},
		{"lower on higher", plain, mod, false},
		{"same highest role cannot act", mod, mod2, false},
		{"equal positions, lower id ranks higher", b, tie, true},
		{"equal positions, higher id ranks lower", tie, b, false},
		{"both only @everyone cannot act", plain, plain2, false},
		{"self", mod, mod, false},
		{"administrator is bound by the hierarchy", admin, &Member{UserID: 9, Roles: []int64{roleAdmin}}, false},
		{"unknown role confers no rank", ghost, plain, false},
	}
	x := NewIndex(g)
	for _, c := range cases {
		if got := CanActOnMember(g, c.actor, c.target); got != c.want {
			t.Errorf("%s: CanActOnMember = %v, want %v", c.name, got, c.want)
		}
		if got := x.CanActOnMember(c.actor, c.target); got != c.want {
			t.Errorf("%s: Index.CanActOnMember = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCanManageRole(t *testing.T) {
	g := fixture()
	owner := &Member{UserID: ownerID}
	mod := &Member{UserID: aliceID, Roles: []int64{roleMod}}
	plain := &Member{UserID: bobID}
	admin := &Member{UserID: 2006, Roles: []int64{roleAdmin}}
	cases := []struct {
		name  string
		actor *Member
		role  int64
		want  bool
	}{
		{"owner manages the top role", owner, roleAdmin, true},
		{"owner manages @everyone", owner, guildID, true},
		{"unknown role: not even the owner", owner, roleGhost, false},
		{"moderator manages lower roles", mod, roleB, true},
		{"moderator manages @everyone", mod, guildID, true},
		{"moderator cannot manage its own highest role", mod, roleMod, false},
		{"moderator cannot manage a higher role", mod, roleAdmin, false},
		{"administrator cannot manage its own role", admin, roleAdmin, false},
		{"administrator manages lower roles", admin, roleMod, true},
		{"member without roles manages nothing, not even @everyone", plain, guildID, false},
	}
	x := NewIndex(g)
	for _, c := range cases {
		if got := CanManageRole(g, c.actor, c.role); got != c.want {
			t.Errorf("%s: CanManageRole = %v, want %v", c.name, got, c.want)
		}
		if got := x.CanManageRole(c.actor, c.role); got != c.want {
			t.Errorf("%s: Index.CanManageRole = %v, want %v", c.name, got, c.want)
		}
	}
}
