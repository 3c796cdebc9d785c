package permissions

import (
	"testing"
	"time"
)

// The fixture guild: ids as Discord would assign them (@everyone's id is the
// guild's, the oldest).
const (
	guildID   int64 = 1000
	roleMod   int64 = 1001 // position 3, KickMembers|ManageMessages
	roleA     int64 = 1002 // position 1, plain member role
	roleB     int64 = 1003 // position 2, plain member role
	roleAdmin int64 = 1004 // position 4, Administrator
	roleGhost int64 = 1999 // not defined by the guild

	ownerID int64 = 2000
	aliceID int64 = 2001
	bobID   int64 = 2002
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func fixture() *Guild {
	return &Guild{
		ID:      guildID,
		OwnerID: ownerID,
		Roles: []Role{
			{ID: roleAdmin, Position: 4, Permissions: Administrator},
			{ID: guildID, Position: 0, Permissions: DefaultEveryone},
			{ID: roleMod, Position: 3, Permissions: KickMembers | ManageMessages},
			{ID: roleA, Position: 1},
			{ID: roleB, Position: 2, Permissions: AttachFiles},
		},
	}
}

func TestBase(t *testing.T) {
	g := fixture()
	cases := []struct {
		name string
		m    Member
		want Permission
	}{
		{"@everyone only", Member{UserID: aliceID}, DefaultEveryone},
		{"roles OR onto @everyone", Member{UserID: aliceID, Roles: []int64{roleMod, roleA}}, DefaultEveryone | KickMembers | ManageMessages},
		{"owner without roles gets All", Member{UserID: ownerID}, All},
		{"Administrator means All", Member{UserID: aliceID, Roles: []int64{roleAdmin}}, All},
		{"unknown role ignored", Member{UserID: aliceID, Roles: []int64{roleGhost}}, DefaultEveryone},
		{"@everyone listed as a role changes nothing", Member{UserID: aliceID, Roles: []int64{guildID}}, DefaultEveryone},
		{"base ignores timeouts", Member{UserID: aliceID, TimedOutUntil: t0.Add(time.Hour)}, DefaultEveryone},
	}
	x := NewIndex(g)
	for _, c := range cases {
		if got := Base(g, &c.m); got != c.want {
			t.Errorf("%s: Base = %d, want %d", c.name, got, c.want)
		}
		if got := x.Base(&c.m); got != c.want {
			t.Errorf("%s: Index.Base = %d, want %d", c.name, got, c.want)
		}
	}

	noEveryone := &Guild{ID: guildID, OwnerID: ownerID, Roles: []Role{{ID: roleA, Position: 1, Permissions: SendMessages}}}
	if got := Base(noEveryone, &Member{UserID: aliceID}); got != 0 {
		t.Errorf("guild without @everyone role: Base = %d, want 0", got)
	}
	if got := Base(noEveryone, &Member{UserID: aliceID, Roles: []int64{roleA}}); got != SendMessages {
		t.Errorf("guild without @everyone role: Base = %d, want SendMessages", got)
	}
}

func TestGuildLevelTimeout(t *testing.T) {
	g := fixture()
	mod := Member{UserID: aliceID, Roles: []int64{roleMod}, TimedOutUntil: t0.Add(time.Minute)}
	if got := GuildLevel(g, &mod, t0); got != TimedOutAllowed {
		t.Errorf("timed-out moderator: %d, want only ViewChannel|ReadMessageHistory", got)
	}
	if got := GuildLevel(g, &mod, t0.Add(time.Minute)); got != DefaultEveryone|KickMembers|ManageMessages {
		t.Errorf("timeout ending exactly now no longer applies: got %d", got)
	}
	expired := Member{UserID: aliceID, Roles: []int64{roleMod}, TimedOutUntil: t0.Add(-time.Second)}
	if got := GuildLevel(g, &expired, t0); !got.Has(KickMembers) {
		t.Errorf("expired timeout still applies: %d", got)
	}
	admin := Member{UserID: aliceID, Roles: []int64{roleAdmin}, TimedOutUntil: t0.Add(time.Hour)}
	if got := GuildLevel(g, &admin, t0); got != All {
		t.Errorf("timed-out administrator: %d, want All (exempt)", got)
	}
	owner := Member{UserID: ownerID, TimedOutUntil: t0.Add(time.Hour)}
	if got := GuildLevel(g, &owner, t0); got != All {
		t.Errorf("timed-out owner: %d, want All (exempt)", got)
	}
	// A timed-out member without ViewChannel at guild level keeps nothing it lacked.
	bare := &Guild{ID: guildID, OwnerID: ownerID, Roles: []Role{{ID: guildID, Permissions: SendMessages | ReadMessageHistory}}}
	if got := GuildLevel(bare, &Member{UserID: bobID, TimedOutUntil: t0.Add(time.Hour)}, t0); got != ReadMessageHistory {
		t.Errorf("timeout grants: %d, want ReadMessageHistory", got)
	}
}

func TestChannel(t *testing.T) {
	g := fixture()
	view := ViewChannel
	send := SendMessages
	everyoneDenyView := Overwrite{ID: guildID, Type: OverwriteRole, Deny: view}
	cases := []struct {
		name string
		m    Member
		ows  []Overwrite
		want Permission
	}{
		{
			name: "no overwrites: base",
			m:    Member{UserID: aliceID, Roles: []int64{roleB}},
			want: DefaultEveryone | AttachFiles,
		},
		{
			name: "@everyone deny applies",
			m:    Member{UserID: aliceID},
			ows:  []Overwrite{{ID: guildID, Type: OverwriteRole, Deny: send | AddReactions}},
			want: DefaultEveryone &^ (send | AddReactions),
		},
		{
			name: "@everyone allow adds",
			m:    Member{UserID: aliceID},
			ows:  []Overwrite{{ID: guildID, Type: OverwriteRole, Allow: ManageMessages}},
			want: DefaultEveryone | ManageMessages,
		},
		{
			name: "@everyone deny + role allow: role wins (private channel)",
			m:    Member{UserID: aliceID, Roles: []int64{roleA}},
			ows:  []Overwrite{everyoneDenyView, {ID: roleA, Type: OverwriteRole, Allow: view}},
			want: DefaultEveryone,
		},
		{
			name: "@everyone deny, role allow for a role the member lacks: hidden",
			m:    Member{UserID: aliceID, Roles: []int64{roleB}},
			ows:  []Overwrite{everyoneDenyView, {ID: roleA, Type: OverwriteRole, Allow: view}},
			want: 0,
		},
		{
			name: "role overwrites aggregate: allow on one role beats deny on another, whatever the positions",
			m:    Member{UserID: aliceID, Roles: []int64{roleA, roleB}},
			ows: []Overwrite{
				{ID: roleB, Type: OverwriteRole, Deny: view}, // higher role denies
				{ID: roleA, Type: OverwriteRole, Allow: view},
			},
			want: DefaultEveryone | AttachFiles,
		},
		{
			name: "member overwrite allow beats role deny",
			m:    Member{UserID: aliceID, Roles: []int64{roleA}},
			ows: []Overwrite{
				{ID: roleA, Type: OverwriteRole, Deny: send},
				{ID: aliceID, Type: OverwriteMember, Allow: send},
			},
			want: DefaultEveryone,
		},
		{
			name: "member overwrite deny beats role allow",
			m:    Member{UserID: aliceID, Roles: []int64{roleA}},
			ows: []Overwrite{
				{ID: roleA, Type: OverwriteRole, Allow: ManageMessages},
				{ID: aliceID, Type: OverwriteMember, Deny: ManageMessages | send},
			},
			want: DefaultEveryone &^ send,
		},
		{
			name: "another member's overwrite does not apply",
			m:    Member{UserID: aliceID},
			ows:  []Overwrite{{ID: bobID, Type: OverwriteMember, Deny: view}},
			want: DefaultEveryone,
		},
		{
			name: "no ViewChannel: nothing, even with SendMessages allowed",
			m:    Member{UserID: aliceID},
			ows:  []Overwrite{{ID: guildID, Type: OverwriteRole, Deny: view, Allow: send | ManageMessages}},
			want: 0,
		},
		{
			name: "member denied ViewChannel: nothing",
			m:    Member{UserID: aliceID, Roles: []int64{roleMod}},
			ows:  []Overwrite{{ID: aliceID, Type: OverwriteMember, Deny: view}},
			want: 0,
		},
		{
			name: "owner bypasses overwrites",
			m:    Member{UserID: ownerID},
			ows:  []Overwrite{everyoneDenyView, {ID: ownerID, Type: OverwriteMember, Deny: All}},
			want: All,
		},
		{
			name: "administrator bypasses overwrites",
			m:    Member{UserID: aliceID, Roles: []int64{roleAdmin}},
			ows:  []Overwrite{everyoneDenyView, {ID: roleAdmin, Type: OverwriteRole, Deny: All}, {ID: aliceID, Type: OverwriteMember, Deny: All}},
			want: All,
		},
		{
			name: "Administrator granted by an overwrite does not bypass anything",
			m:    Member{UserID: aliceID},
			ows:  []Overwrite{{ID: aliceID, Type: OverwriteMember, Allow: Administrator}},
			want: DefaultEveryone | Administrator,
		},
		{
			name: "timed out: only ViewChannel and ReadMessageHistory",
			m:    Member{UserID: aliceID, Roles: []int64{roleMod}, TimedOutUntil: t0.Add(time.Hour)},
			ows:  []Overwrite{{ID: aliceID, Type: OverwriteMember, Allow: ManageChannels}},
			want: ViewChannel | ReadMessageHistory,
		},
		{
			name: "timed out and hidden: nothing",
			m:    Member{UserID: aliceID, TimedOutUntil: t0.Add(time.Hour)},
			ows:  []Overwrite{everyoneDenyView},
			want: 0,
		},
		{
			name: "timed out without history: ViewChannel only",
			m:    Member{UserID: aliceID, TimedOutUntil: t0.Add(time.Hour)},
			ows:  []Overwrite{{ID: guildID, Type: OverwriteRole, Deny: ReadMessageHistory}},
			want: ViewChannel,
		},
		{
			name: "timed-out administrator is exempt",
			m:    Member{UserID: aliceID, Roles: []int64{roleAdmin}, TimedOutUntil: t0.Add(time.Hour)},
			want: All,
		},
		{
			name: "expired timeout: normal permissions",
			m:    Member{UserID: aliceID, TimedOutUntil: t0.Add(-time.Hour)},
			want: DefaultEveryone,
		},
		{
			name: "overwrite for a role the guild does not define is ignored",
			m:    Member{UserID: aliceID, Roles: []int64{roleGhost}},
			ows:  []Overwrite{everyoneDenyView, {ID: roleGhost, Type: OverwriteRole, Allow: view}},
			want: 0,
		},
		{
			name: "member-type overwrite with a role's id is not a role overwrite",
			m:    Member{UserID: aliceID, Roles: []int64{roleA}},
			ows:  []Overwrite{{ID: roleA, Type: OverwriteMember, Deny: view}},
			want: DefaultEveryone,
		},
		{
			name: "role-type overwrite with the member's user id is not a member overwrite",
			m:    Member{UserID: aliceID},
			ows:  []Overwrite{{ID: aliceID, Type: OverwriteRole, Deny: view}},
			want: DefaultEveryone,
		},
		{
			// Counted among the roles, its allow would beat roleA's deny.
			name: "@everyone listed as a member role: its overwrite applies once, before role overwrites",
			m:    Member{UserID: aliceID, Roles: []int64{guildID, roleA}},
			ows: []Overwrite{
				{ID: roleA, Type: OverwriteRole, Deny: ManageMessages},
				{ID: guildID, Type: OverwriteRole, Allow: ManageMessages},
			},
			want: DefaultEveryone,
		},
		{
			name: "unknown overwrite type is ignored",
			m:    Member{UserID: aliceID},
			ows:  []Overwrite{{ID: aliceID, Type: 7, Deny: view}},
			want: DefaultEveryone,
		},
	}
	x := NewIndex(g)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Channel(g, &c.m, c.ows, t0); got != c.want {
				t.Errorf("Channel = %d, want %d (missing %d, extra %d)", got, c.want, c.want&^got, got&^c.want)
			}
			if got := x.Channel(&c.m, c.ows, t0); got != c.want {
				t.Errorf("Index.Channel = %d, want %d", got, c.want)
			}
		})
	}
}

