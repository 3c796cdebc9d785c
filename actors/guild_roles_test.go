package actors

import (
	"slices"
	"testing"
	"time"

	"github.com/accordchat/accord/permissions"
	"github.com/accordchat/accord/persistence"
)

// TestRemoveRoleMirrorsWriter: deleting a role in memory does what
// GuildWriter.DeleteRole does in SQL (the REST tests check the SQL side):
// the role leaves every member and every channel's role overwrites, member
// overwrites with the same id stay, and permissions are recomputed.
func TestRemoveRoleMirrorsWriter(t *testing.T) {
	const guildID, roleID, other, userID = 100, 200, 300, 400
	st := newGuildState(persistence.GuildSnapshot{
		Guild: persistence.Guild{ID: guildID, OwnerID: 1},
		Roles: []persistence.Role{
			{ID: guildID, GuildID: guildID, Name: "@everyone"},
			{ID: roleID, GuildID: guildID, Name: "kick", Position: 2, Permissions: uint64(permissions.KickMembers)},
			{ID: other, GuildID: guildID, Name: "other", Position: 1},
		},
		Channels: []persistence.Channel{{ID: 10, GuildID: guildID, Overwrites: []persistence.Overwrite{
			{TargetID: roleID, Type: 0, Allow: 1},
			{TargetID: roleID, Type: 1, Allow: 2}, // a member whose id happens to match
			{TargetID: other, Type: 0, Deny: 4},
		}}},
		Members: []persistence.Member{{GuildID: guildID, User: persistence.MemberUser{ID: userID}, Roles: []int64{other, roleID}}},
	})
	shared := st.members[userID].Roles
	if !st.guildPerms(userID, time.Now()).Has(permissions.KickMembers) {
		t.Fatal("setup: the role grants nothing")
	}
	st.removeRole(roleID)
	if st.roles[roleID] != nil {
		t.Fatal("role still defined")
	}
	if got := st.members[userID].Roles; !slices.Equal(got, []int64{other}) {
		t.Fatalf("member roles %v", got)
	}
	if !slices.Equal(shared, []int64{other, roleID}) {
		t.Fatal("the member's old role slice was changed in place")
	}
	ows := st.channels[10].Overwrites
	if len(ows) != 2 || ows[0].Type != 1 || ows[1].TargetID != other {
		t.Fatalf("overwrites %v", ows)
	}
	if st.guildPerms(userID, time.Now()).Has(permissions.KickMembers) {
		t.Fatal("permissions not recomputed")
	}
}
