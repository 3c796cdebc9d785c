package rest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/accordchat/accord/permissions"
)

func TestBanMember(t *testing.T) {
	e := testEnv(t)
	owner, mod, peer, target, bystander, stranger := e.register(t), e.register(t), e.register(t), e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Ban Hammer")
	for _, u := range []account{mod, peer, target, bystander} {
		e.join(t, g, u)
	}
	banRole := e.mbRole(t, g, owner, map[string]any{"name": "bans", "permissions": mbPerm(permissions.BanMembers)})
	e.mbGive(t, g, owner, mod.id, banRole["id"].(string))
	e.mbGive(t, g, owner, peer.id, banRole["id"].(string))
	bans := "/api/v10/guilds/" + g.id + "/bans"

	// Without BAN_MEMBERS: nothing, not even whether a ban exists.
	expect(t, e.do(t, "PUT", bans+"/"+target.id, "Bearer "+bystander.access, nil), 403, 50013)
	expect(t, e.do(t, "GET", bans, "Bearer "+bystander.access, nil), 403, 50013)
	expect(t, e.do(t, "GET", bans, "Bearer "+stranger.access, nil), 403, 50001)
	// Hierarchy: not the owner, not a peer, not oneself.
	expect(t, e.do(t, "PUT", bans+"/"+owner.id, "Bearer "+mod.access, nil), 403, 50013)
	expect(t, e.do(t, "PUT", bans+"/"+peer.id, "Bearer "+mod.access, nil), 403, 50013)
	expect(t, e.do(t, "PUT", bans+"/"+mod.id, "Bearer "+mod.access, nil), 403, 50013)
	expect(t, e.do(t, "PUT", bans+"/"+owner.id, "Bearer "+owner.access, nil), 403, 50013)
	// Bad input: nothing written.
	expect(t, e.do(t, "PUT", bans+"/"+target.id, "Bearer "+mod.access, map[string]any{"delete_message_seconds": 604801}), 400, 50035)
	expect(t, e.do(t, "PUT", bans+"/"+target.id, "Bearer "+mod.access, map[string]any{"delete_message_days": 8}), 400, 50035)
	expect(t, e.do(t, "PUT", bans+"/"+target.id, "Bearer "+mod.access, map[string]any{"delete_message_seconds": "all"}), 400, 50035)
	if n := e.mbCount(t, `SELECT count(*) FROM guild_bans WHERE guild_id = $1`, g.id); n != 0 {
		t.Fatalf("%d bans stored after rejected bans", n)
	}

	// The ban: the reason comes from X-Audit-Log-Reason, URL-encoded.
	req, _ := http.NewRequest("PUT", e.url+bans+"/"+target.id, strings.NewReader(`{"delete_message_seconds": 3600}`))
	req.Header.Set("Authorization", "Bearer "+mod.access)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Audit-Log-Reason", "spam%20and%20more%20spam")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 204 {
		t.Fatalf("ban: status %d", res.StatusCode)
	}
	mbRecipients(t, mbOne(t, "GUILD_BAN_ADD", target.id), owner, mod, peer)
	mbRecipients(t, mbOne(t, "GUILD_MEMBER_REMOVE", target.id), owner, mod, peer, bystander)
	mbRecipients(t, mbOne(t, "GUILD_DELETE", g.id), target)
	if n := e.mbCount(t, `SELECT count(*) FROM guild_members WHERE guild_id = $1 AND user_id = $2`, g.id, target.id); n != 0 {
		t.Fatal("banned member still stored as a member")
	}
	if n := e.mbCount(t, `SELECT count(*) FROM guild_bans WHERE guild_id = $1 AND user_id = $2 AND reason = 'spam and more spam'`, g.id, target.id); n != 1 {
		t.Fatal("ban not stored with its reason")
	}
	expect(t, e.do(t, "GET", "/api/v10/guilds/"+g.id, "Bearer "+target.access, nil), 403, 50001)
	r := expect(t, e.do(t, "GET", bans+"/"+target.id, "Bearer "+peer.access, nil), 200, -1)
	if r.body["reason"] != "spam and more spam" || r.body["user"].(map[string]any)["id"] != target.id {
		t.Fatalf("ban: %s", r.raw)
	}
	expect(t, e.do(t, "GET", bans+"/"+bystander.id, "Bearer "+peer.access, nil), 404, 10026)
	expect(t, e.do(t, "GET", bans+"/"+target.id, "Bearer "+bystander.access, nil), 403, 50013)
	// Banning again changes nothing.
	expect(t, e.do(t, "PUT", bans+"/"+target.id, "Bearer "+mod.access, nil), 204, -1)
	if len(events.find("GUILD_BAN_ADD", target.id)) != 1 {
		t.Fatal("a repeated ban emitted again")
	}

	// A banned user cannot come back through an invite.
	inv := expect(t, e.do(t, "POST", "/api/v10/channels/"+g.general+"/invites", "Bearer "+owner.access, map[string]any{"unique": true}), 200, -1)
	code := inv.body["code"].(string)
	expect(t, e.do(t, "POST", "/api/v10/invites/"+code, "Bearer "+target.access, nil), 403, 40007)

	// Unban, once.
	expect(t, e.do(t, "DELETE", bans+"/"+target.id, "Bearer "+bystander.access, nil), 403, 50013)
	expect(t, e.do(t, "DELETE", bans+"/"+target.id, "Bearer "+peer.access, nil), 204, -1)
	mbRecipients(t, mbOne(t, "GUILD_BAN_REMOVE", target.id), owner, mod, peer)
	expect(t, e.do(t, "DELETE", bans+"/"+target.id, "Bearer "+peer.access, nil), 404, 10026)
	if n := e.mbCount(t, `SELECT count(*) FROM guild_bans WHERE guild_id = $1`, g.id); n != 0 {
		t.Fatal("lifted ban still stored")
	}
	expect(t, e.do(t, "POST", "/api/v10/invites/"+code, "Bearer "+target.access, nil), 200, -1)
}

