package rest_test

import (
	"strconv"
	"testing"
)

// guild is a test guild: its id, owner and the ids of its default channels.
type guild struct {
	id, general, textCategory, voice string
	owner                            account
}

// createGuild makes a guild owned by owner and finds its default channels.
func (e *env) createGuild(t testing.TB, owner account, name string) guild {
	t.Helper()
	r := expect(t, e.do(t, "POST", "/api/v10/guilds", "Bearer "+owner.access, map[string]any{"name": name}), 201, -1)
	g := guild{id: r.body["id"].(string), owner: owner}
	chans := e.list(t, "GET", "/api/v10/guilds/"+g.id+"/channels", owner, 200)
	for _, ch := range chans {
		switch ch["name"] {
		case "general":
			g.general = ch["id"].(string)
		case "Text Channels":
			g.textCategory = ch["id"].(string)
		case "General":
			g.voice = ch["id"].(string)
		}
	}
	return g
}

// list does a request whose answer is a JSON array.
func (e *env) list(t testing.TB, method, path string, who account, status int) []map[string]any {
	t.Helper()
	r := e.do(t, method, path, "Bearer "+who.access, nil)
	if r.status != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, status, r.raw)
	}
	var out []map[string]any
	if err := jsonUnmarshal(r.raw, &out); err != nil {
		t.Fatalf("%s %s: not an array: %s", method, path, r.raw)
	}
	return out
}

// join makes who a member of g through a fresh invite of its owner.
func (e *env) join(t testing.TB, g guild, who account) {
	t.Helper()
	inv := expect(t, e.do(t, "POST", "/api/v10/channels/"+g.general+"/invites", "Bearer "+g.owner.access,
		map[string]any{"unique": true}), 200, -1)
	expect(t, e.do(t, "POST", "/api/v10/invites/"+inv.body["code"].(string), "Bearer "+who.access, nil), 200, -1)
}

func TestCreateGuildDefaults(t *testing.T) {
	e := testEnv(t)
	owner := e.register(t)
	r := expect(t, e.do(t, "POST", "/api/v10/guilds", "Bearer "+owner.access, map[string]any{"name": "Lovelace Society"}), 201, -1)
	id := r.body["id"].(string)
	if r.body["owner_id"] != owner.id || r.body["name"] != "Lovelace Society" {
		t.Fatalf("guild: %s", r.raw)
	}
	roles := r.body["roles"].([]any)
	everyone := roles[0].(map[string]any)
	if len(roles) != 1 || everyone["id"] != id || everyone["name"] != "@everyone" || everyone["permissions"] != "2107735977479745" {
		t.Fatalf("@everyone role: %v", roles)
	}
	chans := e.list(t, "GET", "/api/v10/guilds/"+id+"/channels", owner, 200)
	byName := map[string]map[string]any{}
	for _, ch := range chans {
		byName[ch["name"].(string)] = ch
		if ch["guild_id"] != id {
			t.Fatalf("channel without guild_id: %v", ch)
		}
	}
	text, general, voiceCat, voice := byName["Text Channels"], byName["general"], byName["Voice Channels"], byName["General"]
	if text["type"] != 4.0 || general["type"] != 0.0 || general["parent_id"] != text["id"] ||
		voiceCat["type"] != 4.0 || voice["type"] != 2.0 || voice["parent_id"] != voiceCat["id"] {
		t.Fatalf("default channels: %v", chans)
	}
	if r.body["system_channel_id"] != general["id"] {
		t.Fatalf("system channel %v, want #general", r.body["system_channel_id"])
	}
	if len(events.find("GUILD_CREATE", id)) != 1 {
		t.Fatal("no GUILD_CREATE event for the owner")
	}
	expect(t, e.do(t, "POST", "/api/v10/guilds", "Bearer "+owner.access, map[string]any{"name": "x"}), 400, 50035)
	expect(t, e.do(t, "POST", "/api/v10/guilds", "Bearer "+owner.access, map[string]any{}), 400, 50035)
	expect(t, e.do(t, "POST", "/api/v10/guilds", "", map[string]any{"name": "anon"}), 401, 0)
}

