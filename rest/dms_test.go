package rest_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/accordchat/accord/actors"
)

// openDM opens (or finds) the DM of who and other.
func (e *env) openDM(t *testing.T, who, other account) string {
	t.Helper()
	r := expect(t, e.do(t, "POST", "/api/v10/users/@me/channels", auth(who), map[string]any{"recipient_id": other.id}), 200, -1)
	return r.body["id"].(string)
}

// recipientIDs are the ids of a channel object's recipients.
func recipientIDs(ch map[string]any) []string {
	var out []string
	for _, u := range ch["recipients"].([]any) {
		out = append(out, u.(map[string]any)["id"].(string))
	}
	slices.Sort(out)
	return out
}

func ids(who ...account) []string {
	out := make([]string, len(who))
	for i, a := range who {
		out[i] = a.id
	}
	slices.Sort(out)
	return out
}

// perUser checks events sent one per receiver (DM channel objects): exactly
// one to each of who, each rendered without its receiver, and returns them
// by receiver.
func perUser(t *testing.T, what string, evs []actors.Event, who ...account) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	for _, ev := range evs {
		if len(ev.Recipients) != 1 {
			t.Fatalf("%s: recipients %v, want one per event", what, ev.Recipients)
		}
		to := fmt.Sprint(ev.Recipients[0])
		if _, dup := out[to]; dup {
			t.Fatalf("%s: two events to %s", what, to)
		}
		var ch map[string]any
		if err := json.Unmarshal(ev.Data, &ch); err != nil {
			t.Fatal(err)
		}
		if slices.Contains(recipientIDs(ch), to) {
			t.Fatalf("%s to %s lists its receiver: %s", what, to, ev.Data)
		}
		out[to] = ch
	}
	if got := slices.Sorted(func(yield func(string) bool) {
		for k := range out {
			if !yield(k) {
				return
			}
		}
	}); !slices.Equal(got, ids(who...)) {
		t.Fatalf("%s went to %v, want %v", what, got, ids(who...))
	}
	return out
}

