package rest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/accordchat/accord/permissions"
)

func TestMembersListSearchGet(t *testing.T) {
	e := testEnv(t)
	owner, a, b, stranger := e.register(t), e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Member Lists")
	e.join(t, g, a)
	e.join(t, g, b)
	base := "/api/v10/guilds/" + g.id + "/members"

	// Default limit 1; ascending user ids; after pages.
	if got := e.list(t, "GET", base, a, 200); len(got) != 1 || got[0]["user"].(map[string]any)["id"] != owner.id {
		t.Fatalf("default page: %v", got)
	}
	all := e.list(t, "GET", base+"?limit=1000", a, 200)
	if len(all) != 3 || all[0]["user"].(map[string]any)["id"] != owner.id || all[2]["user"].(map[string]any)["id"] != b.id {
		t.Fatalf("all members: %v", all)
	}
	if all[1]["joined_at"] == nil || all[1]["roles"] == nil || all[1]["user"].(map[string]any)["username"] != a.username {
		t.Fatalf("member object: %v", all[1])
	}
	if got := e.list(t, "GET", base+"?limit=5&after="+a.id, a, 200); len(got) != 1 || got[0]["user"].(map[string]any)["id"] != b.id {
		t.Fatalf("after: %v", got)
	}
	expect(t, e.do(t, "GET", base+"?limit=0", "Bearer "+a.access, nil), 400, 50035)
	expect(t, e.do(t, "GET", base+"?limit=1001", "Bearer "+a.access, nil), 400, 50035)
	expect(t, e.do(t, "GET", base+"?limit=ten", "Bearer "+a.access, nil), 400, 50035)
	expect(t, e.do(t, "GET", base+"?after=me", "Bearer "+a.access, nil), 400, 50035)
	expect(t, e.do(t, "GET", base, "Bearer "+stranger.access, nil), 403, 50001)

	// Search: a case-insensitive prefix of the username or the nickname.
	expect(t, e.do(t, "PATCH", base+"/"+b.id, "Bearer "+owner.access, map[string]any{"nick": "Zebra Crossing"}), 200, -1)
	got := e.list(t, "GET", base+"/search?limit=10&query="+strings.ToUpper(a.username), b, 200)
	if len(got) != 1 || got[0]["user"].(map[string]any)["id"] != a.id {
		t.Fatalf("search by username: %v", got)
	}
	got = e.list(t, "GET", base+"/search?limit=10&query=zeb", a, 200)
	if len(got) != 1 || got[0]["nick"] != "Zebra Crossing" {
		t.Fatalf("search by nick: %v", got)
	}
	if got = e.list(t, "GET", base+"/search?limit=10&query=ebra", a, 200); len(got) != 0 {
		t.Fatalf("search matched inside a word: %v", got)
	}
	// Every member name starts with "user": the default limit is 1.
	if got = e.list(t, "GET", base+"/search?query=user", a, 200); len(got) != 1 {
		t.Fatalf("search default limit: %v", got)
	}
	expect(t, e.do(t, "GET", base+"/search", "Bearer "+a.access, nil), 400, 50035)
	expect(t, e.do(t, "GET", base+"/search?query=u&limit=0", "Bearer "+a.access, nil), 400, 50035)
	expect(t, e.do(t, "GET", base+"/search?query=u", "Bearer "+stranger.access, nil), 403, 50001)

	// One member.
	r := expect(t, e.do(t, "GET", base+"/"+b.id, "Bearer "+a.access, nil), 200, -1)
	if r.body["nick"] != "Zebra Crossing" || r.body["user"].(map[string]any)["id"] != b.id {
		t.Fatalf("member: %s", r.raw)
	}
	expect(t, e.do(t, "GET", base+"/"+stranger.id, "Bearer "+a.access, nil), 404, 10007)
	expect(t, e.do(t, "GET", base+"/nobody", "Bearer "+a.access, nil), 404, 10007)
	expect(t, e.do(t, "GET", base+"/"+a.id, "Bearer "+stranger.access, nil), 403, 50001)
}

