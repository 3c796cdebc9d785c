package gateway

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHelloAndHeartbeat(t *testing.T) {
	e := testEnv(t)
	c := dial(t, e.wsURL+"/?v=9&encoding=json") // discordgo's form, trailing slash
	hello := c.expectOp(opHello)
	if got := string(hello.D); !strings.Contains(got, `"heartbeat_interval":41250,`) {
		t.Fatalf("hello d: %s", got)
	}
	if hello.S != nil || hello.T != nil {
		t.Fatalf("hello carries t/s: %+v", hello)
	}
	// Heartbeats are answered before Identify, with d null or a number.
	c.sendRaw([]byte(`{"op":1,"d":null}`))
	c.expectOp(opHeartbeatACK)
	c.send(opHeartbeat, 42)
	c.expectOp(opHeartbeatACK)
	c.sendRaw([]byte(`{"op":1}`))
	c.expectOp(opHeartbeatACK)
}

func TestIdentifyReadyAndGuildCreate(t *testing.T) {
	e := testEnv(t)
	owner, member := e.register(t), e.register(t)
	g1 := e.createGuild(t, owner, "Ready One")
	g2 := e.createGuild(t, owner, "Ready Two")
	e.join(t, g1, member)

	c := e.connect(t)
	ready := c.identify("Bot "+owner.access, map[string]any{"intents": 33281, "large_threshold": 250})
	if *ready.S != 1 {
		t.Fatalf("READY s %d", *ready.S)
	}
	d := ready.data(t)
	user := d["user"].(map[string]any)
	if d["v"] != 10.0 || user["id"] != owner.id || user["email"] != owner.username+"@example.com" || user["verified"] == nil ||
		user["bot"] != false || d["session_type"] != "normal" || d["session_id"] == "" ||
		d["resume_gateway_url"] != e.wsURL {
		t.Fatalf("READY: %s", ready.D)
	}
	app := d["application"].(map[string]any)
	if app["id"] != owner.id || app["flags"] != 0.0 {
		t.Fatalf("application: %v", app)
	}
	for _, k := range []string{"private_channels", "relationships", "guild_join_requests"} {
		if _, ok := d[k].([]any); !ok {
			t.Fatalf("READY %s is not an array: %s", k, ready.D)
		}
	}
	guilds := d["guilds"].([]any)
	if len(guilds) != 2 || guilds[0].(map[string]any)["unavailable"] != true {
		t.Fatalf("READY guilds: %v", guilds)
	}
	seen := map[string]map[string]any{}
	for i := range 2 {
		m := c.dispatch("GUILD_CREATE")
		if *m.S != int64(2+i) {
			t.Fatalf("GUILD_CREATE s %d", *m.S)
		}
		gd := m.data(t)
		seen[gd["id"].(string)] = gd
	}
	gd := seen[g1.id]
	if gd == nil || seen[g2.id] == nil {
		t.Fatalf("GUILD_CREATEs for %v, want %s and %s", seen, g1.id, g2.id)
	}
	if gd["member_count"] != 2.0 || gd["large"] != false || gd["unavailable"] != false || gd["joined_at"] == nil {
		t.Fatalf("GUILD_CREATE: %v", gd)
	}
	for _, k := range []string{"voice_states", "threads", "emojis", "stickers", "stage_instances", "guild_scheduled_events"} {
		if l, ok := gd[k].([]any); !ok || len(l) != 0 {
			t.Fatalf("%s: %v", k, gd[k])
		}
	}
	chans := gd["channels"].([]any)
	if len(chans) != 4 {
		t.Fatalf("channels: %v", chans)
	}
	for _, ch := range chans {
		if ch.(map[string]any)["guild_id"] != g1.id {
			t.Fatalf("channel without guild_id: %v", ch)
		}
	}
	role := gd["roles"].([]any)[0].(map[string]any)
	if _, ok := role["permissions"].(string); !ok {
		t.Fatalf("role permissions not a string: %v", role)
	}
	members := gd["members"].([]any)
	if len(members) != 2 {
		t.Fatalf("members: %v", members)
	}
	for _, m := range members {
		if u, ok := m.(map[string]any)["user"].(map[string]any); !ok || u["id"] == nil {
			t.Fatalf("member without user: %v", m)
		}
	}
	presences := gd["presences"].([]any)
	if len(presences) != 1 || presences[0].(map[string]any)["status"] != "online" ||
		presences[0].(map[string]any)["user"].(map[string]any)["id"] != owner.id {
		t.Fatalf("presences: %v", presences)
	}
}