func TestOpenDM(t *testing.T) {
	e := testEnv(t)
	a, b, stranger := e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, a, "Pen pals")
	e.join(t, g, b)

	r := expect(t, e.do(t, "POST", "/api/v10/users/@me/channels", auth(a), map[string]any{"recipient_id": b.id}), 200, -1)
	dm := r.body["id"].(string)
	if r.body["type"] != 1.0 || r.body["last_message_id"] != nil || r.body["flags"] != 0.0 ||
		!slices.Equal(recipientIDs(r.body), []string{b.id}) || r.body["owner_id"] != nil {
		t.Fatalf("DM: %s", r.raw)
	}
	if _, ok := r.body["name"]; ok {
		t.Fatalf("a 1:1 DM has no name field: %s", r.raw)
	}
	// The same channel every time, from either side, in every form.
	if again := e.openDM(t, a, b); again != dm {
		t.Fatalf("second open: %s, want %s", again, dm)
	}
	back := expect(t, e.do(t, "POST", "/api/v10/users/@me/channels", auth(b), map[string]any{"recipient_id": mustInt(a.id)}), 200, -1)
	if back.body["id"] != dm || !slices.Equal(recipientIDs(back.body), []string{a.id}) {
		t.Fatalf("from the other side: %s", back.raw)
	}
	viaList := expect(t, e.do(t, "POST", "/api/v10/users/@me/channels", auth(b), map[string]any{"recipients": []string{a.id}}), 200, -1)
	if viaList.body["id"] != dm || viaList.body["type"] != 1.0 {
		t.Fatalf("recipients with one id: %s", viaList.raw)
	}
	// Only the opener heard of the creation, once.
	perUser(t, "CHANNEL_CREATE", events.find("CHANNEL_CREATE", `"id":"`+dm+`"`), a)

	// Refusals write nothing.
	pairs := e.count(t, `SELECT count(*) FROM dm_pairs`)
	expect(t, e.do(t, "POST", "/api/v10/users/@me/channels", auth(a), map[string]any{"recipient_id": stranger.id}), 403, 50007)
	expect(t, e.do(t, "POST", "/api/v10/users/@me/channels", auth(a), map[string]any{"recipient_id": a.id}), 403, 50007)
	expect(t, e.do(t, "POST", "/api/v10/users/@me/channels", auth(a), map[string]any{"recipient_id": "123456789012345678"}), 400, 50033)
	fieldError(t, e.do(t, "POST", "/api/v10/users/@me/channels", auth(a), map[string]any{"recipient_id": "abc"}), "recipient_id")
	fieldError(t, e.do(t, "POST", "/api/v10/users/@me/channels", auth(a), map[string]any{}), "recipient_id")
	fieldError(t, e.do(t, "POST", "/api/v10/users/@me/channels", auth(a), map[string]any{"recipients": []any{true}}), "recipients.0")
	expect(t, e.do(t, "POST", "/api/v10/users/@me/channels", auth(a), "{"), 400, 50109)
	expect(t, e.do(t, "POST", "/api/v10/users/@me/channels", "", map[string]any{"recipient_id": b.id}), 401, 0)
	if n := e.count(t, `SELECT count(*) FROM dm_pairs`); n != pairs {
		t.Fatalf("refused opens wrote %d pairs", n-pairs)
	}

	// Both list it, each seeing the other.
	for _, who := range []struct{ me, other account }{{a, b}, {b, a}} {
		list := e.list(t, "GET", "/api/v10/users/@me/channels", who.me, 200)
		if len(list) != 1 || list[0]["id"] != dm || !slices.Equal(recipientIDs(list[0]), []string{who.other.id}) {
			t.Fatalf("%s's DMs: %v", who.me.username, list)
		}
	}
	if list := e.list(t, "GET", "/api/v10/users/@me/channels", stranger, 200); len(list) != 0 {
		t.Fatalf("stranger's DMs: %v", list)
	}

	// GET /channels/{id}: recipients only.
	got := expect(t, e.do(t, "GET", "/api/v10/channels/"+dm, auth(b), nil), 200, -1)
	if got.body["type"] != 1.0 || !slices.Equal(recipientIDs(got.body), []string{a.id}) {
		t.Fatalf("GET DM: %s", got.raw)
	}
	expect(t, e.do(t, "GET", "/api/v10/channels/"+dm, auth(stranger), nil), 403, 50001)
	// Guild-only channel routes are 50003 on a DM, after the recipient check.
	expect(t, e.do(t, "POST", "/api/v10/channels/"+dm+"/invites", auth(a), map[string]any{}), 400, 50003)
	expect(t, e.do(t, "POST", "/api/v10/channels/"+dm+"/invites", auth(stranger), map[string]any{}), 403, 50001)
	expect(t, e.do(t, "PATCH", "/api/v10/channels/"+dm, auth(a), map[string]any{"name": "x"}), 400, 50003)
	expect(t, e.do(t, "PUT", "/api/v10/channels/"+dm+"/recipients/"+stranger.id, auth(a), nil), 400, 50003)
	// Closing a 1:1 DM answers the channel and keeps it.
	closed := expect(t, e.do(t, "DELETE", "/api/v10/channels/"+dm, auth(a), nil), 200, -1)
	if closed.body["id"] != dm {
		t.Fatalf("close: %s", closed.raw)
	}
	expect(t, e.do(t, "GET", "/api/v10/channels/"+dm, auth(a), nil), 200, -1)
}