func TestMemberNicknames(t *testing.T) {
	e := testEnv(t)
	owner, mod, a, b := e.register(t), e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Nicknames")
	for _, u := range []account{mod, a, b} {
		e.join(t, g, u)
	}
	modRole := e.mbRole(t, g, owner, map[string]any{"name": "mod", "permissions": mbPerm(permissions.ManageNicknames)})
	e.mbGive(t, g, owner, mod.id, modRole["id"].(string))
	base := "/api/v10/guilds/" + g.id + "/members/"

	r := expect(t, e.do(t, "PATCH", base+a.id, "Bearer "+mod.access, map[string]any{"nick": "  Ada  "}), 200, -1)
	if r.body["nick"] != "Ada" || r.body["user"].(map[string]any)["id"] != a.id {
		t.Fatalf("nick: %s", r.raw)
	}
	ev := mbOne(t, "GUILD_MEMBER_UPDATE", `"nick":"Ada"`)
	mbRecipients(t, ev, owner, mod, a, b)
	if !strings.Contains(string(ev.Data), `"guild_id":"`+g.id+`"`) || !strings.Contains(string(ev.Data), `"joined_at"`) {
		t.Fatalf("GUILD_MEMBER_UPDATE: %s", ev.Data)
	}
	var nick *string
	if err := e.store.Pool().QueryRow(t.Context(), `SELECT nick FROM guild_members WHERE guild_id = $1 AND user_id = $2`, g.id, a.id).Scan(&nick); err != nil ||
		nick == nil || *nick != "Ada" {
		t.Fatalf("stored nick %v (%v)", nick, err)
	}
	// Bad input writes nothing.
	expect(t, e.do(t, "PATCH", base+a.id, "Bearer "+mod.access, map[string]any{"nick": strings.Repeat("n", 33)}), 400, 50035)
	expect(t, e.do(t, "PATCH", base+a.id, "Bearer "+mod.access, map[string]any{"nick": 7}), 400, 50035)
	// Hierarchy: not a peer, not the owner, not without the permission.
	expect(t, e.do(t, "PATCH", base+owner.id, "Bearer "+mod.access, map[string]any{"nick": "Boss"}), 403, 50013)
	expect(t, e.do(t, "PATCH", base+b.id, "Bearer "+a.access, map[string]any{"nick": "Bee"}), 403, 50013)
	e.mbGive(t, g, owner, b.id, modRole["id"].(string))
	expect(t, e.do(t, "PATCH", base+b.id, "Bearer "+mod.access, map[string]any{"nick": "Peer"}), 403, 50013)
	expect(t, e.do(t, "PATCH", base+"123456789", "Bearer "+mod.access, map[string]any{"nick": "Ghost"}), 404, 10007)
	if err := e.store.Pool().QueryRow(t.Context(), `SELECT nick FROM guild_members WHERE guild_id = $1 AND user_id = $2`, g.id, a.id).Scan(&nick); err != nil ||
		*nick != "Ada" {
		t.Fatalf("rejected change was stored: %v (%v)", nick, err)
	}
	// null clears.
	r = expect(t, e.do(t, "PATCH", base+a.id, "Bearer "+mod.access, map[string]any{"nick": nil}), 200, -1)
	if r.body["nick"] != nil {
		t.Fatalf("cleared nick: %s", r.raw)
	}

	// Their own nickname: CHANGE_NICKNAME, which @everyone has by default.
	r = expect(t, e.do(t, "PATCH", base+"@me", "Bearer "+a.access, map[string]any{"nick": "Me"}), 200, -1)
	if r.body["nick"] != "Me" {
		t.Fatalf("@me: %s", r.raw)
	}
	expect(t, e.do(t, "PATCH", base+"@me", "Bearer "+a.access, map[string]any{"nick": strings.Repeat("m", 33)}), 400, 50035)
	r = expect(t, e.do(t, "PATCH", base+"@me", "Bearer "+owner.access, map[string]any{"nick": "Founder"}), 200, -1)
	if r.body["nick"] != "Founder" {
		t.Fatalf("owner @me: %s", r.raw)
	}
	expect(t, e.do(t, "PATCH", "/api/v10/guilds/"+g.id+"/roles/"+g.id, "Bearer "+owner.access,
		map[string]any{"permissions": mbPerm(permissions.DefaultEveryone &^ permissions.ChangeNickname)}), 200, -1)
	expect(t, e.do(t, "PATCH", base+"@me", "Bearer "+a.access, map[string]any{"nick": "Again"}), 403, 50013)
	expect(t, e.do(t, "PATCH", base+"@me", "Bearer "+owner.access, map[string]any{"nick": "Still me"}), 200, -1)
	expect(t, e.do(t, "PATCH", base+"@me", "Bearer "+mod.access, map[string]any{"nick": "Mod"}), 200, -1) // MANAGE_NICKNAMES
	stranger := e.register(t)
	expect(t, e.do(t, "PATCH", base+"@me", "Bearer "+stranger.access, map[string]any{"nick": "In"}), 403, 50001)
}