func TestMessageCreateReachesViewersOnly(t *testing.T) {
	e := testEnv(t)
	owner, member, lurker := e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Fan-out")
	e.join(t, g, member)
	e.join(t, g, lurker)
	e.hide(t, g, g.general, lurker)
	open := e.createChannel(t, g, "open")

	skip := []string{"GUILD_CREATE", "PRESENCE_UPDATE", "CHANNEL_CREATE", "GUILD_MEMBER_ADD"}
	clients := map[string]*client{}
	for _, a := range []account{owner, member, lurker} {
		c := e.connect(t)
		c.identify(a.access, nil)
		clients[a.id] = c
	}
	// A second session of the sender gets its own message too.
	second := e.connect(t)
	second.identify(owner.access, nil)

	id := e.send(t, member, g.general, "hello viewers")
	for name, c := range map[string]*client{"owner": clients[owner.id], "member": clients[member.id], "owner's second": second} {
		m := c.dispatch("MESSAGE_CREATE", skip...)
		d := m.data(t)
		if d["id"] != id || d["guild_id"] != g.id || d["content"] != "hello viewers" || d["member"] == nil {
			t.Fatalf("%s got %s", name, m.D)
		}
	}
	// The lurker's next message event is the one in the channel it sees.
	id2 := e.send(t, owner, open, "everyone sees this")
	m := clients[lurker.id].dispatch("MESSAGE_CREATE", skip...)
	if m.data(t)["id"] != id2 {
		t.Fatalf("lurker got %s, want only %s", m.D, id2)
	}
}

func TestIntentsFilterEvents(t *testing.T) {
	e := testEnv(t)
	owner := e.register(t)
	g := e.createGuild(t, owner, "Intents")
	c := e.connect(t)
	c.identify(owner.access, map[string]any{"intents": IntentGuilds})
	c.dispatch("GUILD_CREATE")
	e.send(t, owner, g.general, "not for you")
	chID := e.createChannel(t, g, "after")
	// Without GUILD_MESSAGES the next dispatch is the CHANNEL_CREATE.
	m := c.next(5 * time.Second)
	if m.typ() != "CHANNEL_CREATE" || m.data(t)["id"] != chID {
		t.Fatalf("got %s %s, want CHANNEL_CREATE", m.typ(), m.D)
	}
}

func TestGuildCreateOnJoin(t *testing.T) {
	e := testEnv(t)
	owner, joiner := e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Joinable")
	c := e.connect(t)
	c.identify(joiner.access, nil)
	e.join(t, g, joiner)
	m := c.dispatch("GUILD_CREATE", "PRESENCE_UPDATE")
	d := m.data(t)
	if d["id"] != g.id || len(d["channels"].([]any)) == 0 || len(d["members"].([]any)) != 2 || d["joined_at"] == nil {
		t.Fatalf("GUILD_CREATE on join: %s", m.D)
	}
}

