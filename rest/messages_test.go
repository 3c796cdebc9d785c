package rest_test

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// send posts content to a channel and returns the message.
func (e *env) send(t testing.TB, who account, channel string, body map[string]any) resp {
	t.Helper()
	return e.do(t, "POST", "/api/v10/channels/"+channel+"/messages", "Bearer "+who.access, body)
}

func TestSendAndHistory(t *testing.T) {
	e := testEnv(t)
	owner, member := e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Chatter")
	e.join(t, g, member)

	var ids []string
	for i := range 7 {
		r := expect(t, e.send(t, member, g.general, map[string]any{"content": "hello " + strconv.Itoa(i)}), 200, -1)
		if r.body["content"] != "hello "+strconv.Itoa(i) || r.body["channel_id"] != g.general ||
			r.body["author"].(map[string]any)["id"] != member.id {
			t.Fatalf("send answer: %s", r.raw)
		}
		ids = append(ids, r.body["id"].(string))
	}
	// The event reached the viewers, with guild_id and member.
	evs := events.find("MESSAGE_CREATE", ids[6])
	if len(evs) != 1 || !strings.Contains(string(evs[0].Data), `"guild_id":"`+g.id) || !strings.Contains(string(evs[0].Data), `"member":`) {
		t.Fatalf("MESSAGE_CREATE: %+v", evs)
	}
	if got := fmt.Sprint(evs[0].Recipients); !strings.Contains(got, owner.id) || !strings.Contains(got, member.id) {
		t.Fatalf("recipients %v", evs[0].Recipients)
	}

	// Discord shape: an array, newest first.
	page := e.list(t, "GET", "/api/v10/channels/"+g.general+"/messages?limit=3", owner, 200)
	if len(page) != 3 || page[0]["id"] != ids[6] || page[2]["id"] != ids[4] {
		t.Fatalf("first page: %v", page)
	}
	page = e.list(t, "GET", "/api/v10/channels/"+g.general+"/messages?limit=3&before="+ids[4], owner, 200)
	if len(page) != 3 || page[0]["id"] != ids[3] || page[2]["id"] != ids[1] {
		t.Fatalf("before page: %v", page)
	}
	page = e.list(t, "GET", "/api/v10/channels/"+g.general+"/messages?limit=2&after="+ids[1], owner, 200)
	if len(page) != 2 || page[0]["id"] != ids[3] || page[1]["id"] != ids[2] {
		t.Fatalf("after page (newest first): %v", page)
	}
	page = e.list(t, "GET", "/api/v10/channels/"+g.general+"/messages?limit=3&around="+ids[3], owner, 200)
	if len(page) != 3 || page[1]["id"] != ids[3] {
		t.Fatalf("around page: %v", page)
	}
	// Native envelope with cursors.
	r := expect(t, e.do(t, "GET", "/api/channels/"+g.general+"/messages?limit=4", "Bearer "+owner.access, nil), 200, -1)
	cur := r.body["cursor"].(map[string]any)
	if r.body["has_more"] != true || cur["before"] != ids[3] || cur["after"] != ids[6] || len(r.body["messages"].([]any)) != 4 {
		t.Fatalf("envelope: %s", r.raw)
	}
	r = expect(t, e.do(t, "GET", "/api/channels/"+g.general+"/messages?limit=4&before="+ids[3], "Bearer "+owner.access, nil), 200, -1)
	if r.body["has_more"] != false || len(r.body["messages"].([]any)) != 3 {
		t.Fatalf("last envelope: %s", r.raw)
	}
	expect(t, e.do(t, "GET", "/api/v10/channels/"+g.general+"/messages?limit=101", "Bearer "+owner.access, nil), 400, 50035)
	one := expect(t, e.do(t, "GET", "/api/v10/channels/"+g.general+"/messages/"+ids[2], "Bearer "+owner.access, nil), 200, -1)
	if one.body["content"] != "hello 2" {
		t.Fatalf("get one: %s", one.raw)
	}
	// A message is only reachable through its own channel.
	other := e.createGuild(t, owner, "Other")
	expect(t, e.do(t, "GET", "/api/v10/channels/"+other.general+"/messages/"+ids[2], "Bearer "+owner.access, nil), 404, 10008)
}