func TestGuildReadUpdateDelete(t *testing.T) {
	e := testEnv(t)
	owner, member, stranger := e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Analytical Engines")
	e.join(t, g, member)

	r := expect(t, e.do(t, "GET", "/api/v10/guilds/"+g.id+"?with_counts=true", "Bearer "+member.access, nil), 200, -1)
	if r.body["approximate_member_count"] != 2.0 {
		t.Fatalf("with_counts: %s", r.raw)
	}
	expect(t, e.do(t, "GET", "/api/v10/guilds/"+g.id, "Bearer "+stranger.access, nil), 403, 50001)
	expect(t, e.do(t, "GET", "/api/v10/guilds/1234567890123", "Bearer "+member.access, nil), 404, 10004)
	expect(t, e.do(t, "GET", "/api/v10/guilds/not-an-id", "Bearer "+member.access, nil), 404, 10004)

	// A plain member lacks MANAGE_GUILD.
	expect(t, e.do(t, "PATCH", "/api/v10/guilds/"+g.id, "Bearer "+member.access, map[string]any{"name": "Mine now"}), 403, 50013)
	r = expect(t, e.do(t, "PATCH", "/api/v10/guilds/"+g.id, "Bearer "+owner.access, map[string]any{"name": "Difference Engines"}), 200, -1)
	if r.body["name"] != "Difference Engines" {
		t.Fatalf("rename: %s", r.raw)
	}
	if len(events.find("GUILD_UPDATE", "Difference Engines")) == 0 {
		t.Fatal("no GUILD_UPDATE event")
	}

	mine := e.list(t, "GET", "/api/v10/users/@me/guilds", member, 200)
	if len(mine) != 1 || mine[0]["id"] != g.id || mine[0]["owner"] != false || mine[0]["permissions"] != "2107735977479745" {
		t.Fatalf("@me/guilds: %v", mine)
	}
	ownerGuilds := e.list(t, "GET", "/api/v10/users/@me/guilds", owner, 200)
	if len(ownerGuilds) != 1 || ownerGuilds[0]["owner"] != true {
		t.Fatalf("owner's @me/guilds: %v", ownerGuilds)
	}

	// Ownership transfer by the owner only.
	expect(t, e.do(t, "PATCH", "/api/v10/guilds/"+g.id, "Bearer "+owner.access, map[string]any{"owner_id": stranger.id}), 400, 50035)
	r = expect(t, e.do(t, "PATCH", "/api/v10/guilds/"+g.id, "Bearer "+owner.access, map[string]any{"owner_id": member.id}), 200, -1)
	if r.body["owner_id"] != member.id {
		t.Fatalf("transfer: %s", r.raw)
	}
	// The old owner can now leave; the new owner cannot.
	expect(t, e.do(t, "DELETE", "/api/v10/users/@me/guilds/"+g.id, "Bearer "+member.access, nil), 400, -1)
	expect(t, e.do(t, "DELETE", "/api/v10/users/@me/guilds/"+g.id, "Bearer "+owner.access, nil), 204, -1)
	expect(t, e.do(t, "GET", "/api/v10/guilds/"+g.id, "Bearer "+owner.access, nil), 403, 50001)
	if got := e.list(t, "GET", "/api/v10/users/@me/guilds", owner, 200); len(got) != 0 {
		t.Fatalf("left guild still listed: %v", got)
	}

	expect(t, e.do(t, "DELETE", "/api/v10/guilds/"+g.id, "Bearer "+owner.access, nil), 403, 50001)
	expect(t, e.do(t, "DELETE", "/api/v10/guilds/"+g.id, "Bearer "+member.access, nil), 204, -1)
	expect(t, e.do(t, "GET", "/api/v10/guilds/"+g.id, "Bearer "+member.access, nil), 404, 10004)
	expect(t, e.do(t, "GET", "/api/v10/channels/"+g.general, "Bearer "+member.access, nil), 404, 10003)
	var n int
	if err := e.store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM channels WHERE guild_id = $1`, g.id).Scan(&n); err != nil || n != 0 {
		t.Fatalf("deleted guild left %d channels (%v)", n, err)
	}
}

func TestJoinViaInvite(t *testing.T) {
	e := testEnv(t)
	owner, joiner := e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Bletchley")
	inv := expect(t, e.do(t, "POST", "/api/v10/channels/"+g.general+"/invites", "Bearer "+owner.access,
		map[string]any{"max_uses": 1, "unique": true}), 200, -1)
	code := inv.body["code"].(string)
	if inv.body["max_uses"] != 1.0 || inv.body["uses"] != 0.0 {
		t.Fatalf("invite: %s", inv.raw)
	}
	r := expect(t, e.do(t, "POST", "/api/v10/invites/"+code, "Bearer "+joiner.access, nil), 200, -1)
	if r.body["guild"].(map[string]any)["id"] != g.id {
		t.Fatalf("join answer: %s", r.raw)
	}
	if len(events.find("GUILD_MEMBER_ADD", joiner.id)) != 1 {
		t.Fatal("no GUILD_MEMBER_ADD")
	}
	// max_uses 1: the invite is spent.
	late := e.register(t)
	expect(t, e.do(t, "POST", "/api/v10/invites/"+code, "Bearer "+late.access, nil), 404, 10006)
	expect(t, e.do(t, "POST", "/api/v10/invites/nope1234", "Bearer "+late.access, nil), 404, 10006)
	expect(t, e.do(t, "POST", "/api/v10/channels/"+g.general+"/invites", "Bearer "+late.access, nil), 403, 50001)
}

// TestGuildLimitPerUser: a user may be in at most 100 guilds, by creating
// or by joining.
func TestGuildLimitPerUser(t *testing.T) {
	e := testEnv(t)
	busy, other := e.register(t), e.register(t)
	for i := range 100 {
		expect(t, e.do(t, "POST", "/api/v10/guilds", "Bearer "+busy.access, map[string]any{"name": "guild " + strconv.Itoa(i)}), 201, -1)
	}
	expect(t, e.do(t, "POST", "/api/v10/guilds", "Bearer "+busy.access, map[string]any{"name": "one too many"}), 400, 30001)
	g := e.createGuild(t, other, "Elsewhere")
	inv := expect(t, e.do(t, "POST", "/api/v10/channels/"+g.general+"/invites", "Bearer "+other.access, map[string]any{}), 200, -1)
	expect(t, e.do(t, "POST", "/api/v10/invites/"+inv.body["code"].(string), "Bearer "+busy.access, nil), 400, 30001)
	if got := e.list(t, "GET", "/api/v10/users/@me/guilds", busy, 200); len(got) != 100 {
		t.Fatalf("%d guilds listed, want 100", len(got))
	}
}