func TestMessageContentGatingForBots(t *testing.T) {
	e := testEnv(t)
	owner, bot := e.register(t), e.bot(t)
	g := e.createGuild(t, owner, "Bots")
	e.join(t, g, bot)
	c := e.connect(t)
	c.identify(bot.access, map[string]any{"intents": IntentGuilds | IntentGuildMessages})
	c.dispatch("GUILD_CREATE")
	e.send(t, owner, g.general, "secret plans")
	m := c.dispatch("MESSAGE_CREATE")
	if d := m.data(t); d["content"] != "" || d["author"].(map[string]any)["id"] != owner.id {
		t.Fatalf("gated message: %s", m.D)
	}
	e.send(t, owner, g.general, "hey <@"+bot.id+"> look")
	m = c.dispatch("MESSAGE_CREATE")
	if d := m.data(t); d["content"] != "hey <@"+bot.id+"> look" {
		t.Fatalf("mentioning message: %s", m.D)
	}
	e.send(t, bot, g.general, "my own words")
	m = c.dispatch("MESSAGE_CREATE")
	if d := m.data(t); d["content"] != "my own words" {
		t.Fatalf("own message: %s", m.D)
	}
	// With MESSAGE_CONTENT the content comes through.
	c2 := e.connect(t)
	c2.identify(bot.access, map[string]any{"intents": IntentGuilds | IntentGuildMessages | IntentMessageContent})
	c2.dispatch("GUILD_CREATE")
	e.send(t, owner, g.general, "open plans")
	if d := c2.dispatch("MESSAGE_CREATE").data(t); d["content"] != "open plans" {
		t.Fatalf("with MESSAGE_CONTENT: %v", d)
	}
}

// closeCase provokes one close code.
type closeCase struct {
	name string
	code int
	url  string // query, default ?v=10&encoding=json
	run  func(t *testing.T, e *env, c *client, a account)
}

func TestCloseCodes(t *testing.T) {
	e := testEnv(t)
	identify := func(c *client, tok string, extra map[string]any) {
		d := map[string]any{"token": tok, "properties": map[string]string{}}
		for k, v := range extra {
			d[k] = v
		}
		c.send(opIdentify, d)
	}
	cases := []closeCase{
		{name: "unknown opcode", code: 4001, run: func(t *testing.T, e *env, c *client, a account) {
			c.send(99, nil)
		}},
		{name: "unknown opcode after identify", code: 4001, run: func(t *testing.T, e *env, c *client, a account) {
			c.identify(a.access, nil)
			c.send(5, nil)
		}},
		{name: "not JSON", code: 4002, run: func(t *testing.T, e *env, c *client, a account) {
			c.sendRaw([]byte(`{"op":1,`))
		}},
		{name: "no op", code: 4002, run: func(t *testing.T, e *env, c *client, a account) {
			c.sendRaw([]byte(`{"d":null}`))
		}},
		{name: "identify d not an object", code: 4002, run: func(t *testing.T, e *env, c *client, a account) {
			c.sendRaw([]byte(`{"op":2,"d":"token"}`))
		}},
		{name: "binary frame", code: 4002, run: func(t *testing.T, e *env, c *client, a account) {
			if err := writeClientBinary(c, []byte(`{"op":1,"d":null}`)); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "payload over 4096 bytes", code: 4002, run: func(t *testing.T, e *env, c *client, a account) {
			c.sendRaw([]byte(`{"op":1,"d":null,"pad":"` + strings.Repeat("x", 4100) + `"}`))
		}},
		{name: "presence before identify", code: 4003, run: func(t *testing.T, e *env, c *client, a account) {
			c.send(opPresenceUpdate, map[string]any{"status": "idle"})
		}},
		{name: "members before identify", code: 4003, run: func(t *testing.T, e *env, c *client, a account) {
			c.send(opRequestGuildMembers, map[string]any{"guild_id": "1", "query": ""})
		}},
		{name: "bad token", code: 4004, run: func(t *testing.T, e *env, c *client, a account) {
			identify(c, "Bot not-a-token", nil)
		}},
		{name: "identify twice", code: 4005, run: func(t *testing.T, e *env, c *client, a account) {
			c.identify(a.access, nil)
			identify(c, a.access, nil)
		}},
		{name: "resume after identify", code: 4005, run: func(t *testing.T, e *env, c *client, a account) {
			r := c.identify(a.access, nil).data(t)
			c.send(opResume, map[string]any{"token": a.access, "session_id": r["session_id"], "seq": 1})
		}},
		{name: "resume with a seq never reached", code: 4007, run: func(t *testing.T, e *env, c *client, a account) {
			first := e.connect(t)
			r := first.identify(a.access, nil).data(t)
			c.send(opResume, map[string]any{"token": a.access, "session_id": r["session_id"], "seq": 1000})
		}},
		{name: "rate limited", code: 4008, run: func(t *testing.T, e *env, c *client, a account) {
			for range 121 {
				c.send(opHeartbeat, nil)
			}
		}},
		{name: "invalid shard", code: 4010, run: func(t *testing.T, e *env, c *client, a account) {
			identify(c, a.access, map[string]any{"shard": []int{1, 1}})
		}},
		{name: "invalid API version", code: 4012, url: "?v=5&encoding=json"},
		{name: "unknown intent bits", code: 4013, run: func(t *testing.T, e *env, c *client, a account) {
			identify(c, a.access, map[string]any{"intents": 1 << 30})
		}},
		{name: "bot without intents", code: 4013, run: func(t *testing.T, e *env, c *client, a account) {
			identify(c, e.bot(t).access, nil)
		}},
		{name: "privileged intent not granted", code: 4014, run: func(t *testing.T, e *env, c *client, a account) {
			b, owner := e.application(t)
			// Only the presence flag stays: GUILD_MEMBERS is not allowed.
			expect(t, e.do(t, "PATCH", "/api/v10/applications/"+b.id, owner.auth(), map[string]any{"flags": 1 << 13}), 200)
			identify(c, "Bot "+b.access, map[string]any{"intents": IntentGuilds | IntentGuildMembers})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := e.register(t)
			q := tc.url
			if q == "" {
				q = "?v=10&encoding=json"
			}
			c := dial(t, e.wsURL+q)
			c.expectOp(opHello)
			if tc.run != nil {
				tc.run(t, e, c, a)
			}
			c.expectClose(tc.code)
			// The server closes the TCP connection once the client
			// answered its close frame.
			if _, err := c.read(time.Second); err == nil || isTimeout(err) {
				t.Fatalf("connection not closed after the close handshake: %v", err)
			}
		})
	}
}

func TestHeartbeatTimeoutCloses4009(t *testing.T) {
	e := testEnv(t)
	_, url := e.extraServer(t, func(c *Config) {
		c.HeartbeatInterval = 300 * time.Millisecond
		c.HeartbeatGrace = 200 * time.Millisecond
	})
	c := dial(t, url+"?v=10&encoding=json")
	if !strings.Contains(string(c.expectOp(opHello).D), `"heartbeat_interval":300,`) {
		t.Fatal("hello interval")
	}
	c.send(opHeartbeat, nil)
	c.expectOp(opHeartbeatACK)
	start := time.Now()
	c.expectClose(4009)
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Fatalf("closed after %v, before interval + grace", d)
	}
}