func TestDMMessages(t *testing.T) {
	e := testEnv(t)
	a, b, stranger := e.register(t), e.register(t), e.register(t)
	g := e.createGuild(t, a, "Letters")
	e.join(t, g, b)
	dm := e.openDM(t, b, a)
	created, updated, deleted, typing := since(t, "MESSAGE_CREATE", dm), since(t, "MESSAGE_UPDATE", dm),
		since(t, "MESSAGE_DELETE", dm), since(t, "TYPING_START", dm)

	m1 := expect(t, e.send(t, a, dm, map[string]any{"content": "hi <@" + b.id + ">"}), 200, -1)
	if m1.body["guild_id"] != nil || m1.body["channel_id"] != dm || len(m1.body["mentions"].([]any)) != 1 {
		t.Fatalf("DM send: %s", m1.raw)
	}
	wantRecipients(t, "MESSAGE_CREATE", created(), a, b)
	var ev map[string]any
	_ = json.Unmarshal(created()[0].Data, &ev)
	if ev["channel_type"] != 1.0 || ev["guild_id"] != nil || ev["member"] != nil {
		t.Fatalf("MESSAGE_CREATE in a DM: %v", ev)
	}
	m2 := expect(t, e.send(t, b, dm, map[string]any{"content": "hello"}), 200, -1)
	id1, id2 := m1.body["id"].(string), m2.body["id"].(string)

	hist := e.list(t, "GET", "/api/v10/channels/"+dm+"/messages", b, 200)
	if len(hist) != 2 || hist[0]["id"] != id2 || hist[1]["id"] != id1 {
		t.Fatalf("history: %v", hist)
	}
	expect(t, e.do(t, "GET", "/api/v10/channels/"+dm+"/messages/"+id1, auth(a), nil), 200, -1)
	// The channel knows its last message.
	if got := expect(t, e.do(t, "GET", "/api/v10/channels/"+dm, auth(a), nil), 200, -1); got.body["last_message_id"] != id2 {
		t.Fatalf("last_message_id: %s", got.raw)
	}
	if list := e.list(t, "GET", "/api/v10/users/@me/channels", a, 200); list[0]["last_message_id"] != id2 {
		t.Fatalf("listed last_message_id: %v", list[0])
	}

	// A non-recipient can do nothing, and nothing is written.
	before := e.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1`, id64(t, dm))
	expect(t, e.send(t, stranger, dm, map[string]any{"content": "let me in"}), 403, 50001)
	expect(t, e.do(t, "GET", "/api/v10/channels/"+dm+"/messages", auth(stranger), nil), 403, 50001)
	expect(t, e.do(t, "GET", "/api/v10/channels/"+dm+"/messages/"+id1, auth(stranger), nil), 403, 50001)
	expect(t, e.do(t, "PATCH", "/api/v10/channels/"+dm+"/messages/"+id1, auth(stranger), map[string]any{"content": "x"}), 403, 50001)
	expect(t, e.do(t, "DELETE", "/api/v10/channels/"+dm+"/messages/"+id1, auth(stranger), nil), 403, 50001)
	expect(t, e.do(t, "POST", "/api/v10/channels/"+dm+"/typing", auth(stranger), nil), 403, 50001)
	if n := e.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1`, id64(t, dm)); n != before {
		t.Fatalf("refused send wrote %d messages", n-before)
	}

	// Edit: the author only; the event reaches both.
	expect(t, e.do(t, "PATCH", "/api/v10/channels/"+dm+"/messages/"+id1, auth(b), map[string]any{"content": "x"}), 403, 50005)
	r := expect(t, e.do(t, "PATCH", "/api/v10/channels/"+dm+"/messages/"+id1, auth(a), map[string]any{"content": "edited"}), 200, -1)
	if r.body["content"] != "edited" {
		t.Fatalf("edit: %s", r.raw)
	}
	wantRecipients(t, "MESSAGE_UPDATE", updated(), a, b)
	// Delete: only one's own messages in a DM.
	expect(t, e.do(t, "DELETE", "/api/v10/channels/"+dm+"/messages/"+id1, auth(b), nil), 403, 50013)
	expect(t, e.do(t, "DELETE", "/api/v10/channels/"+dm+"/messages/"+id1, auth(a), nil), 204, -1)
	wantRecipients(t, "MESSAGE_DELETE", deleted(), a, b)
	expect(t, e.do(t, "GET", "/api/v10/channels/"+dm+"/messages/"+id1, auth(a), nil), 404, 10008)
	// Typing reaches the other recipient only.
	expect(t, e.do(t, "POST", "/api/v10/channels/"+dm+"/typing", auth(b), nil), 204, -1)
	wantRecipients(t, "TYPING_START", typing(), a)
	// No event of the DM ever reached the stranger.
	for _, ev := range events.snapshot() {
		if ev.ChannelID == id64(t, dm) && slices.Contains(ev.Recipients, id64(t, stranger.id)) {
			t.Fatalf("%s reached a non-recipient", ev.Type)
		}
	}
}

