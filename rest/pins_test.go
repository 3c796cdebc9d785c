package rest_test

import (
	"net/url"
	"strconv"
	"testing"
)

func TestPins(t *testing.T) {
	e := testEnv(t)
	owner, member := e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Pins")
	e.join(t, g, member)
	lurker := e.rxHider(t, g)
	m1, m2 := e.rxSend(t, member, g.general, "one"), e.rxSend(t, member, g.general, "two")
	pins := "/api/v10/channels/" + g.general + "/pins"

	// Pinning takes MANAGE_MESSAGES or PIN_MESSAGES.
	expect(t, e.do(t, "PUT", pins+"/"+m1, auth(member), nil), 403, 50013)
	pinner := e.mbRole(t, g, owner, map[string]any{"name": "pinner", "permissions": strconv.FormatUint(permPinMessages, 10)})
	e.mbGive(t, g, owner, member.id, pinner["id"].(string))
	updates, edits := since(t, "CHANNEL_PINS_UPDATE", g.general), since(t, "MESSAGE_UPDATE", g.general)
	expect(t, e.do(t, "PUT", pins+"/"+m1, auth(member), nil), 204, -1)
	wantRecipients(t, "CHANNEL_PINS_UPDATE", updates(), owner, member)
	ev := rxData(t, updates()[0].Data)
	if ev["guild_id"] != g.id || ev["channel_id"] != g.general || ev["last_pin_timestamp"] == nil {
		t.Fatalf("CHANNEL_PINS_UPDATE: %v", ev)
	}
	wantRecipients(t, "MESSAGE_UPDATE", edits(), owner, member)
	if ev := rxData(t, edits()[0].Data); ev["id"] != m1 || ev["pinned"] != true || ev["guild_id"] != g.id {
		t.Fatalf("MESSAGE_UPDATE of a pin: %v", ev)
	}
	// Pinning again changes nothing and says nothing.
	expect(t, e.do(t, "PUT", pins+"/"+m1, auth(member), nil), 204, -1)
	if len(updates()) != 1 {
		t.Fatal("a repeated pin emitted an event")
	}
	// MANAGE_MESSAGES works too (the owner has every permission).
	expect(t, e.do(t, "PUT", "/api/v10/channels/"+g.general+"/messages/pins/"+m2, auth(owner), nil), 204, -1)

	// Newest pin first; history shows the flag.
	list := e.list(t, "GET", pins, member, 200)
	if len(list) != 2 || list[0]["id"] != m2 || list[1]["id"] != m1 || list[0]["pinned"] != true {
		t.Fatalf("pins: %v", list)
	}
	hist := e.list(t, "GET", "/api/v10/channels/"+g.general+"/messages", member, 200)
	for _, m := range hist {
		if m["pinned"] != (m["id"] == m1 || m["id"] == m2) {
			t.Fatalf("pinned flag in history: %v", m)
		}
	}
	// The newer pins list: {items: [{pinned_at, message}], has_more}.
	page := expect(t, e.do(t, "GET", "/api/v10/channels/"+g.general+"/messages/pins?limit=1", auth(member), nil), 200, -1).body
	items := page["items"].([]any)
	if len(items) != 1 || page["has_more"] != true || items[0].(map[string]any)["message"].(map[string]any)["id"] != m2 {
		t.Fatalf("pins page: %v", page)
	}
	at := items[0].(map[string]any)["pinned_at"].(string)
	page = expect(t, e.do(t, "GET", "/api/v10/channels/"+g.general+"/messages/pins?before="+url.QueryEscape(at), auth(member), nil), 200, -1).body
	items = page["items"].([]any)
	if len(items) != 1 || page["has_more"] != false || items[0].(map[string]any)["message"].(map[string]any)["id"] != m1 {
		t.Fatalf("pins before %s: %v", at, page)
	}
	m1PinnedAt := items[0].(map[string]any)["pinned_at"]
	expect(t, e.do(t, "GET", "/api/v10/channels/"+g.general+"/messages/pins?limit=51", auth(member), nil), 400, 50035)
	expect(t, e.do(t, "GET", "/api/v10/channels/"+g.general+"/messages/pins?before=yesterday", auth(member), nil), 400, 50035)

	// Unpinning: the last pin time falls back to the remaining pin, then null.
	expect(t, e.do(t, "DELETE", pins+"/"+m2, auth(member), nil), 204, -1)
	ev = rxData(t, updates()[len(updates())-1].Data)
	if ev["last_pin_timestamp"] != m1PinnedAt {
		t.Fatalf("after unpinning the newest: %v, want %v", ev, m1PinnedAt)
	}
	expect(t, e.do(t, "DELETE", "/api/v10/channels/"+g.general+"/messages/pins/"+m1, auth(member), nil), 204, -1)
	ev = rxData(t, updates()[len(updates())-1].Data)
	if v, ok := ev["last_pin_timestamp"]; !ok || v != nil {
		t.Fatalf("after unpinning all: %v", ev)
	}
	n := len(updates())
	expect(t, e.do(t, "DELETE", pins+"/"+m1, auth(member), nil), 204, -1)
	if len(updates()) != n {
		t.Fatal("unpinning an unpinned message emitted an event")
	}
	if got := e.list(t, "GET", pins, member, 200); len(got) != 0 {
		t.Fatalf("pins after unpinning: %v", got)
	}

	// Errors: unknown message, another channel's message, no view, no history.
	other := e.createGuild(t, owner, "Other pins")
	expect(t, e.do(t, "PUT", pins+"/1234567890123", auth(owner), nil), 404, 10008)
	expect(t, e.do(t, "PUT", "/api/v10/channels/"+other.general+"/pins/"+m1, auth(owner), nil), 404, 10008)
	expect(t, e.do(t, "PUT", pins+"/"+m1, auth(lurker), nil), 403, 50001)
	expect(t, e.do(t, "GET", pins, auth(lurker), nil), 403, 50001)
	e.rxOverwrite(t, owner, g.general, g.id, 0, 0, permReadHistory)
	expect(t, e.do(t, "GET", pins, auth(member), nil), 403, 50013)
	expect(t, e.do(t, "GET", "/api/v10/channels/"+g.general+"/messages/pins", auth(member), nil), 403, 50013)
	if n := e.count(t, `SELECT count(*) FROM messages WHERE pinned_at IS NOT NULL AND channel_id = ANY ($1)`,
		[]int64{id64(t, g.general), id64(t, other.general)}); n != 0 {
		t.Fatalf("%d pins written by failed calls", n)
	}
}

