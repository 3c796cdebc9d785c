package rest_test

import (
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accordchat/accord/snowflake"
)

// Helpers of the reaction, pin and bulk-delete tests (prefixed rx).

const (
	permAddReactions  = 1 << 6
	permManageMessage = 1 << 13
	permReadHistory   = 1 << 16
	permPinMessages   = 1 << 51
)

// rxMessagePath is the path of a message.
func rxMessagePath(channel, message string) string {
	return "/api/v10/channels/" + channel + "/messages/" + message
}

// rxReaction is the path of emoji's reactions on a message, emoji escaped as
// clients send it.
func rxReaction(channel, message, emoji string) string {
	return rxMessagePath(channel, message) + "/reactions/" + url.PathEscape(emoji)
}

// rxSend sends content as who and returns the message id.
func (e *env) rxSend(t *testing.T, who account, channel, content string) string {
	t.Helper()
	return expect(t, e.send(t, who, channel, map[string]any{"content": content}), 200, -1).body["id"].(string)
}

// rxOverwrite sets a permission overwrite on channel as who.
func (e *env) rxOverwrite(t *testing.T, who account, channel, target string, typ int, allow, deny uint64) {
	t.Helper()
	expect(t, e.do(t, "PUT", "/api/v10/channels/"+channel+"/permissions/"+target, auth(who), map[string]any{
		"type": typ, "allow": strconv.FormatUint(allow, 10), "deny": strconv.FormatUint(deny, 10)}), 204, -1)
}

// rxHider makes a member of g who cannot view g's #general.
func (e *env) rxHider(t *testing.T, g guild) account {
	t.Helper()
	lurker := e.register(t)
	e.join(t, g, lurker)
	e.rxOverwrite(t, g.owner, g.general, lurker.id, 1, 0, permView)
	return lurker
}

var rxDMSeq atomic.Int64

// rxDM makes a 1:1 DM channel of a and b (sharing a guild) in the store and
// returns its id.
func (e *env) rxDM(t *testing.T, a, b account) string {
	t.Helper()
	// A 1:1 DM needs a guild in common to send in.
	e.join(t, e.createGuild(t, a, "dm common ground"), b)
	// Worker 0 is never leased to the test node's generator: no collision.
	id := int64(snowflake.FromTime(time.Now())) + rxDMSeq.Add(1)
	ch, _, err := e.store.DMChannelFor(t.Context(), id64(t, a.id), id64(t, b.id), id)
	if err != nil {
		t.Fatal(err)
	}
	return strconv.FormatInt(ch, 10)
}