// TestChannelOrderOfOverwrites checks that the order of a channel's
// overwrites does not matter: @everyone first, roles next, member last.
func TestChannelOrderOfOverwrites(t *testing.T) {
	g := fixture()
	m := Member{UserID: aliceID, Roles: []int64{roleA}}
	ows := []Overwrite{
		{ID: aliceID, Type: OverwriteMember, Allow: SendMessages},
		{ID: roleA, Type: OverwriteRole, Deny: SendMessages, Allow: ViewChannel},
		{ID: guildID, Type: OverwriteRole, Deny: ViewChannel | SendMessages},
	}
	want := DefaultEveryone
	for i := range 3 {
		rot := append(append([]Overwrite(nil), ows[i:]...), ows[:i]...)
		if got := Channel(g, &m, rot, t0); got != want {
			t.Errorf("rotation %d: %d, want %d", i, got, want)
		}
	}
}

func TestIndexIsACopy(t *testing.T) {
	g := fixture()
	x := NewIndex(g)
	g.Roles[1].Permissions = 0 // @everyone
	g.OwnerID = aliceID
	if got := x.Base(&Member{UserID: aliceID}); got != DefaultEveryone {
		t.Errorf("Index followed a later change of the guild: %d", got)
	}
	if x.GuildID() != guildID || x.OwnerID() != ownerID {
		t.Errorf("GuildID, OwnerID = %d, %d", x.GuildID(), x.OwnerID())
	}
	if r, ok := x.Role(roleMod); !ok || r.Position != 3 {
		t.Errorf("Role(roleMod) = %+v, %v", r, ok)
	}
	if _, ok := x.Role(roleGhost); ok {
		t.Error("Role(unknown) found")
	}
}