func TestUpgradeRefusals(t *testing.T) {
	e := testEnv(t)
	for _, q := range []string{"?v=10&encoding=etf", "?v=10&encoding=json&compress=zstd-stream"} {
		res, err := http.Get(e.url + "/gateway" + q)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("%s: status %d", q, res.StatusCode)
		}
	}
}

func TestGatewayDiscovery(t *testing.T) {
	e := testEnv(t)
	a := e.register(t)
	for _, v := range []string{"9", "10"} {
		r := expect(t, e.do(t, "GET", "/api/v"+v+"/gateway", "", nil), 200)
		if r.body["url"] != e.wsURL || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("/gateway: %s", r.raw)
		}
		expect(t, e.do(t, "GET", "/api/v"+v+"/gateway/bot", "", nil), 401)
		r = expect(t, e.do(t, "GET", "/api/v"+v+"/gateway/bot", "Bot "+a.access, nil), 200)
		limit := r.body["session_start_limit"].(map[string]any)
		if r.body["url"] != e.wsURL || r.body["shards"] != 1.0 || limit["max_concurrency"] != 1.0 ||
			limit["remaining"].(float64) < 1 || limit["total"] == nil || limit["reset_after"] == nil {
			t.Fatalf("/gateway/bot: %s", r.raw)
		}
	}
}