func TestSendValidationAndPermissions(t *testing.T) {
	e := testEnv(t)
	owner, member, stranger := e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Rules")
	e.join(t, g, member)
	expect(t, e.send(t, member, g.general, map[string]any{"content": ""}), 400, 50006)
	expect(t, e.send(t, member, g.general, map[string]any{}), 400, 50006)
	expect(t, e.send(t, member, g.general, map[string]any{"content": strings.Repeat("x", 2001)}), 400, 50035)
	expect(t, e.send(t, member, g.general, map[string]any{"content": "x", "nonce": strings.Repeat("n", 26)}), 400, 50035)
	expect(t, e.send(t, stranger, g.general, map[string]any{"content": "let me in"}), 403, 50001)
	expect(t, e.send(t, member, g.voice+"0", map[string]any{"content": "x"}), 404, 10003)
	// Deny SEND_MESSAGES to @everyone: the member may read but not send.
	expect(t, e.do(t, "PUT", "/api/v10/channels/"+g.general+"/permissions/"+g.id, "Bearer "+owner.access,
		map[string]any{"type": 0, "deny": "2048"}), 204, -1)
	expect(t, e.send(t, member, g.general, map[string]any{"content": "muted"}), 403, 50013)
	expect(t, e.send(t, owner, g.general, map[string]any{"content": "owner speaks"}), 200, -1)
	e.list(t, "GET", "/api/v10/channels/"+g.general+"/messages", member, 200)
	// Deny VIEW_CHANNEL: history is gone at once.
	expect(t, e.do(t, "PUT", "/api/v10/channels/"+g.general+"/permissions/"+g.id, "Bearer "+owner.access,
		map[string]any{"type": 0, "deny": "1024"}), 204, -1)
	expect(t, e.do(t, "GET", "/api/v10/channels/"+g.general+"/messages", "Bearer "+member.access, nil), 403, 50001)
	var n int
	if err := e.store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM messages WHERE channel_id = $1`, g.general).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d messages stored (%v), want only the owner's", n, err)
	}
}

func TestNonceDeduplicates(t *testing.T) {
	e := testEnv(t)
	owner := e.register(t)
	g := e.createGuild(t, owner, "Nonces")
	body := map[string]any{"content": "once", "nonce": "abc-123", "enforce_nonce": true}
	var wg sync.WaitGroup
	got := make([]string, 5)
	for i := range got {
		wg.Go(func() {
			r := e.send(t, owner, g.general, body)
			if r.status == 200 {
				got[i] = r.body["id"].(string)
			}
		})
	}
	wg.Wait()
	for _, id := range got {
		if id == "" || id != got[0] {
			t.Fatalf("retries with one nonce gave %v", got)
		}
	}
	var n int
	if err := e.store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM messages WHERE channel_id = $1`, g.general).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
	// Without enforce_nonce, the nonce is only echoed.
	a := expect(t, e.send(t, owner, g.general, map[string]any{"content": "a", "nonce": 42}), 200, -1)
	b := expect(t, e.send(t, owner, g.general, map[string]any{"content": "a", "nonce": 42}), 200, -1)
	if a.body["id"] == b.body["id"] || a.body["nonce"] != "42" {
		t.Fatalf("plain nonces: %s %s", a.raw, b.raw)
	}
}

func TestConcurrentSendersOrdered(t *testing.T) {
	e := testEnv(t)
	owner := e.register(t)
	g := e.createGuild(t, owner, "Busy")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var acked []string
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				r := e.send(t, owner, g.general, map[string]any{"content": fmt.Sprintf("w%d-%d", w, i)})
				if r.status != 200 {
					t.Errorf("send: %d %s", r.status, r.raw)
					return
				}
				mu.Lock()
				acked = append(acked, r.body["id"].(string))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	rows, err := e.store.Pool().Query(t.Context(), `SELECT id::text FROM messages WHERE channel_id = $1 ORDER BY id`, g.general)
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		stored = append(stored, id)
	}
	sort.Slice(acked, func(i, j int) bool { return len(acked[i]) < len(acked[j]) || acked[i] < acked[j] })
	if fmt.Sprint(stored) != fmt.Sprint(acked) {
		t.Fatalf("stored %d, acked %d: sets differ", len(stored), len(acked))
	}
	// Events went out in id order.
	var prev uint64
	for _, ev := range events.snapshot() {
		if ev.Type != "MESSAGE_CREATE" || ev.ChannelID != mustInt(g.general) {
			continue
		}
		id := uint64(mustInt(idOf(ev.Data)))
		if id <= prev {
			t.Fatalf("MESSAGE_CREATE out of order: %d after %d", id, prev)
		}
		prev = id
	}
}

func mustInt(s string) int64 { v, _ := strconv.ParseInt(s, 10, 64); return v }

func idOf(data []byte) string {
	s := string(data)
	i := strings.Index(s, `"id":"`)
	s = s[i+6:]
	return s[:strings.IndexByte(s, '"')]
}