func TestOpenDMConcurrently(t *testing.T) {
	e := testEnv(t)
	a, b := e.register(t), e.register(t)
	g := e.createGuild(t, a, "Race")
	e.join(t, g, b)
	const n = 12
	got := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			me, other := a, b
			if i%2 == 1 {
				me, other = b, a
			}
			r := e.do(t, "POST", "/api/v10/users/@me/channels", auth(me), map[string]any{"recipient_id": other.id})
			if r.status == 200 {
				got[i] = r.body["id"].(string)
			}
		})
	}
	wg.Wait()
	for i := range got {
		if got[i] == "" || got[i] != got[0] {
			t.Fatalf("concurrent opens answered %v", got)
		}
	}
	if c := e.count(t, `SELECT count(*) FROM dm_recipients WHERE user_id = $1`, id64(t, a.id)); c != 1 {
		t.Fatalf("%d DM channels for the pair", c)
	}
}

func TestGroupDM(t *testing.T) {
	e := testEnv(t)
	owner, stranger := e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Group chat")
	var m []account
	for range 10 {
		a := e.register(t)
		e.join(t, g, a)
		m = append(m, a)
	}
	groups := func() int {
		return e.count(t, `SELECT count(*) FROM channels WHERE type = 3 AND owner_id = $1`, id64(t, owner.id))
	}
	create := func(body map[string]any) resp {
		return e.do(t, "POST", "/api/v10/users/@me/channels", auth(owner), body)
	}

	// Refusals write nothing.
	expect(t, create(map[string]any{"recipients": []string{m[0].id, stranger.id}}), 403, 50007)
	expect(t, create(map[string]any{"recipients": []string{m[0].id, "123456789012345678"}}), 400, 50033)
	expect(t, create(map[string]any{"recipients": ids(m...)}), 400, 30004)
	fieldError(t, create(map[string]any{"recipients": []string{m[0].id, m[1].id}, "name": string(make([]byte, 101))}), "name")
	expect(t, create(map[string]any{"access_tokens": []string{"not-a-token"}}), 400, 50033)
	if n := groups(); n != 0 {
		t.Fatalf("refused creates wrote %d group DMs", n)
	}

	// Ten in all (the owner and nine) is the limit; the access token form
	// works too.
	full := expect(t, create(map[string]any{"recipients": ids(m[:8]...), "access_tokens": []string{m[8].access}}), 200, -1)
	if full.body["type"] != 3.0 || len(recipientIDs(full.body)) != 9 {
		t.Fatalf("full group: %s", full.raw)
	}
	fullID := full.body["id"].(string)
	before := e.count(t, `SELECT count(*) FROM dm_recipients WHERE channel_id = $1`, id64(t, fullID))
	expect(t, e.do(t, "PUT", "/api/v10/channels/"+fullID+"/recipients/"+m[9].id, auth(m[0]), nil), 400, 30004)
	if n := e.count(t, `SELECT count(*) FROM dm_recipients WHERE channel_id = $1`, id64(t, fullID)); n != before {
		t.Fatal("a refused add wrote a recipient")
	}

	// A named group of three; each member hears of it, seeing the others.
	r := expect(t, create(map[string]any{"recipients": []string{m[0].id, m[1].id, m[0].id}, "name": "Trio"}), 200, -1)
	ch := r.body["id"].(string)
	if r.body["type"] != 3.0 || r.body["owner_id"] != owner.id || r.body["name"] != "Trio" || r.body["icon"] != nil ||
		!slices.Equal(recipientIDs(r.body), ids(m[0], m[1])) {
		t.Fatalf("group DM: %s", r.raw)
	}
	createEvs := func() []actors.Event {
		var out []actors.Event
		for _, ev := range events.find("CHANNEL_CREATE", "") {
			if ev.ChannelID == id64(t, ch) {
				out = append(out, ev)
			}
		}
		return out
	}
	perUser(t, "CHANNEL_CREATE", createEvs(), owner, m[0], m[1])
	if list := e.list(t, "GET", "/api/v10/users/@me/channels", m[1], 200); len(list) != 2 ||
		!slices.Contains(channelIDs(list), ch) {
		t.Fatalf("m1's channels: %v", list)
	}

	// Any recipient adds someone who shares a guild with them.
	adds, removes, updates, creates, deletes := since(t, "CHANNEL_RECIPIENT_ADD", ch), since(t, "CHANNEL_RECIPIENT_REMOVE", ch),
		since(t, "CHANNEL_UPDATE", ch), since(t, "CHANNEL_CREATE", ch), since(t, "CHANNEL_DELETE", ch)
	recipients := func(path string) string { return "/api/v10/channels/" + ch + "/recipients/" + path }
	expect(t, e.do(t, "PUT", recipients(stranger.id), auth(m[0]), nil), 403, 50007)
	expect(t, e.do(t, "PUT", recipients("123456789012345678"), auth(m[0]), nil), 404, 10013)
	expect(t, e.do(t, "PUT", recipients(m[2].id), auth(stranger), nil), 403, 50001)
	expect(t, e.do(t, "PUT", recipients(m[2].id), auth(m[0]), nil), 204, -1)
	wantRecipients(t, "CHANNEL_RECIPIENT_ADD", adds(), owner, m[0], m[1], m[2])
	perUser(t, "CHANNEL_CREATE to the added", creates(), m[2])
	expect(t, e.do(t, "PUT", recipients(m[2].id), auth(m[1]), nil), 204, -1)
	wantRecipients(t, "adding again", adds()[1:])
	expect(t, e.send(t, m[2], ch, map[string]any{"content": "thanks for adding me"}), 200, -1)

	// On a guild channel the recipient routes are 50024 (50001 for outsiders).
	expect(t, e.do(t, "PUT", "/api/v10/channels/"+g.general+"/recipients/"+m[0].id, auth(owner), nil), 400, 50024)
	expect(t, e.do(t, "PUT", "/api/v10/channels/"+g.general+"/recipients/"+m[0].id, auth(stranger), nil), 403, 50001)

	// Only the owner removes others; the removed user loses the channel.
	expect(t, e.do(t, "DELETE", recipients(m[1].id), auth(m[0]), nil), 403, 50013)
	expect(t, e.do(t, "DELETE", recipients(m[1].id), auth(owner), nil), 204, -1)
	wantRecipients(t, "CHANNEL_RECIPIENT_REMOVE", removes(), owner, m[0], m[1], m[2])
	perUser(t, "CHANNEL_DELETE to the removed", deletes(), m[1])
	expect(t, e.send(t, m[1], ch, map[string]any{"content": "still here?"}), 403, 50001)
	expect(t, e.do(t, "GET", "/api/v10/channels/"+ch, auth(m[1]), nil), 403, 50001)
	expect(t, e.do(t, "DELETE", recipients(m[1].id), auth(owner), nil), 204, -1) // not a recipient: nothing to do
	wantRecipients(t, "removing again", removes()[1:])
	// Anyone leaves by removing themself.
	expect(t, e.do(t, "DELETE", recipients(m[2].id), auth(m[2]), nil), 204, -1)
	if list := e.list(t, "GET", "/api/v10/users/@me/channels", m[2], 200); len(list) != 1 {
		t.Fatalf("m2 left but lists %v", list)
	}

	// Any recipient renames; bad names change nothing.
	fieldError(t, e.do(t, "PATCH", "/api/v10/channels/"+ch, auth(m[0]), map[string]any{"name": 5}), "name")
	r = expect(t, e.do(t, "PATCH", "/api/v10/channels/"+ch, auth(m[0]), map[string]any{"name": "Duo"}), 200, -1)
	if r.body["name"] != "Duo" || !slices.Equal(recipientIDs(r.body), []string{owner.id}) {
		t.Fatalf("rename: %s", r.raw)
	}
	perUser(t, "CHANNEL_UPDATE", updates(), owner, m[0])
	expect(t, e.do(t, "PATCH", "/api/v10/channels/"+ch, auth(stranger), map[string]any{"name": "Mine"}), 403, 50001)
	if got := expect(t, e.do(t, "GET", "/api/v10/channels/"+ch, auth(owner), nil), 200, -1); got.body["name"] != "Duo" {
		t.Fatalf("after rename: %s", got.raw)
	}

	// Two left, still a group DM.
	expect(t, e.send(t, owner, ch, map[string]any{"content": "just us"}), 200, -1)
	last := events.find("MESSAGE_CREATE", "just us")
	if len(last) != 1 || !json.Valid(last[0].Data) || !slices.Contains(last[0].Recipients, id64(t, m[0].id)) {
		t.Fatalf("MESSAGE_CREATE: %+v", last)
	}
	var msg map[string]any
	_ = json.Unmarshal(last[0].Data, &msg)
	if msg["channel_type"] != 3.0 {
		t.Fatalf("channel_type %v in a group DM of two", msg["channel_type"])
	}

	// The owner leaves (DELETE /channels/{id}): ownership passes on.
	expect(t, e.do(t, "PUT", recipients(m[3].id), auth(owner), nil), 204, -1)
	updates = since(t, "CHANNEL_UPDATE", ch)
	left := expect(t, e.do(t, "DELETE", "/api/v10/channels/"+ch, auth(owner), nil), 200, -1)
	if left.body["id"] != ch {
		t.Fatalf("leave: %s", left.raw)
	}
	heir := m[0] // the remaining recipient with the lowest id
	if id64(t, m[3].id) < id64(t, heir.id) {
		heir = m[3]
	}
	got := perUser(t, "CHANNEL_UPDATE (owner)", updates(), m[0], m[3])
	for _, ch := range got {
		if ch["owner_id"] != heir.id {
			t.Fatalf("new owner %v, want %s", ch["owner_id"], heir.id)
		}
	}
	expect(t, e.send(t, owner, ch, map[string]any{"content": "bye"}), 403, 50001)

	// The last one out deletes the channel and its messages.
	expect(t, e.do(t, "DELETE", recipients(m[3].id), auth(m[3]), nil), 204, -1)
	expect(t, e.do(t, "DELETE", recipients(m[0].id), auth(m[0]), nil), 204, -1)
	if n := e.count(t, `SELECT count(*) FROM channels WHERE id = $1`, id64(t, ch)) +
		e.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1`, id64(t, ch)); n != 0 {
		t.Fatalf("an emptied group DM left %d rows", n)
	}
	expect(t, e.do(t, "GET", "/api/v10/channels/"+ch, auth(m[0]), nil), 404, 10003)
}

// TestDMNeedsSharedGuildToSend: once the two users share no guild, a send
// in their existing DM is refused with 50007 and nothing is stored.
func TestDMNeedsSharedGuildToSend(t *testing.T) {
	e := testEnv(t)
	a, b := e.register(t), e.register(t)
	g := e.createGuild(t, a, "Common ground")
	e.join(t, g, b)
	dm := expect(t, e.do(t, "POST", "/api/v10/users/@me/channels", "Bearer "+a.access, map[string]any{"recipient_id": b.id}), 200, -1)
	ch := dm.body["id"].(string)
	expect(t, e.send(t, b, ch, map[string]any{"content": "hi"}), 200, -1)
	expect(t, e.do(t, "DELETE", "/api/v10/users/@me/guilds/"+g.id, "Bearer "+b.access, nil), 204, -1)
	expect(t, e.send(t, b, ch, map[string]any{"content": "still there?"}), 403, 50007)
	expect(t, e.send(t, a, ch, map[string]any{"content": "hello?"}), 403, 50007)
	var n int
	if err := e.store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM messages WHERE channel_id = $1`, ch).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d messages stored, want 1", n)
	}
}