func TestZlibStream(t *testing.T) {
	e := testEnv(t)
	owner := e.register(t)
	g := e.createGuild(t, owner, "Compressed")
	c := dial(t, e.wsURL+"?v=10&encoding=json&compress=zlib-stream")
	c.zlib = true
	c.expectOp(opHello)
	c.identify(owner.access, nil)
	c.dispatch("GUILD_CREATE")
	c.send(opHeartbeat, nil)
	c.expectOp(opHeartbeatACK)
	id := e.send(t, owner, g.general, "squeezed")
	if d := c.dispatch("MESSAGE_CREATE").data(t); d["id"] != id {
		t.Fatalf("MESSAGE_CREATE %v", d)
	}
}

func TestRequestGuildMembers(t *testing.T) {
	e := testEnv(t)
	owner, member := e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Members")
	e.join(t, g, member)
	c := e.connect(t)
	c.identify(owner.access, nil)
	c.dispatch("GUILD_CREATE")
	c.send(opRequestGuildMembers, map[string]any{"guild_id": g.id, "query": "", "limit": 0, "nonce": "n1", "presences": true})
	m := c.dispatch("GUILD_MEMBERS_CHUNK", "PRESENCE_UPDATE", "GUILD_MEMBER_ADD")
	d := m.data(t)
	if d["guild_id"] != g.id || d["nonce"] != "n1" || d["chunk_index"] != 0.0 || d["chunk_count"] != 1.0 ||
		len(d["members"].([]any)) != 2 || len(d["presences"].([]any)) != 1 {
		t.Fatalf("chunk: %s", m.D)
	}
	c.send(opRequestGuildMembers, map[string]any{"guild_id": g.id, "user_ids": []string{member.id, "12345"}, "nonce": "n2"})
	d = c.dispatch("GUILD_MEMBERS_CHUNK", "PRESENCE_UPDATE").data(t)
	nf := d["not_found"].([]any)
	if d["nonce"] != "n2" || len(d["members"].([]any)) != 1 || len(nf) != 1 || nf[0] != "12345" {
		t.Fatalf("chunk by ids: %v", d)
	}
	c.send(opRequestGuildMembers, map[string]any{"guild_id": g.id, "query": member.username[:5], "limit": 1})
	d = c.dispatch("GUILD_MEMBERS_CHUNK", "PRESENCE_UPDATE").data(t)
	if ms := d["members"].([]any); len(ms) != 1 || d["nonce"] != nil {
		t.Fatalf("chunk by query: %v", d)
	}
}

func TestPresenceOnlineIdleOffline(t *testing.T) {
	e := testEnv(t)
	watcher, user := e.register(t), e.register(t)
	g := e.createGuild(t, watcher, "Presence")
	e.join(t, g, user)
	w := e.connect(t)
	w.identify(watcher.access, nil)
	w.dispatch("GUILD_CREATE")

	presenceOf := func(status string) {
		t.Helper()
		for {
			m := w.dispatch("PRESENCE_UPDATE")
			d := m.data(t)
			if d["user"].(map[string]any)["id"] != user.id {
				continue
			}
			if d["status"] != status || d["guild_id"] != g.id {
				t.Fatalf("presence %s, want %s: %s", d["status"], status, m.D)
			}
			return
		}
	}
	u := e.connect(t)
	u.identify(user.access, map[string]any{"presence": map[string]any{"status": "online", "activities": []any{}, "since": nil, "afk": false}})
	presenceOf("online")
	u.send(opPresenceUpdate, map[string]any{"status": "idle", "since": 0, "activities": []any{map[string]any{"name": "chess", "type": 0}}, "afk": true})
	presenceOf("idle")
	u.send(opPresenceUpdate, map[string]any{"status": "invisible", "since": 0, "activities": []any{}, "afk": false})
	presenceOf("offline")
	u.send(opPresenceUpdate, map[string]any{"status": "dnd", "since": 0, "activities": []any{}, "afk": false})
	presenceOf("dnd")
	_ = u.nc.Close()
	presenceOf("offline")
}

