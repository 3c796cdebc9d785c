package permissions

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"
)

var (
	diffSeed = flag.Uint64("diff.seed", 20260301, "seed of TestDifferential")
	diffN    = flag.Int("diff.n", 100_000, "random guilds in TestDifferential")
)

// The reference model: Discord's documented pseudo-code transliterated with
// maps, no index, no cleverness. Its only additions are the package's
// documented decisions: roles the guild does not define and @everyone in a
// member's role list are dropped from member.roles, overwrites are keyed by
// (type, id), ADMINISTRATOR-or-owner exempts from timeouts, and the hierarchy
// sorts roles by position, then by id with the lower id higher.

type refRole struct {
	position int
	perms    Permission
}

type refOverwrite struct{ allow, deny Permission }

type refGuild struct {
	id, ownerID int64
	roles       map[int64]refRole // first occurrence of each id wins
}

type refChannel struct {
	roleOverwrites   map[int64]refOverwrite
	memberOverwrites map[int64]refOverwrite
}

type refMember struct {
	userID        int64
	roles         map[int64]bool // the member's roles the guild defines, without @everyone
	timedOutUntil time.Time
}

func refGuildOf(g *Guild) refGuild {
	rg := refGuild{id: g.ID, ownerID: g.OwnerID, roles: map[int64]refRole{}}
	for _, r := range g.Roles {
		if _, dup := rg.roles[r.ID]; !dup {
			rg.roles[r.ID] = refRole{r.Position, r.Permissions}
		}
	}
	return rg
}

func refMemberOf(rg refGuild, m *Member) refMember {
	rm := refMember{userID: m.UserID, roles: map[int64]bool{}, timedOutUntil: m.TimedOutUntil}
	for _, id := range m.Roles {
		if _, known := rg.roles[id]; known && id != rg.id {
			rm.roles[id] = true
		}
	}
	return rm
}

func refChannelOf(ows []Overwrite) refChannel {
	rc := refChannel{roleOverwrites: map[int64]refOverwrite{}, memberOverwrites: map[int64]refOverwrite{}}
	for _, o := range ows {
		switch o.Type {
		case OverwriteRole:
			rc.roleOverwrites[o.ID] = refOverwrite{o.Allow, o.Deny}
		case OverwriteMember:
			rc.memberOverwrites[o.ID] = refOverwrite{o.Allow, o.Deny}
		}
	}
	return rc
}

func refComputeBase(m refMember, g refGuild) Permission {
	if g.ownerID == m.userID {
		return All
	}
	permissions := g.roles[g.id].perms // @everyone; zero if absent
	for roleID := range m.roles {
		permissions |= g.roles[roleID].perms
	}
	if permissions&Administrator == Administrator {
		return All
	}
	return permissions
}

func refComputeOverwrites(base Permission, m refMember, g refGuild, ch refChannel) Permission {
	if base&Administrator == Administrator {
		return All
	}
	permissions := base
	if ow, ok := ch.roleOverwrites[g.id]; ok {
		permissions &^= ow.deny
		permissions |= ow.allow
	}
	var allow, deny Permission
	for roleID := range m.roles {
		if ow, ok := ch.roleOverwrites[roleID]; ok {
			allow |= ow.allow
			deny |= ow.deny
		}
	}
	permissions &^= deny
	permissions |= allow
	if ow, ok := ch.memberOverwrites[m.userID]; ok {
		permissions &^= ow.deny
		permissions |= ow.allow
	}
	return permissions
}

func refTimedOut(m refMember, now time.Time) bool { return m.timedOutUntil.After(now) }

func refGuildLevel(m refMember, g refGuild, now time.Time) Permission {
	p := refComputeBase(m, g)
	if m.userID == g.ownerID || p&Administrator == Administrator { // exempt
		return p
	}
	if refTimedOut(m, now) {
		return p & (ViewChannel | ReadMessageHistory)
	}
	return p
}

func refChannelPerms(m refMember, g refGuild, ch refChannel, now time.Time) Permission {
	base := refComputeBase(m, g)
	p := refComputeOverwrites(base, m, g, ch)
	if m.userID == g.ownerID || base&Administrator == Administrator { // exempt
		return p
	}
	if p&ViewChannel != ViewChannel {
		return 0
	}
	if refTimedOut(m, now) {
		return p & (ViewChannel | ReadMessageHistory)
	}
	return p
}