func TestPinLimit(t *testing.T) {
	e := testEnv(t)
	owner := e.register(t)
	g := e.createGuild(t, owner, "Fifty pins")
	pins := "/api/v10/channels/" + g.general + "/pins/"
	ids := make([]string, 51)
	for i := range ids {
		ids[i] = e.rxSend(t, owner, g.general, "pin "+strconv.Itoa(i))
	}
	for _, id := range ids[:50] {
		expect(t, e.do(t, "PUT", pins+id, auth(owner), nil), 204, -1)
	}
	expect(t, e.do(t, "PUT", pins+ids[50], auth(owner), nil), 400, 30003)
	// Re-pinning a pinned message is not a new pin.
	expect(t, e.do(t, "PUT", pins+ids[0], auth(owner), nil), 204, -1)
	if n := e.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1 AND pinned_at IS NOT NULL`, id64(t, g.general)); n != 50 {
		t.Fatalf("%d pins, want 50", n)
	}
	// Making room makes the 51st possible.
	expect(t, e.do(t, "DELETE", pins+ids[0], auth(owner), nil), 204, -1)
	expect(t, e.do(t, "PUT", pins+ids[50], auth(owner), nil), 204, -1)
	if got := e.list(t, "GET", "/api/v10/channels/"+g.general+"/pins", owner, 200); len(got) != 50 || got[0]["id"] != ids[50] {
		t.Fatalf("pins: %d, newest %v", len(got), got[0]["id"])
	}
}

func TestPinsInDM(t *testing.T) {
	e := testEnv(t)
	a, b := e.register(t), e.register(t)
	dm := e.rxDM(t, a, b)
	msg := e.rxSend(t, a, dm, "pin me")
	updates := since(t, "CHANNEL_PINS_UPDATE", dm)
	expect(t, e.do(t, "PUT", "/api/v10/channels/"+dm+"/pins/"+msg, auth(b), nil), 204, -1)
	wantRecipients(t, "CHANNEL_PINS_UPDATE", updates(), a, b)
	if ev := rxData(t, updates()[0].Data); ev["guild_id"] != nil || ev["channel_id"] != dm {
		t.Fatalf("DM CHANNEL_PINS_UPDATE: %v", ev)
	}
	if got := e.list(t, "GET", "/api/v10/channels/"+dm+"/pins", a, 200); len(got) != 1 || got[0]["id"] != msg {
		t.Fatalf("DM pins: %v", got)
	}
}