func TestResumeReplaysMissedEventsInOrder(t *testing.T) {
	e := testEnv(t)
	owner := e.register(t)
	g := e.createGuild(t, owner, "Resume")
	c := e.connect(t)
	ready := c.identify(owner.access, nil).data(t)
	last := *c.dispatch("GUILD_CREATE").S
	sessionID := ready["session_id"].(string)

	// The TCP connection drops without a close frame.
	_ = c.nc.Close()
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		ss := e.gw.sessions.get(sessionID)
		ss.mu.Lock()
		defer ss.mu.Unlock()
		if ss.conn != nil {
			return fmt.Errorf("session still attached")
		}
		return nil
	})
	var ids []string
	for i := range 3 {
		ids = append(ids, e.send(t, owner, g.general, fmt.Sprint("missed ", i)))
	}
	r := e.connect(t)
	r.send(opResume, map[string]any{"token": "Bot " + owner.access, "session_id": sessionID, "seq": last})
	want := last
	var got []string
	for {
		m := r.next(5 * time.Second)
		if m.Op != opDispatch {
			t.Fatalf("op %d %s", m.Op, m.D)
		}
		want++
		if *m.S != want {
			t.Fatalf("%s with s %d, want %d", m.typ(), *m.S, want)
		}
		if m.typ() == "RESUMED" {
			break
		}
		if m.typ() == "MESSAGE_CREATE" {
			got = append(got, m.data(t)["id"].(string))
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(ids) {
		t.Fatalf("replayed %v, want %v", got, ids)
	}
	// Live events continue the sequence (the user's own presence update
	// may come first).
	id := e.send(t, owner, g.general, "live again")
	for {
		m := r.next(5 * time.Second)
		if m.Op != opDispatch || *m.S != want+1 {
			t.Fatalf("after resume: op %d %s s %v, want s %d", m.Op, m.typ(), m.S, want+1)
		}
		want++
		if m.typ() == "MESSAGE_CREATE" {
			if m.data(t)["id"] != id {
				t.Fatalf("live after resume: %s", m.D)
			}
			break
		}
	}
}

func TestResumeInvalidSession(t *testing.T) {
	e := testEnv(t)
	owner, other := e.register(t), e.register(t)
	c := e.connect(t)
	ready := c.identify(owner.access, nil).data(t)
	sessionID := ready["session_id"].(string)

	expectInvalid := func(r *client) {
		t.Helper()
		m := r.expectOp(opInvalidSession)
		if string(m.D) != "false" {
			t.Fatalf("op 9 d %s", m.D)
		}
	}
	// Unknown session.
	r := e.connect(t)
	r.send(opResume, map[string]any{"token": owner.access, "session_id": "no-such-session", "seq": 1})
	expectInvalid(r)
	// The client may identify on the same connection afterwards (discordgo does).
	r.identify(owner.access, nil)

	// Someone else's session.
	r2 := e.connect(t)
	r2.send(opResume, map[string]any{"token": other.access, "session_id": sessionID, "seq": 1})
	expectInvalid(r2)

	// Past the replay buffer.
	_ = c.nc.Close()
	for range e.gw.cfg.ReplayLimit + 1 {
		e.gw.Publish(eventTo(0, "TYPING_START", `{"x":1}`, owner.idInt()))
	}
	e.gw.fan.syncAll() // Publish returns before the workers deliver
	r3 := e.connect(t)
	r3.send(opResume, map[string]any{"token": owner.access, "session_id": sessionID, "seq": 1})
	expectInvalid(r3)
}

func TestSlowReaderIsCutWithoutSlowingOthers(t *testing.T) {
	e := testEnv(t)
	slow, fast := e.register(t), e.register(t)
	s, url := e.extraServer(t, func(c *Config) {
		c.QueueLimit = 64
		c.WriteTimeout = 500 * time.Millisecond
		c.CloseGrace = 200 * time.Millisecond
	})
	sc := dial(t, url+"?v=10")
	sc.expectOp(opHello)
	slowSession := sc.identify(slow.access, nil).data(t)["session_id"].(string)
	fc := dial(t, url+"?v=10")
	fc.expectOp(opHello)
	fc.identify(fast.access, nil)

	var received atomic.Int64
	readerDone := make(chan error, 1)
	go func() {
		for {
			m, err := fc.read(10 * time.Second)
			if err != nil || m.Op == -1 {
				readerDone <- fmt.Errorf("fast reader stopped: %v (close %d)", err, m.Close)
				return
			}
			if m.typ() == "TYPING_START" {
				received.Add(1)
			}
		}
	}()
	// The slow client reads nothing: its socket buffers fill, then its
	// queue. Publishing keeps at most a few events ahead of the fast
	// reader, which must get every one.
	payload := `{"content":"` + strings.Repeat("y", 16000) + `"}`
	published := int64(0)
	for s.slowClosed.Load() == 0 {
		if published == 20000 {
			t.Fatal("the slow reader was never cut")
		}
		for published-received.Load() > 16 {
			select {
			case err := <-readerDone:
				t.Fatal(err)
			default:
				time.Sleep(50 * time.Microsecond)
			}
		}
		s.Publish(eventTo(0, "TYPING_START", payload, slow.idInt(), fast.idInt()))
		published++
	}
	checkFor(t, 5*time.Second, 5*time.Millisecond, func() error {
		if n := received.Load(); n != published {
			return fmt.Errorf("fast reader got %d of %d", n, published)
		}
		return nil
	})
	// The slow connection is gone; its session stays for resuming.
	checkFor(t, 5*time.Second, 10*time.Millisecond, func() error {
		if s.Connections() != 1 {
			return fmt.Errorf("%d connections", s.Connections())
		}
		if s.sessions.get(slowSession) == nil {
			return fmt.Errorf("slow session dropped")
		}
		return nil
	})
	t.Logf("slow reader cut after %d events of %d bytes", published, len(payload))
}

func TestDrainSendsReconnect(t *testing.T) {
	e := testEnv(t)
	a := e.register(t)
	s, url := e.extraServer(t, func(*Config) {})
	c := dial(t, url+"?v=10")
	c.expectOp(opHello)
	c.identify(a.access, nil)
	done := make(chan struct{})
	go func() {
		ctx, cancel := contextWithTimeout(5 * time.Second)
		defer cancel()
		s.Drain(ctx)
		close(done)
	}()
	c.expectOp(opReconnect)
	// The client closes, as discord.js does before resuming.
	_ = writeClientClose(c, 4200)
	c.expectClose(4200)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Drain did not return after the client left")
	}
	res, err := http.Get("http" + strings.TrimPrefix(url, "ws") + "?v=10")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("upgrade while draining: %d", res.StatusCode)
	}
}