func TestBanNonMembersAndList(t *testing.T) {
	e := testEnv(t)
	owner := e.register(t)
	g := e.createGuild(t, owner, "Ban List")
	outsiders := []account{e.register(t), e.register(t), e.register(t)}
	bans := "/api/v10/guilds/" + g.id + "/bans"

	// A user who never joined can be banned (and then cannot join).
	for i, u := range outsiders {
		expect(t, e.do(t, "PUT", bans+"/"+u.id, "Bearer "+owner.access, map[string]any{"reason": "pre-emptive " + string(rune('a'+i))}), 204, -1)
	}
	mbRecipients(t, mbOne(t, "GUILD_BAN_ADD", outsiders[0].id), owner)
	if len(events.find("GUILD_MEMBER_REMOVE", outsiders[0].id)) != 0 {
		t.Fatal("GUILD_MEMBER_REMOVE for a non-member")
	}
	expect(t, e.do(t, "PUT", bans+"/123456789", "Bearer "+owner.access, nil), 404, 10013)
	expect(t, e.do(t, "PUT", bans+"/someone", "Bearer "+owner.access, nil), 404, 10013)

	all := e.list(t, "GET", bans, owner, 200)
	if len(all) != 3 || all[0]["user"].(map[string]any)["id"] != outsiders[0].id || all[0]["reason"] != "pre-emptive a" {
		t.Fatalf("bans: %v", all)
	}
	if got := e.list(t, "GET", bans+"?limit=1&after="+outsiders[0].id, owner, 200); len(got) != 1 || got[0]["user"].(map[string]any)["id"] != outsiders[1].id {
		t.Fatalf("after: %v", got)
	}
	if got := e.list(t, "GET", bans+"?limit=1&before="+outsiders[2].id, owner, 200); len(got) != 1 || got[0]["user"].(map[string]any)["id"] != outsiders[1].id {
		t.Fatalf("before: %v", got)
	}
	expect(t, e.do(t, "GET", bans+"?limit=0", "Bearer "+owner.access, nil), 400, 50035)
	expect(t, e.do(t, "GET", bans+"?after=x", "Bearer "+owner.access, nil), 400, 50035)

	inv := expect(t, e.do(t, "POST", "/api/v10/channels/"+g.general+"/invites", "Bearer "+owner.access, map[string]any{"unique": true}), 200, -1)
	expect(t, e.do(t, "POST", "/api/v10/invites/"+inv.body["code"].(string), "Bearer "+outsiders[2].access, nil), 403, 40007)
	if n := e.mbCount(t, `SELECT count(*) FROM guild_members WHERE guild_id = $1`, g.id); n != 1 {
		t.Fatalf("%d members after a banned join", n)
	}
}