func TestEditDeleteReply(t *testing.T) {
	e := testEnv(t)
	owner, member := e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Edits")
	e.join(t, g, member)
	m := expect(t, e.send(t, member, g.general, map[string]any{"content": "first draft"}), 200, -1)
	id := m.body["id"].(string)
	path := "/api/v10/channels/" + g.general + "/messages/" + id
	expect(t, e.do(t, "PATCH", path, "Bearer "+owner.access, map[string]any{"content": "not yours"}), 403, 50005)
	r := expect(t, e.do(t, "PATCH", path, "Bearer "+member.access, map[string]any{"content": "second draft"}), 200, -1)
	if r.body["content"] != "second draft" || r.body["edited_timestamp"] == nil {
		t.Fatalf("edit: %s", r.raw)
	}
	expect(t, e.do(t, "PATCH", path, "Bearer "+member.access, map[string]any{"content": "final"}), 200, -1)
	edits := e.list(t, "GET", "/api/channels/"+g.general+"/messages/"+id+"/edits", member, 200)
	if len(edits) != 2 || edits[0]["content"] != "first draft" || edits[1]["content"] != "second draft" {
		t.Fatalf("edits: %v", edits)
	}
	if len(events.find("MESSAGE_UPDATE", "final")) != 1 {
		t.Fatal("no MESSAGE_UPDATE")
	}

	// A reply carries its reference and the referenced message.
	reply := expect(t, e.send(t, owner, g.general, map[string]any{"content": "agreed",
		"message_reference": map[string]any{"message_id": id}}), 200, -1)
	ref := reply.body["message_reference"].(map[string]any)
	if ref["message_id"] != id || ref["channel_id"] != g.general || ref["guild_id"] != g.id ||
		reply.body["referenced_message"].(map[string]any)["content"] != "final" || reply.body["type"] != 19.0 {
		t.Fatalf("reply: %s", reply.raw)
	}
	if ms := reply.body["mentions"].([]any); len(ms) != 1 || ms[0].(map[string]any)["id"] != member.id {
		t.Fatalf("reply should mention the replied-to author: %s", reply.raw)
	}
	hist := e.list(t, "GET", "/api/v10/channels/"+g.general+"/messages?limit=1", owner, 200)
	if hist[0]["referenced_message"] == nil {
		t.Fatalf("history lost the referenced message: %v", hist[0])
	}
	other := e.createGuild(t, owner, "Elsewhere")
	expect(t, e.send(t, owner, other.general, map[string]any{"content": "x",
		"message_reference": map[string]any{"message_id": id}}), 400, 50035)

	// Delete: others need MANAGE_MESSAGES; the owner has it.
	mine := expect(t, e.send(t, owner, g.general, map[string]any{"content": "mine"}), 200, -1)
	expect(t, e.do(t, "DELETE", "/api/v10/channels/"+g.general+"/messages/"+mine.body["id"].(string), "Bearer "+member.access, nil), 403, 50013)
	expect(t, e.do(t, "DELETE", path, "Bearer "+owner.access, nil), 204, -1)
	expect(t, e.do(t, "GET", path, "Bearer "+owner.access, nil), 404, 10008)
	if len(events.find("MESSAGE_DELETE", id)) != 1 {
		t.Fatal("no MESSAGE_DELETE")
	}
}

func TestMentions(t *testing.T) {
	e := testEnv(t)
	owner, member, outsider := e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Mentions")
	e.join(t, g, member)
	// @everyone's default permissions include MENTION_EVERYONE; take it away
	// in #general so only the owner may ping everyone there.
	expect(t, e.do(t, "PUT", "/api/v10/channels/"+g.general+"/permissions/"+g.id, "Bearer "+owner.access,
		map[string]any{"type": 0, "deny": "131072"}), 204, -1)
	content := fmt.Sprintf("hi <@%s> and <@!%s> and <@%s> @everyone", member.id, member.id, outsider.id)
	r := expect(t, e.send(t, member, g.general, map[string]any{"content": content}), 200, -1)
	if ms := r.body["mentions"].([]any); len(ms) != 1 || r.body["mention_everyone"] != false {
		t.Fatalf("member mentions: %s", r.raw)
	}
	r = expect(t, e.send(t, owner, g.general, map[string]any{"content": content}), 200, -1)
	if r.body["mention_everyone"] != true {
		t.Fatalf("owner @everyone: %s", r.raw)
	}
	r = expect(t, e.send(t, owner, g.general, map[string]any{"content": content, "allowed_mentions": map[string]any{"parse": []string{}}}), 200, -1)
	if len(r.body["mentions"].([]any)) != 0 || r.body["mention_everyone"] != false {
		t.Fatalf("allowed_mentions none: %s", r.raw)
	}
}

