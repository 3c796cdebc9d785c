package rest_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/accordchat/accord/snowflake"
)

func TestBulkDelete(t *testing.T) {
	e := testEnv(t)
	owner, member := e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Bulk")
	e.join(t, g, member)
	lurker := e.rxHider(t, g)
	ids := make([]string, 5)
	for i := range ids {
		ids[i] = e.rxSend(t, member, g.general, "m"+strconv.Itoa(i))
	}
	other := e.createGuild(t, owner, "Bulk elsewhere")
	foreign := e.rxSend(t, owner, other.general, "not here")
	expect(t, e.do(t, "PUT", rxReaction(g.general, ids[1], "👍")+"/@me", auth(owner), nil), 204, -1)
	path := "/api/v10/channels/" + g.general + "/messages/bulk-delete"
	stored := func() int {
		return e.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1`, id64(t, g.general))
	}

	// A message older than 14 days, as if written then (now-15d is in this
	// month or the previous one, whose partitions exist).
	old := int64(snowflake.FromTime(time.Now().Add(-15*24*time.Hour))) + 7
	if _, err := e.store.Pool().Exec(t.Context(), `INSERT INTO messages (id, channel_id, guild_id, author_id, content)
		VALUES ($1, $2, $3, $4, 'ancient')`, old, id64(t, g.general), id64(t, g.id), id64(t, member.id)); err != nil {
		t.Fatal(err)
	}
	oldID := strconv.FormatInt(old, 10)

	body := func(ids ...string) map[string]any { return map[string]any{"messages": ids} }
	deleted := since(t, "MESSAGE_DELETE_BULK", g.general)
	// Every failure writes nothing.
	expect(t, e.do(t, "POST", path, auth(member), body(ids[0], ids[1])), 403, 50013)
	expect(t, e.do(t, "POST", path, auth(lurker), body(ids[0], ids[1])), 403, 50001)
	fieldError(t, e.do(t, "POST", path, auth(owner), body(ids[0])), "messages")
	fieldError(t, e.do(t, "POST", path, auth(owner), map[string]any{}), "messages")
	fieldError(t, e.do(t, "POST", path, auth(owner), body(ids[0], ids[0])), "messages")
	fieldError(t, e.do(t, "POST", path, auth(owner), body(ids[0], "abc")), "messages.1")
	many := make([]string, 101)
	for i := range many {
		many[i] = strconv.Itoa(1_000_000 + i)
	}
	fieldError(t, e.do(t, "POST", path, auth(owner), body(many...)), "messages")
	expect(t, e.do(t, "POST", path, auth(owner), body(ids[0], oldID)), 400, 50034)
	if n := stored(); n != 6 {
		t.Fatalf("%d messages after failed bulk deletes, want 6", n)
	}
	if len(deleted()) != 0 {
		t.Fatal("a failed bulk delete emitted an event")
	}

	// Ids of other channels and unknown ids count but are ignored (an
	// unknown id must still be recent: its age is its timestamp's).
	unknown := strconv.FormatInt(int64(snowflake.FromTime(time.Now()))+3, 10)
	expect(t, e.do(t, "POST", path, auth(owner), body(ids[2], ids[0], ids[1], foreign, unknown)), 204, -1)
	wantRecipients(t, "MESSAGE_DELETE_BULK", deleted(), owner, member)
	ev := rxData(t, deleted()[0].Data)
	var got []string
	for _, id := range ev["ids"].([]any) {
		got = append(got, id.(string))
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(ids[:3]))
	if !slices.Equal(got, want) || ev["channel_id"] != g.general || ev["guild_id"] != g.id {
		t.Fatalf("MESSAGE_DELETE_BULK: %v, want ids %v", ev, want)
	}
	if n := stored(); n != 3 {
		t.Fatalf("%d messages left, want 3", n)
	}
	if n := e.count(t, `SELECT count(*) FROM messages WHERE id = $1`, id64(t, foreign)); n != 1 {
		t.Fatal("bulk delete reached another channel's message")
	}
	if n := e.count(t, `SELECT count(*) FROM reactions WHERE message_id = $1`, id64(t, ids[1])); n != 0 {
		t.Fatalf("%d reactions of a deleted message left", n)
	}
	expect(t, e.do(t, "GET", rxMessagePath(g.general, ids[0]), auth(owner), nil), 404, 10008)
	// Only unknown ids: nothing to delete, no event.
	expect(t, e.do(t, "POST", path, auth(owner), body(ids[0], ids[1])), 204, -1)
	if len(deleted()) != 1 {
		t.Fatal("deleting nothing emitted an event")
	}
	// A role with MANAGE_MESSAGES may bulk delete others' messages.
	mod := e.mbRole(t, g, owner, map[string]any{"name": "mod", "permissions": strconv.Itoa(permManageMessage)})
	e.mbGive(t, g, owner, member.id, mod["id"].(string))
	mine := e.rxSend(t, owner, g.general, "owner's")
	expect(t, e.do(t, "POST", path, auth(member), body(ids[3], mine)), 204, -1)
	if n := stored(); n != 2 { // ids[4] and the old one
		t.Fatalf("%d messages left, want 2", n)
	}
}

func TestBulkDeleteInDM(t *testing.T) {
	e := testEnv(t)
	a, b := e.register(t), e.register(t)
	dm := e.rxDM(t, a, b)
	m1, m2 := e.rxSend(t, a, dm, "one"), e.rxSend(t, a, dm, "two")
	expect(t, e.do(t, "POST", "/api/v10/channels/"+dm+"/messages/bulk-delete", auth(a),
		map[string]any{"messages": []string{m1, m2}}), 403, 50003)
	if n := e.count(t, `SELECT count(*) FROM messages WHERE channel_id = $1`, id64(t, dm)); n != 2 {
		t.Fatalf("%d DM messages left, want 2", n)
	}
}
