package rest_test

import (
	"fmt"
	"strings"
	"testing"
)

// appBot is an application's bot as its owner got it.
type appBot struct {
	id, username, discriminator, token string
}

func (b appBot) auth() string { return "Bot " + b.token }

// newApp creates an application owned by owner.
func (e *env) newApp(t *testing.T, owner account) appBot {
	t.Helper()
	n := userSeq.Add(1)
	r := expect(t, e.do(t, "POST", "/api/v10/applications", "Bearer "+owner.access, map[string]any{"name": fmt.Sprintf("app%d", n)}), 201, -1)
	b := r.body["bot"].(map[string]any)
	return appBot{id: b["id"].(string), username: b["username"].(string), discriminator: b["discriminator"].(string),
		token: b["token"].(string)}
}

const limitedFlags = 1<<13 | 1<<15 | 1<<19

func TestApplicationLifecycle(t *testing.T) {
	e := testEnv(t)
	owner, stranger := e.register(t), e.register(t)

	for _, mount := range []string{"/api", "/api/v9", "/api/v10"} {
		r := expect(t, e.do(t, "POST", mount+"/applications", "Bearer "+owner.access, map[string]any{"name": "Robo " + strings.Trim(mount, "/api")}), 201, -1)
		bot, _ := r.body["bot"].(map[string]any)
		if bot == nil || r.body["id"] != bot["id"] || bot["bot"] != true || bot["token"] == "" || bot["token"] == nil {
			t.Fatalf("%s: application and bot: %s", mount, r.raw)
		}
		if r.body["flags"] != float64(limitedFlags) || r.body["bot_public"] != true ||
			r.body["owner"].(map[string]any)["id"] != owner.id || r.body["name"] != bot["username"] {
			t.Fatalf("%s: application fields: %s", mount, r.raw)
		}
	}

	b := e.newApp(t, owner)
	// The token works on REST: the bot is a bot.
	me := expect(t, e.do(t, "GET", "/api/v10/users/@me", b.auth(), nil), 200, -1)
	if me.body["id"] != b.id || me.body["bot"] != true || me.body["username"] != b.username {
		t.Fatalf("bot's /users/@me: %s", me.raw)
	}
	// The bot reads its application; the token is never shown again.
	app := expect(t, e.do(t, "GET", "/api/v10/applications/@me", b.auth(), nil), 200, -1)
	if app.body["id"] != b.id || app.body["owner"].(map[string]any)["id"] != owner.id || strings.Contains(app.raw, b.token) {
		t.Fatalf("GET /applications/@me: %s", app.raw)
	}
	byID := expect(t, e.do(t, "GET", "/api/v10/applications/"+b.id, "Bearer "+owner.access, nil), 200, -1)
	if byID.body["id"] != b.id || strings.Contains(byID.raw, b.token) {
		t.Fatalf("GET /applications/{id}: %s", byID.raw)
	}
	expect(t, e.do(t, "GET", "/api/v10/applications/"+b.id, "Bearer "+stranger.access, nil), 404, 10002)
	expect(t, e.do(t, "GET", "/api/v10/applications/12345", "Bearer "+owner.access, nil), 404, 10002)
	expect(t, e.do(t, "GET", "/api/v10/applications/@me", "Bearer "+owner.access, nil), 404, 10002)

	// Flags: only the owner, only the limited intent flags.
	expect(t, e.do(t, "PATCH", "/api/v10/applications/"+b.id, "Bearer "+stranger.access, map[string]any{"flags": 0}), 404, 10002)
	expect(t, e.do(t, "PATCH", "/api/v10/applications/"+b.id, "Bearer "+owner.access, map[string]any{"flags": limitedFlags | 1<<5}), 400, 50035)
	p := expect(t, e.do(t, "PATCH", "/api/v10/applications/"+b.id, "Bearer "+owner.access, map[string]any{"flags": 1 << 13}), 200, -1)
	if p.body["flags"] != float64(1<<13) {
		t.Fatalf("PATCH flags: %s", p.raw)
	}
	if r := expect(t, e.do(t, "GET", "/api/v10/applications/@me", b.auth(), nil), 200, -1); r.body["flags"] != float64(1<<13) {
		t.Fatalf("flags after PATCH: %s", r.raw)
	}

	// Reset: owner only; the old token stops working at once, the new works.
	expect(t, e.do(t, "POST", "/api/v10/applications/"+b.id+"/bot/reset", "Bearer "+stranger.access, nil), 404, 10002)
	expect(t, e.do(t, "POST", "/api/v10/applications/"+b.id+"/bot/reset", b.auth(), nil), 403, 50001)
	reset := expect(t, e.do(t, "POST", "/api/v10/applications/"+b.id+"/bot/reset", "Bearer "+owner.access, nil), 200, -1)
	fresh, _ := reset.body["token"].(string)
	if fresh == "" || fresh == b.token {
		t.Fatalf("reset: %s", reset.raw)
	}
	expect(t, e.do(t, "GET", "/api/v10/users/@me", b.auth(), nil), 401, 0)
	expect(t, e.do(t, "GET", "/api/v10/users/@me", "Bot "+fresh, nil), 200, -1)
	// A forged token for the same bot is refused.
	forged := fresh[:strings.LastIndexByte(fresh, '.')+1] + strings.Repeat("A", 43)
	expect(t, e.do(t, "GET", "/api/v10/users/@me", "Bot "+forged, nil), 401, 0)

	// Validation and who may create.
	expect(t, e.do(t, "POST", "/api/v10/applications", "Bearer "+owner.access, map[string]any{}), 400, 50035)
	expect(t, e.do(t, "POST", "/api/v10/applications", "Bearer "+owner.access, map[string]any{"name": "x"}), 400, 50035)
	expect(t, e.do(t, "POST", "/api/v10/applications", "Bot "+fresh, map[string]any{"name": "botbot"}), 403, 20001)
	expect(t, e.do(t, "POST", "/api/v10/applications", "", map[string]any{"name": "anon"}), 401, 0)

	// A bot has no password: it cannot log in.
	expect(t, e.do(t, "POST", "/api/auth/login", "", map[string]any{"login": b.username + "#" + b.discriminator, "password": ""}), 400, 50035)
	expect(t, e.do(t, "POST", "/api/auth/login", "", map[string]any{"login": b.username + "#" + b.discriminator, "password": "anything"}), 400, 50035)
}