func TestSlowModeAndTyping(t *testing.T) {
	e := testEnv(t)
	owner, member := e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Slow")
	e.join(t, g, member)
	expect(t, e.do(t, "PATCH", "/api/v10/channels/"+g.general, "Bearer "+owner.access, map[string]any{"rate_limit_per_user": 30}), 200, -1)
	expect(t, e.send(t, member, g.general, map[string]any{"content": "one"}), 200, -1)
	r := e.send(t, member, g.general, map[string]any{"content": "two"})
	if r.status != 429 || r.body["retry_after"] == nil || r.header.Get("Retry-After") == "" {
		t.Fatalf("slow mode: %d %s", r.status, r.raw)
	}
	// The owner bypasses slow mode.
	expect(t, e.send(t, owner, g.general, map[string]any{"content": "a"}), 200, -1)
	expect(t, e.send(t, owner, g.general, map[string]any{"content": "b"}), 200, -1)
	expect(t, e.do(t, "POST", "/api/v10/channels/"+g.general+"/typing", "Bearer "+member.access, nil), 204, -1)
	evs := events.find("TYPING_START", member.id)
	if len(evs) == 0 || fmt.Sprint(evs[len(evs)-1].Recipients) != "["+owner.id+"]" {
		t.Fatalf("TYPING_START: %+v", evs)
	}
}

// TestVisibilityCutsDeliveryAndHistory: removing VIEW_CHANNEL by role
// change, kick or ban stops both the member's history reads and their place
// among a new message's recipients, at once.
func TestVisibilityCutsDeliveryAndHistory(t *testing.T) {
	e := testEnv(t)
	owner, viaRole, kicked, banned := e.register(t), e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Private")
	for _, a := range []account{viaRole, kicked, banned} {
		e.join(t, g, a)
	}
	// #general visible only to a role.
	role := expect(t, e.do(t, "POST", "/api/v10/guilds/"+g.id+"/roles", "Bearer "+owner.access, map[string]any{"name": "readers"}), 200, -1)
	rid := role.body["id"].(string)
	expect(t, e.do(t, "PUT", "/api/v10/channels/"+g.general+"/permissions/"+g.id, "Bearer "+owner.access, map[string]any{"type": 0, "deny": "1024"}), 204, -1)
	expect(t, e.do(t, "PUT", "/api/v10/channels/"+g.general+"/permissions/"+rid, "Bearer "+owner.access, map[string]any{"type": 0, "allow": "1024"}), 204, -1)
	for _, a := range []account{viaRole, kicked, banned} {
		expect(t, e.do(t, "PUT", "/api/v10/guilds/"+g.id+"/members/"+a.id+"/roles/"+rid, "Bearer "+owner.access, nil), 204, -1)
	}
	first := expect(t, e.send(t, owner, g.general, map[string]any{"content": "for readers"}), 200, -1)
	rec := fmt.Sprint(events.find("MESSAGE_CREATE", first.body["id"].(string))[0].Recipients)
	for _, a := range []account{viaRole, kicked, banned} {
		if !strings.Contains(rec, a.id) {
			t.Fatalf("reader %s missing from %s", a.id, rec)
		}
	}
	expect(t, e.do(t, "DELETE", "/api/v10/guilds/"+g.id+"/members/"+viaRole.id+"/roles/"+rid, "Bearer "+owner.access, nil), 204, -1)
	expect(t, e.do(t, "DELETE", "/api/v10/guilds/"+g.id+"/members/"+kicked.id, "Bearer "+owner.access, nil), 204, -1)
	expect(t, e.do(t, "PUT", "/api/v10/guilds/"+g.id+"/bans/"+banned.id, "Bearer "+owner.access, map[string]any{}), 204, -1)
	for _, a := range []account{viaRole, kicked, banned} {
		expect(t, e.do(t, "GET", "/api/v10/channels/"+g.general+"/messages", "Bearer "+a.access, nil), 403, 50001)
		expect(t, e.do(t, "GET", "/api/v10/channels/"+g.general+"/messages/"+first.body["id"].(string), "Bearer "+a.access, nil), 403, 50001)
	}
	second := expect(t, e.send(t, owner, g.general, map[string]any{"content": "after"}), 200, -1)
	rec = fmt.Sprint(events.find("MESSAGE_CREATE", second.body["id"].(string))[0].Recipients)
	if rec != "["+owner.id+"]" {
		t.Fatalf("recipients after the cuts: %s, want only the owner", rec)
	}
}
