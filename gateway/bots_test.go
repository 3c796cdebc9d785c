package gateway

import (
	"context"
	"strconv"
	"testing"

	"github.com/accordchat/accord/persistence"
)

// sendIdentify sends Identify without waiting for READY.
func sendIdentify(c *client, tok string, extra map[string]any) {
	d := map[string]any{"token": tok, "properties": map[string]string{}}
	for k, v := range extra {
		d[k] = v
	}
	c.send(opIdentify, d)
}

// authorizeBot adds bot to g through the OAuth2 call of g's owner.
func (e *env) authorizeBot(t testing.TB, g guild, bot account, perms string) {
	t.Helper()
	expect(t, e.do(t, "POST", "/api/v10/oauth2/authorize?client_id="+bot.id+"&scope=bot&permissions="+perms, g.owner.auth(),
		map[string]any{"guild_id": g.id, "authorize": true}), 200)
}

// TestBotTokenOnGateway: an application's bot identifies with its token
// (READY names the application), is added to a guild while connected
// (GUILD_CREATE to it; GUILD_ROLE_CREATE and GUILD_MEMBER_ADD to the
// members), and its old token stops working once reset.
func TestBotTokenOnGateway(t *testing.T) {
	e := testEnv(t)
	bot, dev := e.application(t)
	owner := e.register(t)
	g := e.createGuild(t, owner, "Bot Lab")

	oc := e.connect(t)
	oc.identify(owner.access, nil)
	oc.dispatch("GUILD_CREATE")

	bc := e.connect(t)
	ready := bc.identify("Bot "+bot.access, map[string]any{"intents": IntentGuilds | IntentGuildMessages | IntentMessageContent}).data(t)
	app, _ := ready["application"].(map[string]any)
	user, _ := ready["user"].(map[string]any)
	if app == nil || app["id"] != bot.id || app["flags"] != float64(1<<13|1<<15|1<<19) || user["id"] != bot.id || user["bot"] != true {
		t.Fatalf("READY: %v", ready)
	}
	if gs, _ := ready["guilds"].([]any); len(gs) != 0 {
		t.Fatalf("READY guilds of a new bot: %v", gs)
	}

	e.authorizeBot(t, g, bot, "3072")
	gc := bc.dispatch("GUILD_CREATE").data(t)
	if gc["id"] != g.id {
		t.Fatalf("bot's GUILD_CREATE: %v", gc)
	}
	var managed map[string]any
	for _, r := range gc["roles"].([]any) {
		if r := r.(map[string]any); r["managed"] == true {
			managed = r
		}
	}
	if managed == nil || managed["permissions"] != "3072" || managed["tags"].(map[string]any)["bot_id"] != bot.id {
		t.Fatalf("GUILD_CREATE roles lack the managed role: %v", gc["roles"])
	}
	role := oc.dispatch("GUILD_ROLE_CREATE", "GUILD_ROLE_UPDATE").data(t)
	if role["role"].(map[string]any)["id"] != managed["id"] {
		t.Fatalf("GUILD_ROLE_CREATE: %v", role)
	}
	add := oc.dispatch("GUILD_MEMBER_ADD", "GUILD_ROLE_UPDATE").data(t)
	if add["user"].(map[string]any)["id"] != bot.id || add["guild_id"] != g.id {
		t.Fatalf("GUILD_MEMBER_ADD: %v", add)
	}

	// The bot hears guild messages with their content (MESSAGE_CONTENT).
	e.send(t, owner, g.general, "hello bot")
	if m := bc.dispatch("MESSAGE_CREATE").data(t); m["content"] != "hello bot" {
		t.Fatalf("bot's MESSAGE_CREATE: %v", m)
	}

	// Reset: the old token is refused at Identify (4004), the new works.
	r := expect(t, e.do(t, "POST", "/api/v10/applications/"+bot.id+"/bot/reset", dev.auth(), nil), 200)
	fresh := r.body["token"].(string)
	old := e.connect(t)
	sendIdentify(old, "Bot "+bot.access, map[string]any{"intents": IntentGuilds})
	old.expectClose(4004)
	nc := e.connect(t)
	if d := nc.identify("Bot "+fresh, map[string]any{"intents": IntentGuilds}).data(t); d["user"].(map[string]any)["id"] != bot.id {
		t.Fatalf("READY with the new token: %v", d)
	}
	if d := nc.dispatch("GUILD_CREATE").data(t); d["id"] != g.id {
		t.Fatalf("GUILD_CREATE with the new token: %v", d)
	}
}