// refRanked returns the member's roles plus @everyone, highest first.
func refRanked(m refMember, g refGuild) []int64 {
	ids := []int64{g.id}
	for id := range m.roles {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool {
		pi, pj := g.roles[ids[i]].position, g.roles[ids[j]].position
		if pi != pj {
			return pi > pj
		}
		return ids[i] < ids[j]
	})
	return ids
}

// refAbove reports whether role a is above role b in the guild's role list.
func refAbove(g refGuild, a, b int64) bool {
	pa, pb := g.roles[a].position, g.roles[b].position
	if pa != pb {
		return pa > pb
	}
	return a < b
}

func refHighestPosition(m refMember, g refGuild) int {
	if m.userID == g.ownerID {
		return math.MaxInt
	}
	return g.roles[refRanked(m, g)[0]].position
}

func refCanManageRole(actor refMember, g refGuild, roleID int64) bool {
	if _, ok := g.roles[roleID]; !ok && roleID != g.id {
		return false
	}
	if actor.userID == g.ownerID {
		return true
	}
	return refAbove(g, refRanked(actor, g)[0], roleID)
}

func refCanActOnMember(actor, target refMember, g refGuild) bool {
	if target.userID == g.ownerID {
		return false
	}
	if actor.userID == g.ownerID {
		return true
	}
	return refAbove(g, refRanked(actor, g)[0], refRanked(target, g)[0])
}

// diffCase is one random input.
type diffCase struct {
	g          *Guild
	m, target  *Member
	overwrites []Overwrite
	roleID     int64 // for CanManageRole
	now        time.Time
}

func (c *diffCase) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "now=%s\nguild id=%d owner=%d roles:\n", c.now.Format(time.RFC3339), c.g.ID, c.g.OwnerID)
	for _, r := range c.g.Roles {
		fmt.Fprintf(&b, "  {ID:%d Position:%d Permissions:%#x}\n", r.ID, r.Position, uint64(r.Permissions))
	}
	for _, m := range []*Member{c.m, c.target} {
		fmt.Fprintf(&b, "member user=%d roles=%v timedOutUntil=%s\n", m.UserID, m.Roles, m.TimedOutUntil.Format(time.RFC3339))
	}
	b.WriteString("overwrites:\n")
	for _, o := range c.overwrites {
		fmt.Fprintf(&b, "  {ID:%d Type:%d Allow:%#x Deny:%#x}\n", o.ID, o.Type, uint64(o.Allow), uint64(o.Deny))
	}
	fmt.Fprintf(&b, "roleID=%d\n", c.roleID)
	return b.String()
}

// randomPerms returns a random permission set: dense, sparse, or empty, with
// Administrator only when admin, and now and then bits outside All.
func randomPerms(r *rand.Rand, admin bool) Permission {
	var p Permission
	switch r.IntN(4) {
	case 0:
		p = Permission(r.Uint64())
	case 1, 2:
		p = Permission(r.Uint64() & r.Uint64() & r.Uint64())
	}
	if r.IntN(20) != 0 {
		p &= All
	}
	if admin {
		return p | Administrator
	}
	return p &^ Administrator
}