// rxData decodes an event's payload.
func rxData(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := jsonUnmarshal(string(raw), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func rxUserIDs(users []map[string]any) string {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u["id"].(string)
	}
	return strings.Join(ids, ",")
}

func TestReactions(t *testing.T) {
	e := testEnv(t)
	owner, member := e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Reactions")
	e.join(t, g, member)
	lurker := e.rxHider(t, g)
	msg := e.rxSend(t, owner, g.general, "react to me")
	thumbs := rxReaction(g.general, msg, "👍")

	// Add: 204 with no body, the event to the viewers only.
	added := since(t, "MESSAGE_REACTION_ADD", g.general)
	r := expect(t, e.do(t, "PUT", thumbs+"/@me", auth(member), nil), 204, -1)
	if r.raw != "" {
		t.Fatalf("204 with a body: %q", r.raw)
	}
	wantRecipients(t, "MESSAGE_REACTION_ADD", added(), owner, member)
	ev := rxData(t, added()[0].Data)
	em := ev["emoji"].(map[string]any)
	if ev["user_id"] != member.id || ev["message_id"] != msg || ev["channel_id"] != g.general || ev["guild_id"] != g.id ||
		ev["message_author_id"] != owner.id || ev["burst"] != false || ev["type"] != 0.0 ||
		em["name"] != "👍" || em["id"] != nil || ev["member"].(map[string]any)["user"].(map[string]any)["id"] != member.id {
		t.Fatalf("MESSAGE_REACTION_ADD: %s", added()[0].Data)
	}
	// Idempotent: again is 204 and no event.
	expect(t, e.do(t, "PUT", thumbs+"/@me", auth(member), nil), 204, -1)
	if n := len(added()); n != 1 {
		t.Fatalf("a repeated reaction emitted %d events", n)
	}
	expect(t, e.do(t, "PUT", thumbs+"/@me", auth(owner), nil), 204, -1)
	// Custom emoji: name:id, sent raw (discordgo) or escaped (discord.js);
	// a:name:id and another name for the same id are the same emoji.
	expect(t, e.do(t, "PUT", rxMessagePath(g.general, msg)+"/reactions/party_blob:1234567890/@me", auth(member), nil), 204, -1)
	expect(t, e.do(t, "PUT", rxReaction(g.general, msg, "a:other_name:1234567890")+"/@me", auth(owner), nil), 204, -1)
	ev = rxData(t, added()[len(added())-1].Data)
	if em := ev["emoji"].(map[string]any); em["id"] != "1234567890" || em["name"] != "party_blob" {
		t.Fatalf("custom emoji event: %v", ev)
	}

	// Messages carry their reactions, "me" per viewer.
	got := expect(t, e.do(t, "GET", rxMessagePath(g.general, msg), auth(member), nil), 200, -1).body
	rs, _ := got["reactions"].([]any)
	if len(rs) != 2 {
		t.Fatalf("reactions: %v", got["reactions"])
	}
	first, second := rs[0].(map[string]any), rs[1].(map[string]any)
	if first["count"] != 2.0 || first["me"] != true || first["me_burst"] != false ||
		first["emoji"].(map[string]any)["name"] != "👍" || first["emoji"].(map[string]any)["id"] != nil ||
		first["count_details"].(map[string]any)["normal"] != 2.0 || first["burst_colors"] == nil {
		t.Fatalf("first reaction: %v", first)
	}
	if second["count"] != 2.0 || second["emoji"].(map[string]any)["id"] != "1234567890" {
		t.Fatalf("second reaction: %v", second)
	}
	hist := e.list(t, "GET", "/api/v10/channels/"+g.general+"/messages?limit=1", owner, 200)
	if rs := hist[0]["reactions"].([]any); len(rs) != 2 || rs[0].(map[string]any)["me"] != true {
		t.Fatalf("history reactions: %v", hist[0]["reactions"])
	}

	// Who reacted: by user id, paged by after and limit.
	users := e.list(t, "GET", thumbs, member, 200)
	want := owner.id + "," + member.id
	if id64(t, member.id) < id64(t, owner.id) {
		want = member.id + "," + owner.id
	}
	if rxUserIDs(users) != want || users[0]["username"] == nil {
		t.Fatalf("reaction users %v, want %s", users, want)
	}
	firstID, _, _ := strings.Cut(want, ",")
	if got := rxUserIDs(e.list(t, "GET", thumbs+"?limit=1", member, 200)); got != firstID {
		t.Fatalf("limit=1: %s", got)
	}
	if got := rxUserIDs(e.list(t, "GET", thumbs+"?after="+firstID, member, 200)); got+","+firstID != want && firstID+","+got != want {
		t.Fatalf("after: %s", got)
	}
	if got := e.list(t, "GET", rxReaction(g.general, msg, "other:1234567890"), member, 200); len(got) != 2 {
		t.Fatalf("custom emoji users by another name: %v", got)
	}
	if got := e.list(t, "GET", rxReaction(g.general, msg, "🎉"), member, 200); len(got) != 0 {
		t.Fatalf("users of an unused emoji: %v", got)
	}
	if got := e.list(t, "GET", thumbs+"?type=1", member, 200); len(got) != 0 {
		t.Fatalf("burst users: %v", got)
	}
	expect(t, e.do(t, "GET", thumbs+"?limit=101", auth(member), nil), 400, 50035)

	// Remove one's own: MESSAGE_REACTION_REMOVE.
	removed := since(t, "MESSAGE_REACTION_REMOVE", g.general)
	expect(t, e.do(t, "DELETE", thumbs+"/@me", auth(member), nil), 204, -1)
	wantRecipients(t, "MESSAGE_REACTION_REMOVE", removed(), owner, member)
	if ev := rxData(t, removed()[0].Data); ev["user_id"] != member.id || ev["emoji"].(map[string]any)["name"] != "👍" || ev["guild_id"] != g.id {
		t.Fatalf("MESSAGE_REACTION_REMOVE: %v", ev)
	}
	expect(t, e.do(t, "DELETE", thumbs+"/@me", auth(member), nil), 204, -1) // nothing left: no event
	if len(removed()) != 1 {
		t.Fatal("removing a missing reaction emitted an event")
	}
	if got := rxUserIDs(e.list(t, "GET", thumbs, member, 200)); got != owner.id {
		t.Fatalf("after removal: %s", got)
	}
	// Someone else's takes MANAGE_MESSAGES; one's own by id does not.
	expect(t, e.do(t, "DELETE", thumbs+"/"+owner.id, auth(member), nil), 403, 50013)
	expect(t, e.do(t, "PUT", thumbs+"/@me", auth(member), nil), 204, -1)
	expect(t, e.do(t, "DELETE", thumbs+"/"+member.id, auth(member), nil), 204, -1)
	expect(t, e.do(t, "DELETE", rxReaction(g.general, msg, "party_blob:1234567890")+"/"+member.id, auth(owner), nil), 204, -1)
	if ev := rxData(t, removed()[len(removed())-1].Data); ev["user_id"] != member.id || ev["emoji"].(map[string]any)["id"] != "1234567890" {
		t.Fatalf("removing another's reaction: %v", ev)
	}
	expect(t, e.do(t, "DELETE", thumbs+"/notanid", auth(owner), nil), 404, 10013)

	// Remove one emoji, then all: MANAGE_MESSAGES.
	expect(t, e.do(t, "PUT", thumbs+"/@me", auth(member), nil), 204, -1)
	expect(t, e.do(t, "PUT", rxReaction(g.general, msg, "🎉")+"/@me", auth(member), nil), 204, -1)
	expect(t, e.do(t, "DELETE", thumbs, auth(member), nil), 403, 50013)
	expect(t, e.do(t, "DELETE", rxMessagePath(g.general, msg)+"/reactions", auth(member), nil), 403, 50013)
	emojiGone := since(t, "MESSAGE_REACTION_REMOVE_EMOJI", g.general)
	expect(t, e.do(t, "DELETE", thumbs, auth(owner), nil), 204, -1)
	wantRecipients(t, "MESSAGE_REACTION_REMOVE_EMOJI", emojiGone(), owner, member)
	if ev := rxData(t, emojiGone()[0].Data); ev["message_id"] != msg || ev["guild_id"] != g.id || ev["emoji"].(map[string]any)["name"] != "👍" {
		t.Fatalf("MESSAGE_REACTION_REMOVE_EMOJI: %v", ev)
	}
	if n := e.count(t, `SELECT count(*) FROM reactions WHERE message_id = $1 AND emoji = '👍'`, id64(t, msg)); n != 0 {
		t.Fatalf("%d 👍 left", n)
	}
	allGone := since(t, "MESSAGE_REACTION_REMOVE_ALL", g.general)
	expect(t, e.do(t, "DELETE", rxMessagePath(g.general, msg)+"/reactions", auth(owner), nil), 204, -1)
	wantRecipients(t, "MESSAGE_REACTION_REMOVE_ALL", allGone(), owner, member)
	if ev := rxData(t, allGone()[0].Data); ev["message_id"] != msg || ev["channel_id"] != g.general || ev["guild_id"] != g.id {
		t.Fatalf("MESSAGE_REACTION_REMOVE_ALL: %v", ev)
	}
	if n := e.count(t, `SELECT count(*) FROM reactions WHERE message_id = $1`, id64(t, msg)); n != 0 {
		t.Fatalf("%d reactions left", n)
	}
	got = expect(t, e.do(t, "GET", rxMessagePath(g.general, msg), auth(member), nil), 200, -1).body
	if _, ok := got["reactions"]; ok {
		t.Fatalf("reactions after removing all: %v", got["reactions"])
	}
	expect(t, e.do(t, "DELETE", rxMessagePath(g.general, msg)+"/reactions", auth(owner), nil), 204, -1)
	if len(allGone()) != 1 {
		t.Fatal("removing no reactions emitted an event")
	}

	// Who cannot view the channel learns nothing.
	expect(t, e.do(t, "PUT", thumbs+"/@me", auth(lurker), nil), 403, 50001)
	expect(t, e.do(t, "GET", thumbs, auth(lurker), nil), 403, 50001)
	expect(t, e.do(t, "DELETE", thumbs+"/@me", auth(lurker), nil), 403, 50001)
	// Unknown messages, and messages of another channel.
	other := e.createGuild(t, owner, "Elsewhere")
	expect(t, e.do(t, "PUT", rxReaction(g.general, "1234567890123", "👍")+"/@me", auth(member), nil), 404, 10008)
	expect(t, e.do(t, "PUT", rxReaction(other.general, msg, "👍")+"/@me", auth(owner), nil), 404, 10008)
	expect(t, e.do(t, "GET", rxReaction(other.general, msg, "👍"), auth(owner), nil), 404, 10008)
	expect(t, e.do(t, "DELETE", rxReaction(other.general, msg, "👍"), auth(owner), nil), 404, 10008)
	expect(t, e.do(t, "DELETE", rxMessagePath(other.general, msg)+"/reactions", auth(owner), nil), 404, 10008)
	if n := e.count(t, `SELECT count(*) FROM reactions WHERE message_id = $1`, id64(t, msg)); n != 0 {
		t.Fatalf("%d reactions written by failed calls", n)
	}
}

func TestReactionEmojiValidation(t *testing.T) {
	e := testEnv(t)
	owner := e.register(t)
	g := e.createGuild(t, owner, "Emoji")
	msg := e.rxSend(t, owner, g.general, "emoji")
	for _, bad := range []string{"hello", "a", "x 👍", "👍 ", ":thumbsup:", "thumbs:up", "x:123", "name:", ":123",
		"name:12a", "bad-name:123", "12", "é", "\u200d", "👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍", "1\u20e3x"} {
		expect(t, e.do(t, "PUT", rxReaction(g.general, msg, bad)+"/@me", auth(owner), nil), 400, 10014)
		expect(t, e.do(t, "GET", rxReaction(g.general, msg, bad), auth(owner), nil), 400, 10014)
		expect(t, e.do(t, "DELETE", rxReaction(g.general, msg, bad)+"/@me", auth(owner), nil), 400, 10014)
		expect(t, e.do(t, "DELETE", rxReaction(g.general, msg, bad), auth(owner), nil), 400, 10014)
	}
	for _, good := range []string{"👍🏽", "❤️", "1️⃣", "#⃣", "🇫🇷", "👨‍👩‍👧‍👦", "©️", "ok_hand2:98765432101234567"} {
		expect(t, e.do(t, "PUT", rxReaction(g.general, msg, good)+"/@me", auth(owner), nil), 204, -1)
	}
	if n := e.count(t, `SELECT count(*) FROM reactions WHERE message_id = $1`, id64(t, msg)); n != 8 {
		t.Fatalf("%d reactions stored, want 8", n)
	}
}

func TestReactionPermissions(t *testing.T) {
	e := testEnv(t)
	owner, member := e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Reaction rules")
	e.join(t, g, member)
	msg := e.rxSend(t, owner, g.general, "rules")
	party := rxReaction(g.general, msg, "🎉")
	// Without ADD_REACTIONS a member cannot start a reaction, but may join
	// one that exists.
	e.rxOverwrite(t, owner, g.general, g.id, 0, 0, permAddReactions)
	expect(t, e.do(t, "PUT", party+"/@me", auth(member), nil), 403, 50013)
	expect(t, e.do(t, "PUT", party+"/@me", auth(owner), nil), 204, -1)
	expect(t, e.do(t, "PUT", party+"/@me", auth(member), nil), 204, -1)
	expect(t, e.do(t, "PUT", rxReaction(g.general, msg, "🚀")+"/@me", auth(member), nil), 403, 50013)
	// Without READ_MESSAGE_HISTORY, neither reacting nor listing.
	e.rxOverwrite(t, owner, g.general, g.id, 0, 0, permAddReactions|permReadHistory)
	expect(t, e.do(t, "DELETE", party+"/@me", auth(member), nil), 204, -1)
	expect(t, e.do(t, "PUT", party+"/@me", auth(member), nil), 403, 50013)
	expect(t, e.do(t, "GET", party, auth(member), nil), 403, 50013)
	// A role with MANAGE_MESSAGES may moderate reactions.
	e.rxOverwrite(t, owner, g.general, g.id, 0, 0, 0)
	expect(t, e.do(t, "PUT", party+"/@me", auth(member), nil), 204, -1)
	expect(t, e.do(t, "DELETE", party+"/"+owner.id, auth(member), nil), 403, 50013)
	mod := e.mbRole(t, g, owner, map[string]any{"name": "mod", "permissions": strconv.Itoa(permManageMessage)})
	e.mbGive(t, g, owner, member.id, mod["id"].(string))
	expect(t, e.do(t, "DELETE", party+"/"+owner.id, auth(member), nil), 204, -1)
	if got := rxUserIDs(e.list(t, "GET", party, member, 200)); got != member.id {
		t.Fatalf("reactors %s, want only the member", got)
	}
	expect(t, e.do(t, "DELETE", party, auth(member), nil), 204, -1)
	if n := e.count(t, `SELECT count(*) FROM reactions WHERE message_id = $1`, id64(t, msg)); n != 0 {
		t.Fatalf("%d reactions left", n)
	}
}

func TestReactionLimit(t *testing.T) {
	e := testEnv(t)
	owner, member := e.register(t), e.register(t)
	g := e.createGuild(t, owner, "Twenty")
	e.join(t, g, member)
	msg := e.rxSend(t, owner, g.general, "many")
	emoji := func(i int) string { return string(rune(0x1F600 + i)) }
	for i := range 20 {
		expect(t, e.do(t, "PUT", rxReaction(g.general, msg, emoji(i))+"/@me", auth(owner), nil), 204, -1)
	}
	expect(t, e.do(t, "PUT", rxReaction(g.general, msg, emoji(20))+"/@me", auth(member), nil), 400, 30010)
	expect(t, e.do(t, "PUT", rxReaction(g.general, msg, "custom:42424242")+"/@me", auth(owner), nil), 400, 30010)
	// Joining one of the twenty is fine.
	expect(t, e.do(t, "PUT", rxReaction(g.general, msg, emoji(7))+"/@me", auth(member), nil), 204, -1)
	if n := e.count(t, `SELECT count(DISTINCT emoji) FROM reactions WHERE message_id = $1`, id64(t, msg)); n != 20 {
		t.Fatalf("%d distinct emoji, want 20", n)
	}
}

func TestReactionsInDM(t *testing.T) {
	e := testEnv(t)
	a, b, c := e.register(t), e.register(t), e.register(t)
	dm := e.rxDM(t, a, b)
	msg := e.rxSend(t, a, dm, "hi")
	thumbs := rxReaction(dm, msg, "👍")
	added := since(t, "MESSAGE_REACTION_ADD", dm)
	expect(t, e.do(t, "PUT", thumbs+"/@me", auth(b), nil), 204, -1)
	wantRecipients(t, "MESSAGE_REACTION_ADD", added(), a, b)
	if ev := rxData(t, added()[0].Data); ev["guild_id"] != nil || ev["member"] != nil || ev["user_id"] != b.id {
		t.Fatalf("DM MESSAGE_REACTION_ADD: %v", ev)
	}
	expect(t, e.do(t, "PUT", thumbs+"/@me", auth(c), nil), 403, 50001)
	// Only one's own reactions can be removed in a DM.
	expect(t, e.do(t, "DELETE", thumbs+"/"+b.id, auth(a), nil), 403, 50003)
	expect(t, e.do(t, "DELETE", thumbs, auth(a), nil), 403, 50003)
	expect(t, e.do(t, "DELETE", rxMessagePath(dm, msg)+"/reactions", auth(a), nil), 403, 50003)
	if got := rxUserIDs(e.list(t, "GET", thumbs, a, 200)); got != b.id {
		t.Fatalf("DM reactors: %s", got)
	}
	expect(t, e.do(t, "DELETE", thumbs+"/"+b.id, auth(b), nil), 204, -1)
	if n := e.count(t, `SELECT count(*) FROM reactions WHERE message_id = $1`, id64(t, msg)); n != 0 {
		t.Fatalf("%d reactions left", n)
	}
}