// authorize adds bot to g as who with perms through the OAuth2 call.
func (e *env) authorize(t *testing.T, who account, clientID, guildID, perms string) resp {
	t.Helper()
	return e.do(t, "POST", "/api/v10/oauth2/authorize?client_id="+clientID+"&scope=bot%20applications.commands&permissions="+perms,
		"Bearer "+who.access, map[string]any{"guild_id": guildID, "authorize": true})
}

func TestAuthorizeBot(t *testing.T) {
	e := testEnv(t)
	owner, dev, member, stranger := e.register(t), e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Bot Garden")
	e.join(t, g, member)
	b := e.newApp(t, dev)

	// Errors: no MANAGE_GUILD, not a member, unknown application, no guild.
	expect(t, e.authorize(t, member, b.id, g.id, "3072"), 403, 50013)
	expect(t, e.authorize(t, stranger, b.id, g.id, "3072"), 403, 50001)
	expect(t, e.authorize(t, owner, "4242", g.id, "3072"), 404, 10002)
	expect(t, e.do(t, "POST", "/api/v10/oauth2/authorize?client_id="+b.id+"&scope=bot", "Bearer "+owner.access,
		map[string]any{"authorize": true}), 400, 50035)
	expect(t, e.do(t, "POST", "/api/v10/oauth2/authorize?client_id="+b.id+"&scope=identify", "Bearer "+owner.access,
		map[string]any{"guild_id": g.id, "authorize": true}), 400, 50035)
	expect(t, e.do(t, "GET", "/api/v10/guilds/"+g.id, b.auth(), nil), 403, 50001)

	// A manager may grant only what they hold: MANAGE_GUILD alone cannot
	// grant ADMINISTRATOR.
	mg := e.mbRole(t, g, owner, map[string]any{"name": "managers", "permissions": "32"})
	e.mbGive(t, g, owner, member.id, mg["id"].(string))
	expect(t, e.authorize(t, member, b.id, g.id, "8"), 403, 50013)

	// Declining adds nothing.
	r := expect(t, e.do(t, "POST", "/api/v10/oauth2/authorize?client_id="+b.id+"&scope=bot&permissions=3072", "Bearer "+owner.access,
		map[string]any{"guild_id": g.id, "authorize": false}), 200, -1)
	if loc, _ := r.body["location"].(string); !strings.Contains(loc, "error=access_denied") {
		t.Fatalf("declined: %s", r.raw)
	}
	expect(t, e.do(t, "GET", "/api/v10/guilds/"+g.id+"/members/"+b.id, "Bearer "+owner.access, nil), 404, 10007)

	r = expect(t, e.authorize(t, owner, b.id, g.id, "3072"), 200, -1)
	if loc, _ := r.body["location"].(string); !strings.HasPrefix(loc, "http") {
		t.Fatalf("location: %s", r.raw)
	}
	m := expect(t, e.do(t, "GET", "/api/v10/guilds/"+g.id+"/members/"+b.id, "Bearer "+owner.access, nil), 200, -1)
	if m.body["user"].(map[string]any)["bot"] != true {
		t.Fatalf("bot member: %s", m.raw)
	}
	roles, _ := m.body["roles"].([]any)
	if len(roles) != 1 {
		t.Fatalf("bot member roles: %s", m.raw)
	}
	roleID := roles[0].(string)
	var managed map[string]any
	for _, ro := range e.list(t, "GET", "/api/v10/guilds/"+g.id+"/roles", owner, 200) {
		if ro["id"] == roleID {
			managed = ro
		}
	}
	if managed == nil || managed["managed"] != true || managed["permissions"] != "3072" || managed["name"] != b.username {
		t.Fatalf("managed role: %v", managed)
	}
	if tags, _ := managed["tags"].(map[string]any); tags == nil || tags["bot_id"] != b.id {
		t.Fatalf("managed role tags: %v", managed)
	}
	// The bot is a member: it reads the guild with its token.
	expect(t, e.do(t, "GET", "/api/v10/guilds/"+g.id, b.auth(), nil), 200, -1)
	// Authorizing again changes nothing.
	expect(t, e.authorize(t, owner, b.id, g.id, "3072"), 200, -1)
	if n := e.mbCount(t, `SELECT count(*) FROM roles WHERE guild_id::text = $1 AND bot_id::text = $2`, g.id, b.id); n != 1 {
		t.Fatalf("%d managed roles after a second authorization", n)
	}

	// The managed role is the bot's alone.
	expect(t, e.do(t, "PUT", "/api/v10/guilds/"+g.id+"/members/"+member.id+"/roles/"+roleID, "Bearer "+owner.access, nil), 403, 50013)
	expect(t, e.do(t, "DELETE", "/api/v10/guilds/"+g.id+"/members/"+b.id+"/roles/"+roleID, "Bearer "+owner.access, nil), 403, 50013)
	expect(t, e.do(t, "PATCH", "/api/v10/guilds/"+g.id+"/members/"+b.id, "Bearer "+owner.access, map[string]any{"roles": []string{}}), 403, 50013)
	expect(t, e.do(t, "DELETE", "/api/v10/guilds/"+g.id+"/roles/"+roleID, "Bearer "+owner.access, nil), 400, 50028)

	// Kicked, the bot's role goes with it; banned, it cannot be added.
	expect(t, e.do(t, "DELETE", "/api/v10/guilds/"+g.id+"/members/"+b.id, "Bearer "+owner.access, nil), 204, -1)
	for _, ro := range e.list(t, "GET", "/api/v10/guilds/"+g.id+"/roles", owner, 200) {
		if ro["id"] == roleID {
			t.Fatalf("managed role outlived its bot: %v", ro)
		}
	}
	expect(t, e.do(t, "PUT", "/api/v10/guilds/"+g.id+"/bans/"+b.id, "Bearer "+owner.access, map[string]any{}), 204, -1)
	expect(t, e.authorize(t, owner, b.id, g.id, "3072"), 403, 40007)
	// Without permissions the bot joins without a role.
	expect(t, e.do(t, "DELETE", "/api/v10/guilds/"+g.id+"/bans/"+b.id, "Bearer "+owner.access, nil), 204, -1)
	expect(t, e.authorize(t, owner, b.id, g.id, "0"), 200, -1)
	m = expect(t, e.do(t, "GET", "/api/v10/guilds/"+g.id+"/members/"+b.id, "Bearer "+owner.access, nil), 200, -1)
	if roles, _ := m.body["roles"].([]any); len(roles) != 0 {
		t.Fatalf("bot added without permissions has roles: %s", m.raw)
	}
	// Bots cannot authorize bots.
	b2 := e.newApp(t, dev)
	expect(t, e.do(t, "POST", "/api/v10/oauth2/authorize?client_id="+b2.id+"&scope=bot", b.auth(),
		map[string]any{"guild_id": g.id, "authorize": true}), 403, 20001)
}