func randomCase(r *rand.Rand, now time.Time) *diffCase {
	// Ids: the guild's is the oldest; roles and users follow in creation order.
	next := int64(r.Uint64N(1<<40)) << 22
	newID := func() int64 { next += 1 + int64(r.IntN(3)); return next }
	g := &Guild{ID: newID()}

	nRoles := 1 + r.IntN(20) // including @everyone
	maxPos := 1 + r.IntN(nRoles+2)
	adminRate := r.IntN(4) // 0: no administrators
	everyone := Role{ID: g.ID, Permissions: randomPerms(r, adminRate > 0 && r.IntN(30) == 0)}
	if r.IntN(10) == 0 {
		everyone.Position = r.IntN(maxPos + 1)
	}
	if r.IntN(25) != 0 { // sometimes the guild lacks its @everyone role
		g.Roles = append(g.Roles, everyone)
	}
	for range nRoles - 1 {
		g.Roles = append(g.Roles, Role{
			ID:          newID(),
			Position:    r.IntN(maxPos + 1), // many ties
			Permissions: randomPerms(r, adminRate > 0 && r.IntN(10) < adminRate),
		})
	}
	if len(g.Roles) > 2 && r.IntN(50) == 0 { // a duplicate id
		dup := g.Roles[r.IntN(len(g.Roles))]
		dup.Position, dup.Permissions = r.IntN(maxPos+1), randomPerms(r, r.IntN(3) == 0)
		g.Roles = append(g.Roles, dup)
	}
	r.Shuffle(len(g.Roles), func(i, j int) { g.Roles[i], g.Roles[j] = g.Roles[j], g.Roles[i] })

	users := make([]int64, 2+r.IntN(4))
	for i := range users {
		users[i] = newID()
	}
	unknownRole := newID()
	g.OwnerID = users[r.IntN(len(users))]
	if r.IntN(4) == 0 {
		g.OwnerID = newID() // owner not among the members involved
	}

	randomRoleID := func() int64 {
		switch n := r.IntN(20); {
		case n == 0:
			return unknownRole
		case n == 1:
			return g.ID
		case n == 2 && len(g.Roles) > 0:
			return g.Roles[0].ID
		default:
			if len(g.Roles) == 0 {
				return unknownRole
			}
			return g.Roles[r.IntN(len(g.Roles))].ID
		}
	}
	randomMember := func(userID int64) *Member {
		m := &Member{UserID: userID}
		for range r.IntN(min(nRoles, 6) + 1) {
			m.Roles = append(m.Roles, randomRoleID())
		}
		switch r.IntN(8) {
		case 0:
			m.TimedOutUntil = now.Add(time.Duration(1+r.IntN(1e6)) * time.Second)
		case 1:
			m.TimedOutUntil = now.Add(-time.Duration(1+r.IntN(1e6)) * time.Second)
		case 2:
			m.TimedOutUntil = now // ends now: not timed out
		}
		return m
	}
	c := &diffCase{g: g, now: now}
	c.m = randomMember(users[0])
	if r.IntN(10) == 0 {
		c.target = c.m
	} else {
		c.target = randomMember(users[1+r.IntN(len(users)-1)])
		if r.IntN(6) == 0 {
			c.target.UserID = g.OwnerID
		}
	}
	c.roleID = randomRoleID()

	// Overwrites, at most one per (type, id).
	seen := map[[2]int64]bool{}
	add := func(id int64, typ OverwriteType) {
		if r.IntN(20) == 0 {
			typ ^= 1 // the wrong type for this id
		}
		if r.IntN(50) == 0 {
			typ = OverwriteType(2 + r.IntN(5)) // unknown type
		}
		k := [2]int64{id, int64(typ)}
		if seen[k] {
			return
		}
		seen[k] = true
		c.overwrites = append(c.overwrites, Overwrite{
			ID: id, Type: typ,
			Allow: randomPerms(r, r.IntN(40) == 0),
			Deny:  randomPerms(r, r.IntN(40) == 0),
		})
	}
	if r.IntN(10) < 7 {
		add(g.ID, OverwriteRole)
	}
	for range r.IntN(6) {
		add(randomRoleID(), OverwriteRole)
	}
	for _, id := range c.m.Roles {
		if r.IntN(3) == 0 {
			add(id, OverwriteRole)
		}
	}
	if r.IntN(10) < 4 {
		add(c.m.UserID, OverwriteMember)
	}
	for range r.IntN(3) {
		add(users[r.IntN(len(users))], OverwriteMember)
	}
	r.Shuffle(len(c.overwrites), func(i, j int) { c.overwrites[i], c.overwrites[j] = c.overwrites[j], c.overwrites[i] })
	return c
}

