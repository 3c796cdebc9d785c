package permissions

import (
	"testing"
	"time"
)

// benchFixture is the hot path's typical shape: a guild of 50 roles, a member
// holding 3 of them, a channel with 5 overwrites (@everyone, three roles of
// which one is the member's, another member).
func benchFixture() (*Guild, *Member, []Overwrite) {
	g := &Guild{ID: 1 << 40, OwnerID: 1<<40 + 999}
	for i := range 50 {
		id := g.ID + int64(i)
		perms := Permission(0)
		if i == 0 {
			perms = DefaultEveryone
		} else if i%7 == 0 {
			perms = ManageMessages | KickMembers
		}
		g.Roles = append(g.Roles, Role{ID: id, Position: i, Permissions: perms})
	}
	// Store roles in an order unrelated to their ids, as a database would.
	for i := range g.Roles {
		j := (i * 17) % len(g.Roles)
		g.Roles[i], g.Roles[j] = g.Roles[j], g.Roles[i]
	}
	m := &Member{UserID: 1<<40 + 500, Roles: []int64{g.ID + 12, g.ID + 31, g.ID + 44}}
	ows := []Overwrite{
		{ID: g.ID + 20, Type: OverwriteRole, Allow: ManageMessages},
		{ID: g.ID, Type: OverwriteRole, Deny: ViewChannel | SendMessages},
		{ID: 1<<40 + 501, Type: OverwriteMember, Allow: ViewChannel},
		{ID: g.ID + 31, Type: OverwriteRole, Allow: ViewChannel | SendMessages},
		{ID: g.ID + 40, Type: OverwriteRole, Deny: AttachFiles},
	}
	return g, m, ows
}

var sink Permission

func BenchmarkChannel(b *testing.B) {
	g, m, ows := benchFixture()
	now := time.Now()
	if p := Channel(g, m, ows, now); !p.Has(ViewChannel | SendMessages) {
		b.Fatalf("fixture: %d", p)
	}
	b.ReportAllocs()
	for b.Loop() {
		sink = Channel(g, m, ows, now)
	}
}

func BenchmarkChannelIndex(b *testing.B) {
	g, m, ows := benchFixture()
	x := NewIndex(g)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		sink = x.Channel(m, ows, now)
	}
}

func BenchmarkGuildLevel(b *testing.B) {
	g, m, _ := benchFixture()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		sink = GuildLevel(g, m, now)
	}
}

func BenchmarkGuildLevelIndex(b *testing.B) {
	g, m, _ := benchFixture()
	x := NewIndex(g)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		sink = x.GuildLevel(m, now)
	}
}

var sinkBool bool

func BenchmarkCanActOnMember(b *testing.B) {
	g, m, _ := benchFixture()
	target := &Member{UserID: 7, Roles: []int64{g.ID + 3, g.ID + 40}}
	b.ReportAllocs()
	for b.Loop() {
		sinkBool = CanActOnMember(g, m, target)
	}
}

func BenchmarkNewIndex(b *testing.B) {
	g, _, _ := benchFixture()
	b.ReportAllocs()
	for b.Loop() {
		_ = NewIndex(g)
	}
}

func BenchmarkMarshalJSON(b *testing.B) {
	p := DefaultEveryone
	b.ReportAllocs()
	for b.Loop() {
		_, _ = p.MarshalJSON()
	}
}

func BenchmarkUnmarshalJSON(b *testing.B) {
	data := []byte(`"2107735977479745"`)
	var p Permission
	b.ReportAllocs()
	for b.Loop() {
		_ = p.UnmarshalJSON(data)
	}
}