func TestGoroutinesPerIdleConnection(t *testing.T) {
	e := testEnv(t)
	a := e.register(t)
	const n = 200
	type sample struct {
		goroutines  int
		heap, stack uint64
	}
	settle := func() sample {
		time.Sleep(200 * time.Millisecond)
		// Stacks shrink by half per collection once mostly unused.
		for range 4 {
			runtime.GC()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return sample{runtime.NumGoroutine(), ms.HeapInuse, ms.StackInuse}
	}
	before := settle()
	clients := make([]*client, 0, n)
	for range n {
		c := e.connect(t)
		c.identify(a.access, nil)
		clients = append(clients, c)
	}
	after := settle()
	per := float64(after.goroutines-before.goroutines) / n
	// The test's clients hold a socket and a bufio.Reader each, so the
	// memory figure is an upper bound of the server's share.
	t.Logf("per idle identified connection: %.2f goroutines, %.1f KiB heap, %.1f KiB stacks (server and test client)",
		per, float64(after.heap-before.heap)/n/1024, float64(after.stack-before.stack)/n/1024)
	// Idle connections are parked with the poller (Linux); elsewhere
	// each keeps its reader.
	limit := 0.1
	if runtime.GOOS != "linux" {
		limit = 1.1
	}
	if per > limit {
		t.Fatalf("%.2f goroutines per idle connection", per)
	}
	runtime.KeepAlive(clients)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestDirectMessages(t *testing.T) {
	e := testEnv(t)
	a, b := e.register(t), e.register(t)
	g := e.createGuild(t, a, "Common ground")
	e.join(t, g, b)
	bc := e.connect(t)
	bc.identify(b.access, nil)
	bc.dispatch("GUILD_CREATE")
	dm := expect(t, e.do(t, "POST", "/api/v10/users/@me/channels", a.auth(), map[string]any{"recipient_id": b.id}), 200)
	dmID := dm.body["id"].(string)
	id := e.send(t, a, dmID, "psst")
	m := bc.dispatch("MESSAGE_CREATE", "CHANNEL_CREATE")
	if d := m.data(t); d["id"] != id || d["guild_id"] != nil || d["channel_id"] != dmID {
		t.Fatalf("DM MESSAGE_CREATE: %s", m.D)
	}
	// A new session lists the DM in READY, and a session without
	// DIRECT_MESSAGES does not get DM messages.
	c := e.connect(t)
	ready := c.identify(b.access, map[string]any{"intents": IntentGuilds | IntentGuildMessages}).data(t)
	found := false
	for _, ch := range ready["private_channels"].([]any) {
		found = found || ch.(map[string]any)["id"] == dmID
	}
	if !found {
		t.Fatalf("private_channels %v lack %s", ready["private_channels"], dmID)
	}
	c.dispatch("GUILD_CREATE")
	e.send(t, a, dmID, "not for this session")
	id2 := e.send(t, a, g.general, "guild message")
	if d := c.dispatch("MESSAGE_CREATE").data(t); d["id"] != id2 {
		t.Fatalf("session without DIRECT_MESSAGES got %v", d)
	}
}

// TestGuildCreateListsWhoIsOnline: a large guild's GUILD_CREATE lists its
// online members and the member itself (as Discord), and every GUILD_CREATE,
// the one sent on joining included, carries the presences of the listed
// members who are online.
func TestGuildCreateListsWhoIsOnline(t *testing.T) {
	e := testEnv(t)
	owner := e.register(t)
	g := e.createGuild(t, owner, "Large")
	var members []account
	for range 51 {
		m := e.register(t)
		e.join(t, g, m)
		members = append(members, m)
	}
	idle := e.connect(t)
	idle.identify(members[0].access, map[string]any{"presence": map[string]any{"status": "idle", "afk": false}})

	c := e.connect(t)
	c.identify(owner.access, map[string]any{"large_threshold": 50})
	gd := c.dispatch("GUILD_CREATE", "PRESENCE_UPDATE").data(t)
	if gd["large"] != true || gd["member_count"] != 52.0 {
		t.Fatalf("large %v, member_count %v", gd["large"], gd["member_count"])
	}
	listed := map[string]bool{}
	for _, m := range gd["members"].([]any) {
		listed[m.(map[string]any)["user"].(map[string]any)["id"].(string)] = true
	}
	if len(listed) != 2 || !listed[owner.id] || !listed[members[0].id] {
		t.Fatalf("a large guild listed %v, want the owner and the online member", listed)
	}
	statuses := map[string]string{}
	for _, p := range gd["presences"].([]any) {
		pm := p.(map[string]any)
		statuses[pm["user"].(map[string]any)["id"].(string)] = pm["status"].(string)
	}
	if len(statuses) != 2 || statuses[owner.id] != "online" || statuses[members[0].id] != "idle" {
		t.Fatalf("presences %v", statuses)
	}

	// Joining while connected: the GUILD_CREATE of the join lists the
	// presences too.
	late := e.register(t)
	lc := e.connect(t)
	lc.identify(late.access, nil)
	e.join(t, g, late)
	jd := lc.dispatch("GUILD_CREATE", "PRESENCE_UPDATE").data(t)
	statuses = map[string]string{}
	for _, p := range jd["presences"].([]any) {
		pm := p.(map[string]any)
		statuses[pm["user"].(map[string]any)["id"].(string)] = pm["status"].(string)
	}
	if statuses[owner.id] != "online" || statuses[members[0].id] != "idle" || statuses[late.id] != "online" {
		t.Fatalf("join-time presences %v", statuses)
	}
}