// TestDifferential compares every function of the package, plain and through
// an Index, with the reference model over random guilds.
func TestDifferential(t *testing.T) {
	seed := *diffSeed
	t.Logf("seed %d (rerun with -diff.seed=%d), %d guilds", seed, seed, *diffN)
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	start := time.Now()
	var stats struct{ owner, admin, timedOut, hidden, nonzero int }
	for i := range *diffN {
		c := randomCase(r, now)
		rg := refGuildOf(c.g)
		rm, rt := refMemberOf(rg, c.m), refMemberOf(rg, c.target)
		rc := refChannelOf(c.overwrites)
		x := NewIndex(c.g)

		type check struct {
			name      string
			got, want any
		}
		wantChan := refChannelPerms(rm, rg, rc, now)
		checks := []check{
			{"Base", Base(c.g, c.m), refComputeBase(rm, rg)},
			{"Index.Base", x.Base(c.m), refComputeBase(rm, rg)},
			{"GuildLevel", GuildLevel(c.g, c.m, now), refGuildLevel(rm, rg, now)},
			{"Index.GuildLevel", x.GuildLevel(c.m, now), refGuildLevel(rm, rg, now)},
			{"Channel", Channel(c.g, c.m, c.overwrites, now), wantChan},
			{"Index.Channel", x.Channel(c.m, c.overwrites, now), wantChan},
			{"HighestPosition", HighestPosition(c.g, c.m), refHighestPosition(rm, rg)},
			{"Index.HighestPosition", x.HighestPosition(c.m), refHighestPosition(rm, rg)},
			{"HighestRole", HighestRole(c.g, c.m).ID, refRanked(rm, rg)[0]},
			{"Index.HighestRole", x.HighestRole(c.m).ID, refRanked(rm, rg)[0]},
			{"CanManageRole", CanManageRole(c.g, c.m, c.roleID), refCanManageRole(rm, rg, c.roleID)},
			{"Index.CanManageRole", x.CanManageRole(c.m, c.roleID), refCanManageRole(rm, rg, c.roleID)},
			{"CanActOnMember", CanActOnMember(c.g, c.m, c.target), refCanActOnMember(rm, rt, rg)},
			{"Index.CanActOnMember", x.CanActOnMember(c.m, c.target), refCanActOnMember(rm, rt, rg)},
		}
		for _, ch := range checks {
			if ch.got != ch.want {
				t.Fatalf("guild %d of seed %d: %s = %v, reference %v\ninput:\n%s", i, seed, ch.name, ch.got, ch.want, c)
			}
		}

		base := refComputeBase(rm, rg)
		switch {
		case c.m.UserID == c.g.OwnerID:
			stats.owner++
		case base == All:
			stats.admin++
		case wantChan == 0:
			stats.hidden++
		case refTimedOut(rm, now):
			stats.timedOut++
		default:
			stats.nonzero++
		}
	}
	t.Logf("%d guilds in %v, zero mismatches: owner %d, administrator %d, hidden %d, timed out %d, other %d",
		*diffN, time.Since(start).Round(time.Millisecond), stats.owner, stats.admin, stats.hidden, stats.timedOut, stats.nonzero)
	// The generator must exercise every branch, or the comparison proves little.
	for name, n := range map[string]int{"owner": stats.owner, "admin": stats.admin, "hidden": stats.hidden, "timedOut": stats.timedOut, "other": stats.nonzero} {
		if n < *diffN/100 {
			t.Errorf("only %d of %d cases are %s", n, *diffN, name)
		}
	}
}

// TestReferenceModel pins the reference model itself to the documented
// examples, so that the differential test compares against something right.
func TestReferenceModel(t *testing.T) {
	g := fixture()
	rg := refGuildOf(g)
	alice := refMemberOf(rg, &Member{UserID: aliceID, Roles: []int64{roleA}})
	ch := refChannelOf([]Overwrite{
		{ID: guildID, Type: OverwriteRole, Deny: ViewChannel},
		{ID: roleA, Type: OverwriteRole, Allow: ViewChannel, Deny: SendMessages},
		{ID: aliceID, Type: OverwriteMember, Allow: SendMessages},
	})
	if got := refChannelPerms(alice, rg, ch, t0); got != DefaultEveryone {
		t.Errorf("reference: %d, want %d", got, DefaultEveryone)
	}
	bob := refMemberOf(rg, &Member{UserID: bobID})
	if got := refChannelPerms(bob, rg, ch, t0); got != 0 {
		t.Errorf("reference: hidden channel gives %d", got)
	}
	if !refCanActOnMember(refMemberOf(rg, &Member{UserID: aliceID, Roles: []int64{roleMod}}), bob, rg) {
		t.Error("reference: moderator cannot act on a plain member")
	}
}