func TestMemberRolesAndTimeouts(t *testing.T) {
	e := testEnv(t)
	owner, mod, a, admin := e.register(t), e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Member Roles")
	for _, u := range []account{mod, a, admin} {
		e.join(t, g, u)
	}
	low := e.mbRole(t, g, owner, map[string]any{"name": "low"})
	modRole := e.mbRole(t, g, owner, map[string]any{"name": "mod", "permissions": mbPerm(permissions.ManageRoles | permissions.ModerateMembers)})
	adminRole := e.mbRole(t, g, owner, map[string]any{"name": "admin", "permissions": mbPerm(permissions.Administrator)})
	lowID, modID, adminID := low["id"].(string), modRole["id"].(string), adminRole["id"].(string)
	// Each entered at 1; order them low < mod < admin.
	expect(t, e.do(t, "PATCH", "/api/v10/guilds/"+g.id+"/roles", "Bearer "+owner.access, []map[string]any{
		{"id": lowID, "position": 1}, {"id": modID, "position": 2}, {"id": adminID, "position": 3}}), 200, -1)
	e.mbGive(t, g, owner, mod.id, modID)
	base := "/api/v10/guilds/" + g.id + "/members/"

	// Full replacement of the role list.
	r := expect(t, e.do(t, "PATCH", base+a.id, "Bearer "+owner.access, map[string]any{"roles": []string{lowID, modID}}), 200, -1)
	if roles := r.body["roles"].([]any); len(roles) != 2 || roles[0] != lowID || roles[1] != modID {
		t.Fatalf("roles: %s", r.raw)
	}
	r = expect(t, e.do(t, "PATCH", base+a.id, "Bearer "+owner.access, map[string]any{"roles": []string{lowID}}), 200, -1)
	if roles := r.body["roles"].([]any); len(roles) != 1 || roles[0] != lowID {
		t.Fatalf("roles: %s", r.raw)
	}
	if n := e.mbCount(t, `SELECT cardinality(roles) FROM guild_members WHERE guild_id = $1 AND user_id = $2`, g.id, a.id); n != 1 {
		t.Fatalf("stored %d roles", n)
	}
	expect(t, e.do(t, "PATCH", base+a.id, "Bearer "+owner.access, map[string]any{"roles": []string{"123"}}), 400, 50035)
	expect(t, e.do(t, "PATCH", base+a.id, "Bearer "+owner.access, map[string]any{"roles": []string{g.id}}), 400, 50035)
	expect(t, e.do(t, "PATCH", base+a.id, "Bearer "+owner.access, map[string]any{"roles": "all"}), 400, 50035)
	// The mod grants and revokes roles below their own only.
	expect(t, e.do(t, "PATCH", base+a.id, "Bearer "+mod.access, map[string]any{"roles": []string{lowID, modID}}), 403, 50013)
	expect(t, e.do(t, "PATCH", base+a.id, "Bearer "+mod.access, map[string]any{"roles": []string{lowID, adminID}}), 403, 50013)
	expect(t, e.do(t, "PATCH", base+a.id, "Bearer "+a.access, map[string]any{"roles": []string{}}), 403, 50013)
	expect(t, e.do(t, "PATCH", base+a.id, "Bearer "+mod.access, map[string]any{"roles": []string{}}), 200, -1)
	expect(t, e.do(t, "PUT", base+a.id+"/roles/"+adminID, "Bearer "+mod.access, nil), 403, 50013)
	expect(t, e.do(t, "PUT", base+a.id+"/roles/"+modID, "Bearer "+mod.access, nil), 403, 50013)
	expect(t, e.do(t, "PUT", base+a.id+"/roles/"+lowID, "Bearer "+a.access, nil), 403, 50013)
	expect(t, e.do(t, "PUT", base+a.id+"/roles/123", "Bearer "+mod.access, nil), 404, 10011)
	expect(t, e.do(t, "PUT", base+a.id+"/roles/"+g.id, "Bearer "+mod.access, nil), 404, 10011)
	expect(t, e.do(t, "PUT", base+"123456/roles/"+lowID, "Bearer "+mod.access, nil), 404, 10007)
	// Role grants are idempotent: one change, one event.
	e.mbGive(t, g, mod, a.id, lowID)
	e.mbGive(t, g, mod, a.id, lowID)
	if evs := events.find("GUILD_MEMBER_UPDATE", `"roles":["`+lowID+`"]`); len(evs) != 2 { // the PATCH above and this grant
		t.Fatalf("%d member updates with the low role", len(evs))
	}
	expect(t, e.do(t, "DELETE", base+a.id+"/roles/"+lowID, "Bearer "+mod.access, nil), 204, -1)
	expect(t, e.do(t, "DELETE", base+a.id+"/roles/"+lowID, "Bearer "+mod.access, nil), 204, -1)
	if n := e.mbCount(t, `SELECT cardinality(roles) FROM guild_members WHERE guild_id = $1 AND user_id = $2`, g.id, a.id); n != 0 {
		t.Fatalf("stored %d roles after revoking", n)
	}

	// Timeouts: MODERATE_MEMBERS, hierarchy, not admins, at most 28 days.
	e.mbGive(t, g, owner, admin.id, adminID)
	until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r = expect(t, e.do(t, "PATCH", base+a.id, "Bearer "+mod.access, map[string]any{"communication_disabled_until": until}), 200, -1)
	if r.body["communication_disabled_until"] == nil {
		t.Fatalf("timeout: %s", r.raw)
	}
	if n := e.mbCount(t, `SELECT count(*) FROM guild_members WHERE guild_id = $1 AND user_id = $2 AND communication_disabled_until > now()`, g.id, a.id); n != 1 {
		t.Fatal("timeout not stored")
	}
	// The timed-out member lost CHANGE_NICKNAME at once.
	expect(t, e.do(t, "PATCH", base+"@me", "Bearer "+a.access, map[string]any{"nick": "Loud"}), 403, 50013)
	expect(t, e.do(t, "PATCH", base+a.id, "Bearer "+mod.access, map[string]any{"communication_disabled_until": time.Now().Add(29 * 24 * time.Hour).Format(time.RFC3339)}), 400, 50035)
	expect(t, e.do(t, "PATCH", base+a.id, "Bearer "+mod.access, map[string]any{"communication_disabled_until": "tomorrow"}), 400, 50035)
	expect(t, e.do(t, "PATCH", base+owner.id, "Bearer "+mod.access, map[string]any{"communication_disabled_until": until}), 403, 50013)
	expect(t, e.do(t, "PATCH", base+admin.id, "Bearer "+owner.access, map[string]any{"communication_disabled_until": until}), 403, 50013)
	expect(t, e.do(t, "PATCH", base+mod.id, "Bearer "+mod.access, map[string]any{"communication_disabled_until": until}), 403, 50013)
	expect(t, e.do(t, "PATCH", base+mod.id, "Bearer "+a.access, map[string]any{"communication_disabled_until": until}), 403, 50013)
	r = expect(t, e.do(t, "PATCH", base+a.id, "Bearer "+mod.access, map[string]any{"communication_disabled_until": nil}), 200, -1)
	if r.body["communication_disabled_until"] != nil {
		t.Fatalf("timeout not lifted: %s", r.raw)
	}
	expect(t, e.do(t, "PATCH", base+"@me", "Bearer "+a.access, map[string]any{"nick": "Loud"}), 200, -1)
	// An invalid field rejects the whole change.
	expect(t, e.do(t, "PATCH", base+a.id, "Bearer "+owner.access, map[string]any{"nick": "Quiet", "roles": []string{"1"}}), 400, 50035)
	r = expect(t, e.do(t, "GET", base+a.id, "Bearer "+a.access, nil), 200, -1)
	if r.body["nick"] != "Loud" {
		t.Fatalf("half-applied change: %s", r.raw)
	}
}