func TestDuplicateRoleIDsAgree(t *testing.T) {
	g := &Guild{ID: guildID, OwnerID: ownerID, Roles: []Role{
		{ID: roleA, Position: 5, Permissions: KickMembers},
		{ID: guildID, Permissions: ViewChannel},
		{ID: roleA, Position: 1, Permissions: BanMembers},
	}}
	m := Member{UserID: aliceID, Roles: []int64{roleA}}
	x := NewIndex(g)
	if a, b := Base(g, &m), x.Base(&m); a != b || a != ViewChannel|KickMembers {
		t.Errorf("Base = %d, Index.Base = %d; want the first role to count", a, b)
	}
	if a, b := HighestPosition(g, &m), x.HighestPosition(&m); a != b || a != 5 {
		t.Errorf("HighestPosition = %d, Index = %d", a, b)
	}
}

func TestZeroAllocs(t *testing.T) {
	g, m, ows := benchFixture()
	x := NewIndex(g)
	target := &Member{UserID: 7, Roles: []int64{g.Roles[10].ID}}
	for name, fn := range map[string]func(){
		"Channel":              func() { Channel(g, m, ows, t0) },
		"GuildLevel":           func() { GuildLevel(g, m, t0) },
		"CanActOnMember":       func() { CanActOnMember(g, m, target) },
		"CanManageRole":        func() { CanManageRole(g, m, g.Roles[3].ID) },
		"Index.Channel":        func() { x.Channel(m, ows, t0) },
		"Index.GuildLevel":     func() { x.GuildLevel(m, t0) },
		"Index.CanActOnMember": func() { x.CanActOnMember(m, target) },
	} {
		if n := testing.AllocsPerRun(100, fn); n != 0 {
			t.Errorf("%s: %v allocs/op, want 0", name, n)
		}
	}
}