// TestBotPrivilegedIntentFlags: turning an application's message content
// flag off makes an Identify with MESSAGE_CONTENT fail with 4014, and
// turning it on again lets it through.
func TestBotPrivilegedIntentFlags(t *testing.T) {
	e := testEnv(t)
	bot, dev := e.application(t)
	expect(t, e.do(t, "PATCH", "/api/v10/applications/"+bot.id, dev.auth(), map[string]any{"flags": 1<<13 | 1<<15}), 200)

	c := e.connect(t)
	sendIdentify(c, "Bot "+bot.access, map[string]any{"intents": IntentGuilds | IntentMessageContent})
	c.expectClose(4014)

	// The other privileged intents are still allowed.
	ok := e.connect(t)
	ready := ok.identify("Bot "+bot.access, map[string]any{"intents": IntentGuilds | IntentGuildMembers | IntentGuildPresences}).data(t)
	if ready["application"].(map[string]any)["flags"] != float64(1<<13|1<<15) {
		t.Fatalf("READY application flags: %v", ready["application"])
	}

	expect(t, e.do(t, "PATCH", "/api/v10/applications/"+bot.id, dev.auth(), map[string]any{"flags": 1 << 19}), 200)
	again := e.connect(t)
	again.identify("Bot "+bot.access, map[string]any{"intents": IntentGuilds | IntentMessageContent})
	c2 := e.connect(t)
	sendIdentify(c2, "Bot "+bot.access, map[string]any{"intents": IntentGuilds | IntentGuildMembers})
	c2.expectClose(4014)
}

// TestSessionStartLimit: a bot's Identifies count against its session start
// limit, which GET /gateway/bot reports; past it, Identify closes with 4008.
func TestSessionStartLimit(t *testing.T) {
	e := testEnv(t)
	bot := e.bot(t)
	limit := func() map[string]any {
		r := expect(t, e.do(t, "GET", "/api/v10/gateway/bot", "Bot "+bot.access, nil), 200)
		return r.body["session_start_limit"].(map[string]any)
	}
	if l := limit(); l["total"] != 1000.0 || l["remaining"] != 1000.0 || l["reset_after"] != 86400000.0 {
		t.Fatalf("a new bot's limit: %v", l)
	}
	c := e.connect(t)
	c.identify("Bot "+bot.access, map[string]any{"intents": 1})
	l := limit()
	if l["remaining"] != 999.0 || l["reset_after"].(float64) > 86400000 || l["reset_after"].(float64) < 86400000-60000 {
		t.Fatalf("after one Identify: %v", l)
	}
	id, _ := strconv.ParseInt(bot.id, 10, 64)
	for range 999 {
		if ok, _, err := e.store.StartSession(context.Background(), id, persistence.SessionStartLimit); err != nil || !ok {
			t.Fatalf("start %v %v", ok, err)
		}
	}
	if l := limit(); l["remaining"] != 0.0 {
		t.Fatalf("after 1000: %v", l)
	}
	c2 := e.connect(t)
	c2.send(opIdentify, map[string]any{"token": "Bot " + bot.access, "intents": 1, "properties": map[string]string{}})
	c2.expectClose(4008)
	// A person is not limited.
	p := e.register(t)
	if l := func() map[string]any {
		r := expect(t, e.do(t, "GET", "/api/v10/gateway/bot", p.auth(), nil), 200)
		return r.body["session_start_limit"].(map[string]any)
	}(); l["remaining"] != 1000.0 {
		t.Fatalf("a person's limit: %v", l)
	}
}