// TestKickAndImmediacy: a role's grant or removal takes effect at the next
// request.
func TestKickAndImmediacy(t *testing.T) {
	e := testEnv(t)
	owner, mod, peer, a, b, stranger := e.register(t), e.register(t), e.register(t), e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Kicks")
	for _, u := range []account{mod, peer, a, b} {
		e.join(t, g, u)
	}
	kicker := e.mbRole(t, g, owner, map[string]any{"name": "kicker", "permissions": mbPerm(permissions.KickMembers)})
	kickerID := kicker["id"].(string)
	base := "/api/v10/guilds/" + g.id + "/members/"

	expect(t, e.do(t, "DELETE", base+a.id, "Bearer "+mod.access, nil), 403, 50013)
	e.mbGive(t, g, owner, mod.id, kickerID)
	e.mbGive(t, g, owner, peer.id, kickerID)
	expect(t, e.do(t, "DELETE", base+a.id, "Bearer "+mod.access, nil), 204, -1)
	mbRecipients(t, mbOne(t, "GUILD_MEMBER_REMOVE", a.id), owner, mod, peer, b)
	mbRecipients(t, mbOne(t, "GUILD_DELETE", g.id), a)
	expect(t, e.do(t, "GET", "/api/v10/guilds/"+g.id, "Bearer "+a.access, nil), 403, 50001)
	if n := e.mbCount(t, `SELECT count(*) FROM guild_members WHERE guild_id = $1 AND user_id = $2`, g.id, a.id); n != 0 {
		t.Fatal("kicked member still stored")
	}
	expect(t, e.do(t, "DELETE", base+a.id, "Bearer "+mod.access, nil), 404, 10007)
	expect(t, e.do(t, "DELETE", base+owner.id, "Bearer "+mod.access, nil), 403, 50013)
	expect(t, e.do(t, "DELETE", base+peer.id, "Bearer "+mod.access, nil), 403, 50013)
	expect(t, e.do(t, "DELETE", base+mod.id, "Bearer "+mod.access, nil), 403, 50013)
	expect(t, e.do(t, "DELETE", base+owner.id, "Bearer "+owner.access, nil), 403, 50013)
	expect(t, e.do(t, "DELETE", base+b.id, "Bearer "+stranger.access, nil), 403, 50001)
	// Taking the role away takes the permission away at once.
	expect(t, e.do(t, "DELETE", base+mod.id+"/roles/"+kickerID, "Bearer "+owner.access, nil), 204, -1)
	expect(t, e.do(t, "DELETE", base+b.id, "Bearer "+mod.access, nil), 403, 50013)
	// ...and so does taking the permission from the role.
	expect(t, e.do(t, "PATCH", "/api/v10/guilds/"+g.id+"/roles/"+kickerID, "Bearer "+owner.access, map[string]any{"permissions": "0"}), 200, -1)
	expect(t, e.do(t, "DELETE", base+b.id, "Bearer "+peer.access, nil), 403, 50013)
	// The kicked member may come back.
	e.join(t, g, a)
	expect(t, e.do(t, "GET", base+a.id, "Bearer "+a.access, nil), 200, -1)
}
